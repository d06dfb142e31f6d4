import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it, mock } from 'node:test';
import type { WebSocket } from 'ws';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { OpenConnections } from '../connections/open-connections.js';
import { InstanceStatsBuilder } from '../core/instance-stats.builder.js';
import { ReportedLimits } from '../core/reported-limits.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import type { LiveUpdateRelay } from '../outbound/live-update-relay.js';
import { GatewayMetrics, METRIC_PREFIX } from './gateway-metrics.js';
import { systemClock } from '../clock/clock.js';
import { ShardChannelSubscriptions } from '../outbound/shard-channel-subscriptions.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';

function build(pubsubMode: 'channel' | 'sharded' = 'channel') {
  const registry = new ConnectionRegistry<WebSocket>();
  const counters = new DeliveryCounters();
  const admission = new ConnectionAdmission();
  const status = new RedisSubscriptionStatus();
  const events = new EventEmitter();
  const relay = { events } as unknown as LiveUpdateRelay;
  const rateLimits = new RateLimitCounters();
  const redisOptions = resolveRedisOptions({ channel: 'task_status_updates', pubsubMode });
  const instanceStats = new InstanceStatsBuilder(
    registry,
    counters,
    admission,
    status,
    rateLimits,
    new ReportedLimits(),
    redisOptions,
    'metrics-spec',
    new ShardChannelSubscriptions(
      new TaskChannelLayout(redisOptions),
      registry,
      redisOptions,
      systemClock,
    ),
    new OpenConnections(),
  );
  const gatewayMetrics = new GatewayMetrics(instanceStats, relay, status);
  return {
    gatewayMetrics,
    instanceStats,
    registry,
    counters,
    admission,
    status,
    events,
    rateLimits,
  };
}

