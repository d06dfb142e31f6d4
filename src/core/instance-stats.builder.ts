import { Inject, Injectable } from '@nestjs/common';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { ShardChannelSubscriptions } from '../outbound/shard-channel-subscriptions.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { REDIS_OPTIONS, type ResolvedRedisOptions } from '../redis/redis-options.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import type { TaskSubscriber } from '../outbound/event-stream-subscriber.js';
import { OpenConnections } from '../connections/open-connections.js';
import type {
  InstanceStats,
  InstanceStatsReport,
  RedisNodeStats,
  ShardChannelStats,
} from './instance-stats.js';
import { ReportedLimits } from './reported-limits.js';
import { INSTANCE_ID } from './task-status-core.module-definition.js';

/**
 * Reads the registry and the plain counters into one typed snapshot, for `/ws/stats`, the
 * cluster heartbeat and /metrics alike. Called per request, heartbeat or scrape; the delivery
 * path keeps incrementing plain fields and never calls it.
 */
@Injectable()
export class InstanceStatsBuilder {
  constructor(
    private readonly registry: ConnectionRegistry<TaskSubscriber>,
    private readonly counters: DeliveryCounters,
    private readonly admission: ConnectionAdmission,
    private readonly redisStatus: RedisSubscriptionStatus,
    private readonly rateLimits: RateLimitCounters,
    private readonly limits: ReportedLimits,
    @Inject(REDIS_OPTIONS) private readonly redisOptions: ResolvedRedisOptions,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    private readonly shardChannels: ShardChannelSubscriptions,
    private readonly open: OpenConnections,
  ) {}

  /**
   * Everything, for the heartbeat and /metrics.
   * @param taskLimit busiest tasks to list in `connections_per_task`; 0 skips the ranking, which
   *   walks every watched task.
   * @param now the clock the uptime is measured against, ms since the epoch.
   */
  build(taskLimit: number, now = Date.now()): InstanceStats {
    return { ...this.report(taskLimit, now), accepting_connections: this.admission.accepting };
  }

  /** The `/ws/stats` body: everything but what that endpoint has never shown. */
  report(taskLimit: number, now = Date.now()): InstanceStatsReport {
    const { registry, counters, redisStatus } = this;
    const top = registry.topTasks(taskLimit);
    return {
      total_connections: registry.connectionCount,
      total_subscriptions: registry.subscriptionCount,
      tasks_with_subscribers: registry.taskCount,
      connections_per_task: Object.fromEntries(
        top.map((entry) => [entry.taskId, entry.connections]),
      ),
      connections_per_task_limit: taskLimit,
      connections_per_task_truncated: top.length < registry.taskCount,
      instance_id: this.instanceId,
      uptime_seconds: Math.round((now - counters.startedAt) / 1000),
      redis: {
        status: redisStatus.isUp ? 'connected' : 'disconnected',
        state: redisStatus.state,
        channel: this.redisOptions.channel,
        pubsub_mode: this.redisOptions.pubsubMode,
        shard_channels: this.shardChannelStats(),
        nodes: this.nodeStats(),
        resubscriptions: redisStatus.resubscriptions,
        data_path: redisStatus.dataPathHealthy ? 'ok' : 'stalled',
        canary_round_trip_ms: redisStatus.canaryRoundTripMs ?? null,
        last_canary_at: toIsoOrNull(redisStatus.lastCanaryAt),
        last_error: redisStatus.lastError ?? null,
      },
      messages: {
        received: counters.messagesReceived,
        routed: counters.updatesRouted,
        unrouted: counters.updatesUnrouted,
        dropped: counters.messagesDropped,
        // Copies: the snapshot must not move when the counters do.
        dropped_by_reason: { ...counters.dropped },
        superseded: { ...counters.superseded },
      },
      snapshots: {
        delivered: counters.snapshotsDelivered,
        read_errors: counters.snapshotReadErrors,
        invalid: counters.snapshotsInvalid,
      },
      resyncs: { completed: counters.resyncs, updates_delivered: counters.resyncedUpdates },
      frames_delivered: counters.framesDelivered,
      transports: {
        websocket: {
          connections: this.open.of('websocket'),
          frames_delivered: counters.framesDelivered - counters.eventStreamFramesDelivered,
        },
        sse: {
          connections: this.open.of('sse'),
          frames_delivered: counters.eventStreamFramesDelivered,
        },
      },
      connections_refused: { ...this.admission.refused },
      heartbeat_terminations: counters.heartbeatTerminations,
      slow_consumers: {
        detected: counters.slowConsumers,
        frames_coalesced: counters.framesCoalesced,
        frames_dropped: counters.framesDropped,
        closed: counters.slowConsumerCloses,
      },
      rate_limited: {
        messages: this.rateLimits.messagesLimited,
        closed_connections: this.rateLimits.connectionsClosed,
      },
      limits: this.limits.snapshot(),
      groups: {
        subscriptions: registry.groupSubscriptionCount,
        with_subscribers: registry.groupCount,
        snapshots_delivered: counters.groupSnapshotsDelivered,
      },
    };
  }

  private shardChannelStats(): ShardChannelStats | null {
    const shards = this.shardChannels;
    if (!shards.enabled) return null;
    return {
      held: shards.channelCount,
      in_grace: shards.graceCount,
      ssubscribe_commands: shards.counts.ssubscribeCommands,
      sunsubscribe_commands: shards.counts.sunsubscribeCommands,
    };
  }

  /** The primaries in `host:port` order, as /health lists them; `{}` on a cluster not yet read. */
  private nodeStats(): Record<string, RedisNodeStats> | null {
    if (this.redisOptions.clusterNodes.length === 0) return null;
    const nodes: Record<string, RedisNodeStats> = {};
    for (const [node, status] of [...this.redisStatus.nodes].sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      nodes[node] = {
        state: status.state,
        data_path: status.dataPathHealthy ? 'ok' : 'stalled',
        canary_round_trip_ms: status.canaryRoundTripMs ?? null,
      };
    }
    return nodes;
  }
}

function toIsoOrNull(epochMs: number | undefined): string | null {
  return epochMs === undefined ? null : new Date(epochMs).toISOString();
}
