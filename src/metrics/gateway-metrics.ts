import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters, DROP_REASONS } from '../connections/delivery-counters.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { LiveUpdateRelay } from '../outbound/live-update-relay.js';

/** Prefix of this service's own metrics; Node's default metrics keep their usual names. */
export const METRIC_PREFIX = 'task_status_gateway_';

/**
 * Seconds from a Redis message's arrival until its frame is queued for its sockets (written in the
 * same event-loop turn): sub-millisecond to one second.
 */
export const DELIVERY_DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/**
 * The Prometheus view of one application, in a Registry of its own (several applications may
 * share a process, as in the tests). Counters are read from the plain counters in `collect()`,
 * at scrape time, so the delivery path pays nothing for them; only the delivery histogram is
 * fed per routed update, from the subscriber's `delivered` event.
 */
@Injectable()
export class GatewayMetrics implements OnModuleInit, OnModuleDestroy {
  readonly registry = new Registry();
  private readonly deliveryDuration: Histogram;
  private readonly onDelivered = (_taskId: string, recipients: number, seconds: number): void => {
    if (recipients > 0) this.deliveryDuration.observe(seconds);
  };

  constructor(
    private readonly connections: ConnectionRegistry<WebSocket>,
    private readonly counters: DeliveryCounters,
    private readonly admission: ConnectionAdmission,
    private readonly redisStatus: RedisSubscriptionStatus,
    private readonly relay: LiveUpdateRelay,
    private readonly rateLimits: RateLimitCounters,
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

  /** The exposition text of every metric of this application. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  private register(): void {
    const registers = [this.registry];
    const { connections, counters, admission, redisStatus, rateLimits } = this;
    collectDefaultMetrics({ register: this.registry });

    gauge(
      registers,
      'connections',
      'Open WebSocket connections.',
      () => connections.connectionCount,
    );
    gauge(
      registers,
      'subscriptions',
      'Subscriptions held, as (connection, task) pairs.',
      () => connections.subscriptionCount,
    );
    gauge(
      registers,
      'tasks_with_subscribers',
      'Distinct tasks with at least one subscriber on this instance.',
      () => connections.taskCount,
    );
    gauge(
      registers,
      'accepting_connections',
      '1 while new WebSocket connections are admitted, 0 once shutdown has begun.',
      () => (admission.accepting ? 1 : 0),
    );
    gauge(
      registers,
      'redis_subscriber_up',
      '1 when the Redis subscriber is connected and subscribed to the channel, else 0.',
      () => (redisStatus.isUp ? 1 : 0),
    );
    counter(
      registers,
      'redis_resubscriptions_total',
      'Times the Redis subscription was re-established after being lost.',
      () => redisStatus.resubscriptions,
    );
    counter(
      registers,
      'redis_messages_received_total',
      'Messages received on the Redis channel, well-formed or not.',
      () => counters.messagesReceived,
    );
    counter(
      registers,
      'redis_messages_routed_total',
      'Well-formed updates for a task with at least one subscriber on this instance.',
      () => counters.updatesRouted,
    );
    counter(
      registers,
      'redis_messages_unrouted_total',
      'Well-formed updates for a task nobody on this instance watches.',
      () => counters.updatesUnrouted,
    );
    counter(
      registers,
      'redis_messages_dropped_total',
      'Malformed Redis messages dropped, by reason.',
      () => DROP_REASONS.map((reason) => [reason, counters.dropped[reason]]),
    );
    counter(
      registers,
      'frames_delivered_total',
      'status_update frames written to WebSocket connections (at once, or once no longer held back).',
      () => counters.framesDelivered,
    );
    // Every reason ConnectionAdmission counts, so that new ones appear without a change here.
    counter(registers, 'connections_refused_total', 'WebSocket upgrades refused, by reason.', () =>
      Object.entries(admission.refused),
    );
    counter(
      registers,
      'messages_rate_limited_total',
      'Client messages (and protocol pings) over their connection rate, answered rate_limited unread.',
      () => rateLimits.messagesLimited,
    );
    counter(
      registers,
      'rate_limit_closes_total',
      'Connections closed with 1008 for sending past their rate after repeated rate_limited answers.',
      () => rateLimits.connectionsClosed,
    );
    counter(
      registers,
      'heartbeat_terminations_total',
      'Connections terminated for a missed heartbeat pong.',
      () => counters.heartbeatTerminations,
    );
    counter(
      registers,
      'updates_superseded_total',
      'Updates or snapshots not delivered because a newer or terminal state was already delivered, by reason.',
      () => Object.entries(counters.superseded),
    );
    counter(
      registers,
      'slow_consumers_total',
      'Sockets whose send buffer passed WS_BACKPRESSURE_BYTES, so that their frames were held back.',
      () => counters.slowConsumers,
    );
    counter(
      registers,
      'frames_coalesced_total',
      'Held-back frames of slow sockets replaced by a newer state of the same task.',
      () => counters.framesCoalesced,
    );
    counter(
      registers,
      'frames_dropped_total',
      'Held-back frames of slow sockets discarded because the socket closed or was closed as slow.',
      () => counters.framesDroppedOnClose,
    );
    counter(
      registers,
      'slow_consumer_closes_total',
      'Slow sockets closed with 1013 past WS_SLOW_CLIENT_MAX_BYTES.',
      () => counters.slowConsumerCloses,
    );
    counter(
      registers,
      'snapshots_delivered_total',
      'Stored task states sent to a client right after it subscribed.',
      () => counters.snapshotsDelivered,
    );
    counter(
      registers,
      'resyncs_total',
      'Resyncs of the watched tasks after the Redis subscription was re-established.',
      () => counters.resyncs,
    );
    gauge(
      registers,
      'redis_data_path_up',
      '1 while data-path canaries come back through Redis in time, 0 while one is overdue.',
      () => (redisStatus.dataPathHealthy ? 1 : 0),
    );
    gauge(
      registers,
      'redis_canary_round_trip_seconds',
      'Round trip of the last data-path canary through Redis (0 before the first).',
      () => (redisStatus.canaryRoundTripMs ?? 0) / 1000,
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