/** The value of one sample line, `name{labels} value`, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GatewayMetrics', () => {
  it('reads the plain counters at scrape time', async () => {
    // Arrange
    const { gatewayMetrics, registry, counters, admission, status, rateLimits } = build();
    const socket = {} as WebSocket;
    registry.subscribe(socket, 'task-a');
    registry.subscribe(socket, 'task-b');
    registry.subscribeGroup(socket, 'group-a');
    counters.groupSnapshotsDelivered = 4;
    counters.messagesReceived = 7;
    counters.updatesRouted = 3;
    counters.updatesUnrouted = 2;
    counters.dropped.invalid_json = 2;
    counters.framesDelivered = 5;
    counters.framesCoalesced = 6;
    counters.framesDropped = 8;
    counters.heartbeatTerminations = 1;
    admission.countRefusal('origin');
    admission.countRefusal('limit');
    admission.countRefusal('limit');
    admission.countRefusal('per_ip');
    rateLimits.messagesLimited = 4;
    rateLimits.connectionsClosed = 1;
    counters.superseded.stale = 3;
    counters.slowConsumers = 2;
    counters.slowConsumerCloses = 1;
    counters.snapshotsDelivered = 9;
    counters.resyncs = 1;
    status.markSubscribed();
    status.recordCanary(250);

    // Act
    const text = await gatewayMetrics.render();

    // Assert
    const p = METRIC_PREFIX;
    assert.equal(sample(text, `${p}connections`), 1);
    assert.equal(sample(text, `${p}subscriptions`), 2);
    assert.equal(sample(text, `${p}tasks_with_subscribers`), 2);
    assert.equal(sample(text, `${p}group_subscriptions`), 1);
    assert.equal(sample(text, `${p}groups_with_subscribers`), 1);
    assert.equal(sample(text, `${p}group_snapshots_delivered_total`), 4);
    assert.equal(sample(text, `${p}redis_subscriber_up`), 1);
    assert.equal(sample(text, `${p}accepting_connections`), 1);
    assert.equal(sample(text, `${p}redis_messages_received_total`), 7);
    assert.equal(sample(text, `${p}redis_messages_routed_total`), 3);
    assert.equal(sample(text, `${p}redis_messages_unrouted_total`), 2);
    assert.equal(sample(text, `${p}redis_messages_dropped_total{reason="invalid_json"}`), 2);
    assert.equal(sample(text, `${p}redis_messages_dropped_total{reason="not_an_object"}`), 0);
    assert.equal(sample(text, `${p}frames_delivered_total`), 5);
    assert.equal(sample(text, `${p}frames_coalesced_total`), 6);
    assert.equal(sample(text, `${p}frames_dropped_total`), 8);
    assert.equal(sample(text, `${p}heartbeat_terminations_total`), 1);
    assert.equal(sample(text, `${p}connections_refused_total{reason="limit"}`), 2);
    assert.equal(sample(text, `${p}connections_refused_total{reason="origin"}`), 1);
    assert.equal(sample(text, `${p}connections_refused_total{reason="shutting_down"}`), 0);
    assert.equal(sample(text, `${p}connections_refused_total{reason="per_ip"}`), 1);
    assert.equal(sample(text, `${p}messages_rate_limited_total`), 4);
    assert.equal(sample(text, `${p}rate_limit_closes_total`), 1);
    assert.equal(sample(text, `${p}updates_superseded_total{reason="stale"}`), 3);
    assert.equal(sample(text, `${p}updates_superseded_total{reason="after_terminal"}`), 0);
    assert.equal(sample(text, `${p}slow_consumers_total`), 2);
    assert.equal(sample(text, `${p}slow_consumer_closes_total`), 1);
    assert.equal(sample(text, `${p}snapshots_delivered_total`), 9);
    assert.equal(sample(text, `${p}resyncs_total`), 1);
    assert.equal(sample(text, `${p}redis_resubscriptions_total`), 0);
    assert.equal(sample(text, `${p}redis_data_path_up`), 1);
    assert.equal(sample(text, `${p}redis_canary_round_trip_seconds`), 0.25);
    assert.equal(sample(text, `${p}redis_pubsub_mode{mode="channel"}`), 1);
    assert.equal(sample(text, `${p}redis_shard_channels`), 0);
    assert.equal(sample(text, `${p}redis_ssubscribe_commands_total`), 0);
    assert.match(text, /^# TYPE task_status_gateway_frames_delivered_total counter$/m);
    assert.match(text, /^# TYPE task_status_gateway_connections gauge$/m);
    assert.ok(sample(text, 'process_cpu_user_seconds_total') !== undefined, 'default metrics');
  });

  it('follows the counters between scrapes instead of accumulating them', async () => {
    // Arrange
    const { gatewayMetrics, counters, status, admission } = build();
    counters.messagesReceived = 4;
    await gatewayMetrics.render();
    counters.messagesReceived = 9;
    status.markSubscribed();
    status.markDisconnected();
    admission.close();

    // Act
    const text = await gatewayMetrics.render();

    // Assert
    assert.equal(sample(text, `${METRIC_PREFIX}redis_messages_received_total`), 9);
    assert.equal(sample(text, `${METRIC_PREFIX}redis_subscriber_up`), 0);
    assert.equal(sample(text, `${METRIC_PREFIX}accepting_connections`), 0);
  });

  it('reports each Redis Cluster primary with a node label, and none on a single Redis', async () => {
    // Arrange
    const { gatewayMetrics, status } = build();
    const single = await gatewayMetrics.render();
    status.setNodes(['127.0.0.1:7001', '127.0.0.1:7002']);
    status.markNode('127.0.0.1:7001', 'subscribed');
    status.markNode('127.0.0.1:7002', 'down');
    status.recordNodeCanary('127.0.0.1:7001', 40);

    // Act
    const text = await gatewayMetrics.render();
    status.setNodes(['127.0.0.1:7001']);
    const afterFailover = await gatewayMetrics.render();

    // Assert
    const p = METRIC_PREFIX;
    assert.doesNotMatch(single, /redis_node_subscribed\{/);
    assert.equal(
      sample(text, `${p}redis_node_subscribed{node="127.0.0.1:7001",state="subscribed"}`),
      1,
    );
    assert.equal(sample(text, `${p}redis_node_subscribed{node="127.0.0.1:7002",state="down"}`), 0);
    assert.equal(
      sample(text, `${p}redis_node_canary_round_trip_seconds{node="127.0.0.1:7001"}`),
      0.04,
    );
    assert.equal(
      sample(text, `${p}redis_node_canary_round_trip_seconds{node="127.0.0.1:7002"}`),
      undefined,
    );
    assert.doesNotMatch(afterFailover, /7002/);
  });

  it('builds one stats snapshot per scrape, without the task list', async () => {
    // Arrange
    const { gatewayMetrics, instanceStats } = build();
    const built = mock.method(instanceStats, 'build');

    // Act
    await gatewayMetrics.render();

    // Assert
    assert.equal(built.mock.callCount(), 1);
    assert.equal(built.mock.calls[0].arguments[0], 0);
  });

  it('observes the delivery histogram from delivered events with recipients', async () => {
    // Arrange
    const { gatewayMetrics, events } = build();
    gatewayMetrics.onModuleInit();

    // Act
    events.emit('delivered', 'task-a', 3, 0.0003);
    events.emit('delivered', 'task-b', 1, 0.002);
    events.emit('delivered', 'task-c', 0, 0.5); // nobody was written to: not a delivery
    const text = await gatewayMetrics.render();

    // Assert
    const h = `${METRIC_PREFIX}delivery_duration_seconds`;
    assert.equal(sample(text, `${h}_count`), 2);
    assert.equal(sample(text, `${h}_bucket{le="0.0005"}`), 1);
    assert.equal(sample(text, `${h}_bucket{le="0.0025"}`), 2);
    assert.equal(sample(text, `${h}_bucket{le="+Inf"}`), 2);
    assert.ok(Math.abs((sample(text, `${h}_sum`) ?? 0) - 0.0023) < 1e-9);
  });

  it('stops listening when the module is destroyed', () => {
    // Arrange
    const { gatewayMetrics, events } = build();
    gatewayMetrics.onModuleInit();
    assert.equal(events.listenerCount('delivered'), 1);

    // Act
    gatewayMetrics.onModuleDestroy();

    // Assert
    assert.equal(events.listenerCount('delivered'), 0);
  });

  it('keeps each instance in its own registry', async () => {
    // Arrange
    const first = build();
    const second = build();
    first.counters.framesDelivered = 11;

    // Act
    const [firstText, secondText] = await Promise.all([
      first.gatewayMetrics.render(),
      second.gatewayMetrics.render(),
    ]);

    // Assert
    assert.equal(sample(firstText, `${METRIC_PREFIX}frames_delivered_total`), 11);
    assert.equal(sample(secondText, `${METRIC_PREFIX}frames_delivered_total`), 0);
  });

  it('names every metric by the Prometheus conventions', async () => {
    // Arrange
    const { gatewayMetrics } = build();

    // Act
    const text = await gatewayMetrics.render();

    // Assert
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({
      name,
      type,
    }));
    const own = types.filter(({ name }) => name.startsWith(METRIC_PREFIX));
    assert.ok(own.length >= 14, `${own.length} metrics`);
    for (const { name, type } of own) {
      assert.match(name, /^[a-z_][a-z0-9_]*$/, name);
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} has help`);
      if (type === 'counter') assert.match(name, /_total$/, name);
      else assert.doesNotMatch(name, /_total$/, name);
      if (type === 'histogram') assert.match(name, /_seconds$/, name);
    }
  });
});
