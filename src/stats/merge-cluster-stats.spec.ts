import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceHeartbeat } from '../core/instance-heartbeat.js';
import { mergeClusterStats, type HeartbeatReading } from './merge-cluster-stats.js';

function reading(
  instanceId: string,
  counts: { connections: number; subscriptions: number; tasks: Record<string, number> },
  { truncated = false, ageMs = 100 }: { truncated?: boolean; ageMs?: number | null } = {},
): HeartbeatReading {
  const heartbeat: InstanceHeartbeat = {
    v: 1,
    instance_id: instanceId,
    channel: 'task_status_updates',
    sent_at: 0,
    interval_ms: 5_000,
    ttl_ms: 15_000,
    uptime_seconds: 10,
    accepting_connections: true,
    total_connections: counts.connections,
    total_subscriptions: counts.subscriptions,
    tasks_with_subscribers: Object.keys(counts.tasks).length + (truncated ? 1 : 0),
    connections_per_task: counts.tasks,
    connections_per_task_truncated: truncated,
    redis: { status: 'connected', state: 'subscribed', data_path: 'ok' },
  };
  return { heartbeat, ageMs };
}

describe('mergeClusterStats', () => {
  it('sums the totals and lists each instance, ordered by id', () => {
    // Arrange
    const readings = [
      reading('gw-b', { connections: 2, subscriptions: 3, tasks: { t1: 1, t2: 2 } }),
      reading('gw-a', { connections: 4, subscriptions: 5, tasks: { t1: 3 } }, { ageMs: null }),
    ];

    // Act
    const stats = mergeClusterStats(readings, { limit: 100, answeredBy: 'gw-a' });

    // Assert
    assert.equal(stats.scope, 'cluster');
    assert.equal(stats.answered_by, 'gw-a');
    assert.equal(stats.instance_count, 2);
    assert.equal(stats.total_connections, 6);
    assert.equal(stats.total_subscriptions, 8);
    assert.equal(stats.tasks_with_subscribers, 3);
    assert.deepEqual(
      stats.instances.map((entry) => [
        entry.instance_id,
        entry.total_connections,
        entry.last_heartbeat_age_ms,
      ]),
      [
        ['gw-a', 4, null],
        ['gw-b', 2, 100],
      ],
    );
  });

  it('merges the per-task counts, busiest first, ties by task id', () => {
    // Arrange
    const readings = [
      reading('one', { connections: 3, subscriptions: 4, tasks: { b: 2, a: 1, c: 1 } }),
      reading('two', { connections: 2, subscriptions: 3, tasks: { a: 1, d: 2 } }),
    ];

    // Act
    const stats = mergeClusterStats(readings, { limit: 3, answeredBy: 'one' });

    // Assert
    assert.deepEqual(Object.entries(stats.connections_per_task), [
      ['a', 2],
      ['b', 2],
      ['d', 2],
    ]);
    assert.equal(stats.connections_per_task_limit, 3);
    assert.equal(stats.connections_per_task_truncated, true, 'c was left out');
    assert.equal(stats.connections_per_task_exact, true);
  });

  it('says the counts are lower bounds when an instance sent only its busiest tasks', () => {
    // Arrange
    const readings = [
      reading('one', { connections: 1, subscriptions: 1, tasks: { a: 1 } }, { truncated: true }),
      reading('two', { connections: 1, subscriptions: 1, tasks: { a: 1 } }),
    ];

    // Act
    const stats = mergeClusterStats(readings, { limit: 10, answeredBy: 'two' });

    // Assert
    assert.deepEqual(stats.connections_per_task, { a: 2 });
    assert.equal(stats.connections_per_task_exact, false);
    assert.equal(stats.connections_per_task_truncated, true);
  });

  it('answers an empty cluster with zeros', () => {
    // Act
    const stats = mergeClusterStats([], { limit: 0, answeredBy: 'alone' });

    // Assert
    assert.deepEqual(stats, {
      scope: 'cluster',
      answered_by: 'alone',
      instance_count: 0,
      total_connections: 0,
      total_subscriptions: 0,
      tasks_with_subscribers: 0,
      connections_per_task: {},
      connections_per_task_limit: 0,
      connections_per_task_truncated: false,
      connections_per_task_exact: true,
      instances: [],
    });
  });
});
