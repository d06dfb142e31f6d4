import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { OpenConnections } from '../connections/open-connections.js';
import { InstanceStatsBuilder } from './instance-stats.builder.js';
import { ReportedLimits } from './reported-limits.js';
import { systemClock } from '../clock/clock.js';
import { ShardChannelSubscriptions } from '../outbound/shard-channel-subscriptions.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';

function build(pubsubMode: 'channel' | 'sharded' = 'channel', clusterNodes: string[] = []) {
  const registry = new ConnectionRegistry<WebSocket>();
  const counters = new DeliveryCounters();
  const admission = new ConnectionAdmission();
  const status = new RedisSubscriptionStatus();
  const rateLimits = new RateLimitCounters();
  const limits = new ReportedLimits();
  const redisOptions = resolveRedisOptions({ channel: 'updates', pubsubMode, clusterNodes });
  const shardChannels = new ShardChannelSubscriptions(
    new TaskChannelLayout(redisOptions),
    registry,
    redisOptions,
    systemClock,
  );
  const open = new OpenConnections();
  const builder = new InstanceStatsBuilder(
    registry,
    counters,
    admission,
    status,
    rateLimits,
    limits,
    redisOptions,
    'gateway-1',
    shardChannels,
    open,
  );
  return {
    builder,
    registry,
    counters,
    admission,
    status,
    rateLimits,
    limits,
    shardChannels,
    open,
  };
}

/** Three tasks watched by 3, 2 and 1 connections. */
function watch(registry: ConnectionRegistry<WebSocket>): void {
  const [a, b, c] = [{}, {}, {}] as WebSocket[];
  registry.subscribe(a, 'task-1');
  registry.subscribe(b, 'task-1');
  registry.subscribe(c, 'task-1');
  registry.subscribe(a, 'task-2');
  registry.subscribe(b, 'task-2');
  registry.subscribe(a, 'task-3');
}

