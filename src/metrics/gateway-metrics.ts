import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DROP_REASONS } from '../connections/delivery-counters.js';
import { TRANSPORTS } from '../connections/open-connections.js';
import type { InstanceStats } from '../core/instance-stats.js';
import { InstanceStatsBuilder } from '../core/instance-stats.builder.js';
import { LiveUpdateRelay } from '../outbound/live-update-relay.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';

/**
 * How often the event-loop delay histogram samples. prom-client's 10 ms wakes an idle instance 100
 * times a second (measured: 6 ms of CPU per second with no traffic at all); at 100 ms the lag
 * percentiles stay meaningful for a scrape every few seconds and the idle wakeups drop tenfold.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Prefix of this service's own metrics; Node's default metrics keep their usual names. */
export const METRIC_PREFIX = 'task_status_gateway_';

/**
 * Seconds from a Redis message's arrival until its frame is queued for its sockets (written in the
 * same event-loop turn): sub-millisecond to one second.
 */
export const DELIVERY_DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** No task list in a scrape: per-task series would be unbounded, and ranking walks every task. */
const SCRAPE_TASK_LIMIT = 0;

/**
 * The Prometheus view of one application, in a Registry of its own (several applications may
 * share a process, as in the tests). Every metric's `collect()` reads one InstanceStats taken
 * at scrape time, so the delivery path pays nothing for them and a scrape is consistent; only
 * the delivery histogram is fed per routed update, from the subscriber's `delivered` event.
 */
@Injectable()
export class GatewayMetrics implements OnModuleInit, OnModuleDestroy {
  readonly registry = new Registry();
  private readonly deliveryDuration: Histogram;
  /** The stats of the scrape under way; see render(). */
  private scraped: InstanceStats | undefined;
  private readonly onDelivered = (_taskId: string, recipients: number, seconds: number): void => {
    if (recipients > 0) this.deliveryDuration.observe(seconds);
  };

