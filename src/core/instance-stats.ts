import type { DeliveryCounters, DropReason } from '../connections/delivery-counters.js';
import type { RefusalReason } from '../connections/connection-admission.js';
import type { RedisLinkState, RedisNodeState } from '../redis/redis-subscription-status.js';
import type { PubSubMode } from '@task-status/client/sharded-layout';
import type { Transport } from '../connections/open-connections.js';

/** The subscriber's task channels in `sharded` mode (the canary's channel is not counted). */
export interface ShardChannelStats {
  /** Task channels subscribed now, those in grace included. */
  held: number;
  /** Of those, channels whose last watcher here left, kept for `REDIS_UNSUBSCRIBE_GRACE_MS`. */
  in_grace: number;
  /** SSUBSCRIBE commands sent since the start (one per partition and batch, the canary's too). */
  ssubscribe_commands: number;
  /** SUNSUBSCRIBE commands sent since the start (one per partition and batch). */
  sunsubscribe_commands: number;
}

/** One Redis Cluster primary as the subscriber sees it (as in /health's `checks.redis.nodes`). */
export interface RedisNodeStats {
  state: RedisNodeState;
  /** `stalled` while this primary's canary is overdue. */
  data_path: 'ok' | 'stalled';
  /** The last canary's round trip through this primary; `null` before the first. */
  canary_round_trip_ms: number | null;
}

/** One transport's share of the connections and of `frames_delivered`. */
export interface TransportStats {
  connections: number;
  frames_delivered: number;
}

/** The body of `GET /ws/stats` for one instance; every field is in docs/operations.md#stats. */
export interface InstanceStatsReport {
  total_connections: number;
  total_subscriptions: number;
  tasks_with_subscribers: number;
  /** The `connections_per_task_limit` busiest tasks, by subscriber count. */
  connections_per_task: Record<string, number>;
  connections_per_task_limit: number;
  /** True when more tasks have subscribers than are listed. */
  connections_per_task_truncated: boolean;
  instance_id: string;
  uptime_seconds: number;
  redis: {
    status: 'connected' | 'disconnected';
    state: RedisLinkState;
    channel: string;
    /** `REDIS_PUBSUB_MODE`. */
    pubsub_mode: PubSubMode;
    /** The per-task and per-group shard channels, in `sharded` mode; `null` in `channel` mode. */
    shard_channels: ShardChannelStats | null;
    /** On a Redis Cluster, each primary by `host:port`; `null` on a single Redis. */
    nodes: Record<string, RedisNodeStats> | null;
    resubscriptions: number;
    data_path: 'ok' | 'stalled';
    canary_round_trip_ms: number | null;
    /** ISO 8601. */
    last_canary_at: string | null;
    last_error: string | null;
  };
  messages: {
    received: number;
    routed: number;
    unrouted: number;
    dropped: number;
    dropped_by_reason: Record<DropReason, number>;
    superseded: DeliveryCounters['superseded'];
  };
  snapshots: { delivered: number; read_errors: number; invalid: number };
  resyncs: { completed: number; updates_delivered: number };
  frames_delivered: number;
  /** The connections and frames above, split by transport (WebSocket, Server-Sent Events). */
  transports: Record<Transport, TransportStats>;
  connections_refused: Record<RefusalReason, number>;
  heartbeat_terminations: number;
  slow_consumers: {
    detected: number;
    frames_coalesced: number;
    frames_dropped: number;
    closed: number;
  };
  rate_limited: { messages: number; closed_connections: number };
  limits: Record<string, number>;
  /**
   * Group subscriptions (docs/protocol.md#groups), apart from `total_subscriptions` (tasks):
   * held, distinct groups with a subscriber here, and stored states sent after a group subscribe
   * (also counted in `snapshots.delivered`).
   */
  groups: { subscriptions: number; with_subscribers: number; snapshots_delivered: number };
}

/**
 * Everything this instance reports about itself, read at one moment: the `/ws/stats` body plus
 * what only the heartbeat and /metrics show.
 */
export interface InstanceStats extends InstanceStatsReport {
  /** Not in `/ws/stats`, whose shape predates it (readiness is `/health`'s answer). */
  accepting_connections: boolean;
}