describe('InstanceStatsBuilder', () => {
  it('reads the registry, the counters and the Redis status into the /ws/stats shape', () => {
    // Arrange
    const { builder, registry, counters, admission, status, rateLimits, limits, open } = build();
    watch(registry);
    open.count('websocket', () => 2);
    open.count('sse', () => 1);
    counters.eventStreamFramesDelivered = 3;
    counters.messagesReceived = 10;
    counters.updatesRouted = 6;
    counters.updatesUnrouted = 2;
    counters.dropped.invalid_json = 2;
    counters.superseded.stale = 1;
    counters.snapshotsDelivered = 4;
    counters.snapshotReadErrors = 1;
    counters.snapshotsInvalid = 2;
    counters.resyncs = 1;
    counters.resyncedUpdates = 3;
    counters.framesDelivered = 8;
    counters.heartbeatTerminations = 1;
    counters.slowConsumers = 2;
    counters.framesCoalesced = 5;
    counters.framesDropped = 6;
    counters.slowConsumerCloses = 1;
    admission.countRefusal('origin');
    rateLimits.messagesLimited = 7;
    rateLimits.connectionsClosed = 1;
    limits.set('max_connections', 100);
    status.markSubscribed();
    status.recordCanary(12, Date.UTC(2026, 0, 2, 3, 4, 5));
    status.recordError(new Error('boom'));

    // Act
    const stats = builder.report(2, counters.startedAt + 61_400);

    // Assert
    assert.deepEqual(stats, {
      total_connections: 3,
      total_subscriptions: 6,
      tasks_with_subscribers: 3,
      connections_per_task: { 'task-1': 3, 'task-2': 2 },
      connections_per_task_limit: 2,
      connections_per_task_truncated: true,
      instance_id: 'gateway-1',
      uptime_seconds: 61,
      redis: {
        status: 'connected',
        state: 'subscribed',
        channel: 'updates',
        pubsub_mode: 'channel',
        shard_channels: null,
        nodes: null,
        resubscriptions: 0,
        data_path: 'ok',
        canary_round_trip_ms: 12,
        last_canary_at: '2026-01-02T03:04:05.000Z',
        last_error: 'boom',
      },
      messages: {
        received: 10,
        routed: 6,
        unrouted: 2,
        dropped: 2,
        dropped_by_reason: {
          invalid_json: 2,
          not_an_object: 0,
          missing_task_id: 0,
          invalid_task_id: 0,
          wrong_channel: 0,
        },
        superseded: { stale: 1, after_terminal: 0, snapshot: 0 },
      },
      snapshots: { delivered: 4, read_errors: 1, invalid: 2 },
      resyncs: { completed: 1, updates_delivered: 3 },
      frames_delivered: 8,
      transports: {
        websocket: { connections: 2, frames_delivered: 5 },
        sse: { connections: 1, frames_delivered: 3 },
      },
      connections_refused: { limit: 0, origin: 1, shutting_down: 0, auth: 0, per_ip: 0 },
      heartbeat_terminations: 1,
      slow_consumers: { detected: 2, frames_coalesced: 5, frames_dropped: 6, closed: 1 },
      rate_limited: { messages: 7, closed_connections: 1 },
      limits: { max_connections: 100 },
      groups: { subscriptions: 0, with_subscribers: 0, snapshots_delivered: 0 },
    });
  });

  it('reports the shard channels in sharded mode', async () => {
    // Arrange
    const { builder, registry, shardChannels } = build('sharded');
    watch(registry);
    const commands: string[] = [];
    const connection = {
      ssubscribe: (...channels: string[]) => Promise.resolve(commands.push(...channels)),
      sunsubscribe: () => Promise.resolve(0),
    };

    // Act
    await shardChannels.attach(connection, ['updates:{0}:__canary__']);
    const stats = builder.report(0);

    // Assert: the canary's channel is a command of its own, not a task channel held.
    assert.equal(stats.redis.pubsub_mode, 'sharded');
    assert.equal(commands.length, 4);
    assert.deepEqual(stats.redis.shard_channels, {
      held: 3,
      in_grace: 0,
      ssubscribe_commands: shardChannels.counts.ssubscribeCommands,
      sunsubscribe_commands: 0,
    });
    assert.ok(shardChannels.counts.ssubscribeCommands >= 2);
  });

  it('reports each primary of a Redis Cluster as /health does, in host:port order', () => {
    // Arrange
    const { builder, status } = build('sharded', ['127.0.0.1:7001']);
    const before = builder.report(0).redis.nodes;
    status.setNodes(['127.0.0.1:7002', '127.0.0.1:7001', '127.0.0.1:7003']);
    status.markNode('127.0.0.1:7001', 'subscribed');
    status.recordNodeCanary('127.0.0.1:7001', 3);
    status.markNode('127.0.0.1:7002', 'down');
    status.markNodeStalled('127.0.0.1:7002');
    status.markNode('127.0.0.1:7003', 'idle');

    // Act
    const nodes = builder.report(0).redis.nodes;

    // Assert
    assert.deepEqual(before, {});
    assert.deepEqual(Object.keys(nodes ?? {}), [
      '127.0.0.1:7001',
      '127.0.0.1:7002',
      '127.0.0.1:7003',
    ]);
    assert.deepEqual(nodes, {
      '127.0.0.1:7001': { state: 'subscribed', data_path: 'ok', canary_round_trip_ms: 3 },
      '127.0.0.1:7002': { state: 'down', data_path: 'stalled', canary_round_trip_ms: null },
      '127.0.0.1:7003': { state: 'idle', data_path: 'ok', canary_round_trip_ms: null },
    });
  });

  it('counts group subscriptions apart from the task ones', () => {
    // Arrange
    const { builder, registry, counters } = build();
    const [a, b] = [{}, {}] as WebSocket[];
    registry.subscribe(a, 'task-1');
    registry.subscribeGroup(a, 'g1');
    registry.subscribeGroup(b, 'g1');
    registry.subscribeGroup(b, 'g2');
    counters.snapshotsDelivered = 5;
    counters.groupSnapshotsDelivered = 3;

    // Act
    const stats = builder.report(10);

    // Assert
    assert.deepEqual(stats.groups, {
      subscriptions: 3,
      with_subscribers: 2,
      snapshots_delivered: 3,
    });
    assert.equal(stats.total_subscriptions, 1);
    assert.equal(stats.tasks_with_subscribers, 1);
    assert.equal(stats.snapshots.delivered, 5);
  });

  it('reports a Redis link that is down, before any canary, as nulls', () => {
    // Arrange
    const { builder, status } = build();
    status.markSubscribed();
    status.markDisconnected();
    status.markDataPathStalled();

    // Act
    const { redis } = builder.report(0);

    // Assert
    assert.equal(redis.status, 'disconnected');
    assert.equal(redis.state, 'disconnected');
    assert.equal(redis.data_path, 'stalled');
    assert.equal(redis.canary_round_trip_ms, null);
    assert.equal(redis.last_canary_at, null);
    assert.equal(redis.last_error, null);
  });

  it('adds whether connections are admitted to the full snapshot only', () => {
    // Arrange
    const { builder, admission } = build();
    admission.close();

    // Act
    const stats = builder.build(0);
    const report = builder.report(0);

    // Assert
    assert.equal(stats.accepting_connections, false);
    assert.equal('accepting_connections' in report, false);
    assert.deepEqual(stats, { ...report, accepting_connections: false });
  });

  it('lists no tasks for a limit of 0, and says the list is cut short', () => {
    // Arrange
    const { builder, registry } = build();
    watch(registry);

    // Act
    const stats = builder.build(0);

    // Assert
    assert.deepEqual(stats.connections_per_task, {});
    assert.equal(stats.connections_per_task_truncated, true);
    assert.equal(stats.tasks_with_subscribers, 3);
  });

  it('copies the counters, so a snapshot does not move afterwards', () => {
    // Arrange
    const { builder, counters, admission, limits } = build();
    const stats = builder.build(0);

    // Act
    counters.dropped.invalid_json += 1;
    counters.superseded.stale += 1;
    admission.countRefusal('limit');
    limits.set('max_connections', 5);

    // Assert
    assert.equal(stats.messages.dropped_by_reason.invalid_json, 0);
    assert.equal(stats.messages.superseded.stale, 0);
    assert.equal(stats.connections_refused.limit, 0);
    assert.deepEqual(stats.limits, {});
  });
});
