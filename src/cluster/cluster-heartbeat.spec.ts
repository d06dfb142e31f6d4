import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { OpenConnections } from '../connections/open-connections.js';
import { InstanceStatsBuilder } from '../core/instance-stats.builder.js';
import { parseInstanceHeartbeat } from '../core/instance-heartbeat.js';
import { ReportedLimits } from '../core/reported-limits.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import type { RedisCommandClient } from '../redis/redis-command-client.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { ClusterHeartbeat } from './cluster-heartbeat.js';
import { systemClock } from '../clock/clock.js';
import { ShardChannelSubscriptions } from '../outbound/shard-channel-subscriptions.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';

function build() {
  const registry = new ConnectionRegistry<WebSocket>();
  const counters = new DeliveryCounters();
  const admission = new ConnectionAdmission();
  const status = new RedisSubscriptionStatus();
  const redisOptions = resolveRedisOptions({ channel: 'updates' });
  const instanceStats = new InstanceStatsBuilder(
    registry,
    counters,
    admission,
    status,
    new RateLimitCounters(),
    new ReportedLimits(),
    redisOptions,
    'gateway-1',
    new ShardChannelSubscriptions(
      new TaskChannelLayout(redisOptions),
      registry,
      redisOptions,
      systemClock,
    ),
    new OpenConnections(),
  );
  // snapshot() never touches Redis.
  const redis = {} as RedisCommandClient;
  const heartbeat = new ClusterHeartbeat(
    { heartbeatIntervalMs: 2_000 },
    'gateway-1',
    instanceStats,
    redis,
  );
  return { heartbeat, registry, counters, admission, status };
}

describe('ClusterHeartbeat.snapshot', () => {
  it('publishes the instance stats in the heartbeat format', () => {
    // Arrange
    const { heartbeat, registry, counters, status } = build();
    const [a, b] = [{}, {}] as WebSocket[];
    registry.subscribe(a, 'task-1');
    registry.subscribe(b, 'task-1');
    registry.subscribe(a, 'task-2');
    status.markSubscribed();
    const now = counters.startedAt + 30_000;

    // Act
    const snapshot = heartbeat.snapshot(now);

    // Assert
    assert.deepEqual(snapshot, {
      v: 1,
      instance_id: 'gateway-1',
      channel: 'updates',
      sent_at: now,
      interval_ms: 2_000,
      ttl_ms: 6_000,
      uptime_seconds: 30,
      accepting_connections: true,
      total_connections: 2,
      total_subscriptions: 3,
      tasks_with_subscribers: 2,
      connections_per_task: { 'task-1': 2, 'task-2': 1 },
      connections_per_task_truncated: false,
      redis: { status: 'connected', state: 'subscribed', data_path: 'ok' },
    });
    assert.deepEqual(parseInstanceHeartbeat(JSON.stringify(snapshot)), snapshot);
  });

  it('says when the instance stopped admitting connections and its data path stalled', () => {
    // Arrange
    const { heartbeat, admission, status } = build();
    admission.close();
    status.markDataPathStalled();

    // Act
    const snapshot = heartbeat.snapshot();

    // Assert
    assert.equal(snapshot.accepting_connections, false);
    assert.deepEqual(snapshot.redis, {
      status: 'disconnected',
      state: 'connecting',
      data_path: 'stalled',
    });
  });
});
