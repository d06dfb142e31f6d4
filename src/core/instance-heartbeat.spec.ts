import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HEARTBEAT_TOP_TASKS,
  clusterIndexKeyFor,
  instanceHeartbeatKey,
  parseInstanceHeartbeat,
  type InstanceHeartbeat,
} from './instance-heartbeat.js';

function heartbeat(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const valid: InstanceHeartbeat = {
    v: 1,
    instance_id: 'gateway-1',
    channel: 'task_status_updates',
    sent_at: 1_795_636_454_809,
    interval_ms: 5_000,
    ttl_ms: 15_000,
    uptime_seconds: 42,
    accepting_connections: true,
    total_connections: 3,
    total_subscriptions: 5,
    tasks_with_subscribers: 2,
    connections_per_task: { 'task-1': 3, 'task-2': 2 },
    connections_per_task_truncated: false,
    redis: { status: 'connected', state: 'subscribed', data_path: 'ok' },
  };
  return { ...valid, ...overrides };
}

describe('parseInstanceHeartbeat', () => {
  it('accepts a heartbeat as ClusterHeartbeat writes it', () => {
    // Arrange
    const raw = JSON.stringify(heartbeat());

    // Act
    const parsed = parseInstanceHeartbeat(raw);

    // Assert
    assert.deepEqual(parsed, heartbeat());
  });

  const invalid: Array<[string, string]> = [
    ['not JSON', '{"v":1'],
    ['an array', '[]'],
    ['another version', JSON.stringify(heartbeat({ v: 2 }))],
    ['a negative count', JSON.stringify(heartbeat({ total_connections: -1 }))],
    ['a fractional count', JSON.stringify(heartbeat({ total_subscriptions: 1.5 }))],
    ['a count as a string', JSON.stringify(heartbeat({ tasks_with_subscribers: '2' }))],
    ['a missing instance id', JSON.stringify(heartbeat({ instance_id: undefined }))],
    ['an invalid task id', JSON.stringify(heartbeat({ connections_per_task: { 'a b': 1 } }))],
    [
      'a task count that is not a count',
      JSON.stringify(heartbeat({ connections_per_task: { t: -2 } })),
    ],
    [
      'an unknown redis status',
      JSON.stringify(heartbeat({ redis: { status: 'up', state: 's', data_path: 'ok' } })),
    ],
    [
      'too many tasks',
      JSON.stringify(
        heartbeat({
          connections_per_task: Object.fromEntries(
            Array.from({ length: 10 * HEARTBEAT_TOP_TASKS + 1 }, (_, i) => [`t${i}`, 1]),
          ),
        }),
      ),
    ],
  ];
  for (const [what, raw] of invalid) {
    it(`rejects ${what}`, () => {
      // Act
      const parsed = parseInstanceHeartbeat(raw);

      // Assert
      assert.equal(parsed, undefined);
    });
  }
});

describe('instanceHeartbeatKey', () => {
  it('puts the instance id after the index key', () => {
    assert.equal(instanceHeartbeatKey('gateway-1'), 'gateway:instances:gateway-1');
  });

  it('keeps the names on a single Redis and hash-tags both keys on a Redis Cluster', () => {
    // Act
    const single = clusterIndexKeyFor(false);
    const cluster = clusterIndexKeyFor(true);

    // Assert: one hash tag, so the index and every heartbeat key share a slot.
    assert.equal(single, 'gateway:instances');
    assert.equal(instanceHeartbeatKey('gateway-1', single), 'gateway:instances:gateway-1');
    assert.equal(cluster, 'gateway:{instances}');
    assert.equal(instanceHeartbeatKey('gateway-1', cluster), 'gateway:{instances}:gateway-1');
  });
});