  constructor(
    private readonly instanceStats: InstanceStatsBuilder,
    private readonly relay: LiveUpdateRelay,
    private readonly redisStatus: RedisSubscriptionStatus,
  ) {
    this.deliveryDuration = new Histogram({
      name: `${METRIC_PREFIX}delivery_duration_seconds`,
      help: 'Time from the arrival of a Redis message to its last WebSocket write, for updates written to at least one socket.',
      buckets: DELIVERY_DURATION_BUCKETS,
      registers: [],
    });
    this.register();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  onModuleInit(): void {
    this.relay.events.on('delivered', this.onDelivered);
  }

  onModuleDestroy(): void {
    this.relay.events.off('delivered', this.onDelivered);
  }

  /** The exposition text of every metric of this application, from one snapshot of the stats. */
  async render(): Promise<string> {
    // prom-client calls each metric's collect() in turn; they all read this one snapshot.
    this.scraped = this.instanceStats.build(SCRAPE_TASK_LIMIT);
    try {
      return await this.registry.metrics();
    } finally {
      this.scraped = undefined;
    }
  }

  /** The snapshot of render(), or a fresh one when the registry is read directly. */
  private stats(): InstanceStats {
    return this.scraped ?? this.instanceStats.build(SCRAPE_TASK_LIMIT);
  }

  private register(): void {
    const registers = [this.registry];
    const stats = () => this.stats();
    collectDefaultMetrics({
      register: this.registry,
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });

    gauge(registers, 'connections', 'Open WebSocket connections.', () => stats().total_connections);
    gauge(
      registers,
      'subscriptions',
      'Subscriptions held, as (connection, task) pairs.',
      () => stats().total_subscriptions,
    );
    gauge(
      registers,
      'tasks_with_subscribers',
      'Distinct tasks with at least one subscriber on this instance.',
      () => stats().tasks_with_subscribers,
    );
    gauge(
      registers,
      'group_subscriptions',
      'Group subscriptions held, as (connection, group) pairs.',
      () => stats().groups.subscriptions,
    );
    gauge(
      registers,
      'groups_with_subscribers',
      'Distinct groups with at least one subscriber on this instance.',
      () => stats().groups.with_subscribers,
    );
    counter(
      registers,
      'group_snapshots_delivered_total',
      'Stored task states sent to clients right after a group subscribe.',
      () => stats().groups.snapshots_delivered,
    );
    gauge(
      registers,
      'accepting_connections',
      '1 while new WebSocket connections are admitted, 0 once shutdown has begun.',
      () => (stats().accepting_connections ? 1 : 0),
    );
    gauge(
      registers,
      'redis_subscriber_up',
      '1 when the Redis subscriber is connected and subscribed to the channel, else 0.',
      () => (stats().redis.status === 'connected' ? 1 : 0),
    );
    new Gauge({
      name: `${METRIC_PREFIX}redis_pubsub_mode`,
      help: 'REDIS_PUBSUB_MODE as a label: 1 for the mode in use (channel or sharded).',
      labelNames: ['mode'],
      registers,
      collect() {
        this.reset();
        this.set({ mode: stats().redis.pubsub_mode }, 1);
      },
    });
    gauge(
      registers,
      'redis_shard_channels',
      'Task and group shard channels subscribed in sharded mode, those in grace included (0 in channel mode).',
      () => stats().redis.shard_channels?.held ?? 0,
    );
    gauge(
      registers,
      'redis_shard_channels_in_grace',
      'Task and group shard channels kept for REDIS_UNSUBSCRIBE_GRACE_MS after their last watcher here left.',
      () => stats().redis.shard_channels?.in_grace ?? 0,
    );
    counter(
      registers,
      'redis_ssubscribe_commands_total',
      'SSUBSCRIBE commands sent (one per partition and batch) in sharded mode.',
      () => stats().redis.shard_channels?.ssubscribe_commands ?? 0,
    );
    counter(
      registers,
      'redis_sunsubscribe_commands_total',
      'SUNSUBSCRIBE commands sent (one per partition and batch) in sharded mode.',
      () => stats().redis.shard_channels?.sunsubscribe_commands ?? 0,
    );
    // Per primary of a Redis Cluster (no series on a single Redis); the node set changes with
    // failovers, so each scrape sets exactly the current ones.
    const nodes = this.redisStatus.nodes;
    new Gauge({
      name: `${METRIC_PREFIX}redis_node_subscribed`,
      help: 'Per Redis Cluster primary: 1 when every shard channel of this instance on it is subscribed (or none lives there), else 0.',
      labelNames: ['node', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [node, status] of nodes) {
          const up = status.state === 'subscribed' || status.state === 'idle';
          this.set({ node, state: status.state }, up ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}redis_node_canary_round_trip_seconds`,
      help: 'Per Redis Cluster primary: round trip of the last data-path canary through it (absent before the first).',
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        for (const [node, status] of nodes) {
          if (status.canaryRoundTripMs !== undefined) {
            this.set({ node }, status.canaryRoundTripMs / 1000);
          }
        }
      },
    });
    counter(
      registers,
      'redis_resubscriptions_total',
      'Times the Redis subscription was re-established after being lost.',
      () => stats().redis.resubscriptions,
    );
    counter(
      registers,
      'redis_messages_received_total',
      'Messages received on the Redis channel, well-formed or not.',
      () => stats().messages.received,
    );
    counter(
      registers,
      'redis_messages_routed_total',
      'Well-formed updates for a task with at least one subscriber on this instance.',
      () => stats().messages.routed,
    );
    counter(
      registers,
      'redis_messages_unrouted_total',
      'Well-formed updates for a task nobody on this instance watches.',
      () => stats().messages.unrouted,
    );
    counter(
      registers,
      'redis_messages_dropped_total',
      'Malformed Redis messages dropped, by reason.',
      () => {
        const dropped = stats().messages.dropped_by_reason;
        return DROP_REASONS.map((reason) => [reason, dropped[reason]]);
      },
    );
    counter(
      registers,
      'frames_delivered_total',
      'status_update frames written to WebSocket connections (at once, or once no longer held back).',
      () => stats().frames_delivered,
    );
    // The two above, split by transport; their own names, so that the unlabelled ones stay as they are.
    byTransport(
      registers,
      'Gauge',
      'transport_connections',
      'Open connections, by transport (websocket, sse).',
      (transport) => stats().transports[transport].connections,
    );
    byTransport(
      registers,
      'Counter',
      'transport_frames_delivered_total',
      'status_update frames written, by transport (websocket, sse).',
      (transport) => stats().transports[transport].frames_delivered,
    );
    // Every reason ConnectionAdmission counts, so that new ones appear without a change here.
    counter(registers, 'connections_refused_total', 'WebSocket upgrades refused, by reason.', () =>
      Object.entries(stats().connections_refused),
    );
    counter(
      registers,
      'messages_rate_limited_total',
      'Client messages (and protocol pings) over their connection rate, answered rate_limited unread.',
      () => stats().rate_limited.messages,
    );
    counter(
      registers,
      'rate_limit_closes_total',
      'Connections closed with 1008 for sending past their rate after repeated rate_limited answers.',
      () => stats().rate_limited.closed_connections,
    );
    counter(
      registers,
      'heartbeat_terminations_total',
      'Connections terminated for a missed heartbeat pong.',
      () => stats().heartbeat_terminations,
    );
    counter(
      registers,
      'updates_superseded_total',
      'Updates or snapshots not delivered because a newer or terminal state was already delivered, by reason.',
      () => Object.entries(stats().messages.superseded),
    );
    counter(
      registers,
      'slow_consumers_total',
      'Sockets whose send buffer passed WS_BACKPRESSURE_BYTES, so that their frames were held back.',
      () => stats().slow_consumers.detected,
    );
    counter(
      registers,
      'frames_coalesced_total',
      'Held-back frames of slow sockets replaced by a newer state of the same task.',
      () => stats().slow_consumers.frames_coalesced,
    );
    counter(
      registers,
      'frames_dropped_total',
      'Held-back frames of slow sockets never written: the socket closed, or its subscription to the task ended.',
      () => stats().slow_consumers.frames_dropped,
    );
    counter(
      registers,
      'slow_consumer_closes_total',
      'Slow sockets closed with 1013 past WS_SLOW_CLIENT_MAX_BYTES.',
      () => stats().slow_consumers.closed,
    );
    counter(
      registers,
      'snapshots_delivered_total',
      'Stored task states sent to a client right after it subscribed.',
      () => stats().snapshots.delivered,
    );
    counter(
      registers,
      'resyncs_total',
      'Resyncs of the watched tasks after the Redis subscription was re-established.',
      () => stats().resyncs.completed,
    );
    gauge(
      registers,
      'redis_data_path_up',
      '1 while data-path canaries come back through Redis in time, 0 while one is overdue.',
      () => (stats().redis.data_path === 'ok' ? 1 : 0),
    );
    gauge(
      registers,
      'redis_canary_round_trip_seconds',
      'Round trip of the last data-path canary through Redis (0 before the first).',
      () => (stats().redis.canary_round_trip_ms ?? 0) / 1000,
    );
    this.registry.registerMetric(this.deliveryDuration);
  }
}

/** A gauge whose value is read at scrape time. */
function gauge(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name: `${METRIC_PREFIX}${name}`,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/** A gauge or a counter with one series per transport, read at scrape time. */
function byTransport(
  registers: Registry[],
  kind: 'Gauge' | 'Counter',
  name: string,
  help: string,
  read: (transport: (typeof TRANSPORTS)[number]) => number,
): void {
  const options = { name: `${METRIC_PREFIX}${name}`, help, labelNames: ['transport'], registers };
  if (kind === 'Gauge') {
    new Gauge({
      ...options,
      collect() {
        for (const transport of TRANSPORTS) this.set({ transport }, read(transport));
      },
    });
    return;
  }
  new Counter({
    ...options,
    collect() {
      this.reset();
      for (const transport of TRANSPORTS) this.inc({ transport }, read(transport));
    },
  });
}

/**
 * A counter copied at scrape time from a plain, monotonic number, or from one number per
 * `reason` label. prom-client counters have no setter, hence a reset and one increment each.
 */
function counter(
  registers: Registry[],
  name: string,
  help: string,
  read: () => number | [reason: string, value: number][],
): void {
  const labelled = Array.isArray(read());
  new Counter({
    name: `${METRIC_PREFIX}${name}`,
    help,
    labelNames: labelled ? ['reason'] : [],
    registers,
    collect() {
      this.reset();
      const value = read();
      if (!Array.isArray(value)) {
        this.inc(value);
        return;
      }
      for (const [reason, count] of value) this.inc({ reason }, count);
    },
  });
}
