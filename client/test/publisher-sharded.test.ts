import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  groupShardChannelOf,
  groupShardKeyOf,
  partitionOf,
  publishTaskStatus,
  type RedisLike,
} from '../src/publisher.js';

type Reply = [error: Error | null, result: unknown];

/** Records the queued commands of each transaction; SPUBLISH answers 1. */
function recordingRedis(withSpublish = true): RedisLike & { transactions: unknown[][][] } {
  const transactions: unknown[][][] = [];
  return {
    transactions,
    multi() {
      const commands: unknown[][] = [];
      transactions.push(commands);
      const record =
        (name: string) =>
        (...args: unknown[]) => {
          commands.push([name, ...args]);
          return transaction;
        };
      const transaction = {
        set: record('set'),
        publish: record('publish'),
        zadd: record('zadd'),
        zremrangebyscore: record('zremrangebyscore'),
        expire: record('expire'),
        ...(withSpublish ? { spublish: record('spublish') } : {}),
        exec: () => Promise.resolve(commands.map((c): Reply => [null, c[0] === 'set' ? 'OK' : 1])),
      };
      return transaction;
    },
  };
}

describe('publishTaskStatus in sharded mode', () => {
  const update = { task_id: 'task-1', status: 'processing', updated_at: '2030-01-01T00:00:00Z' };
  const payload = '{"task_id":"task-1","status":"processing","updated_at":"2030-01-01T00:00:00Z"}';

  it('sets the partitioned key and SPUBLISHes on the task’s shard channel, in one transaction', async () => {
    const redis = recordingRedis();
    const result = await publishTaskStatus(redis, update, { mode: 'sharded' });
    const p = partitionOf('task-1', 1024);
    assert.deepEqual(redis.transactions, [
      [
        ['set', `task:status:{${p}}:task-1`, payload, 'EX', 3600],
        ['spublish', `task_status_updates:{${p}}:task-1`, payload],
      ],
    ]);
    assert.deepEqual(result, {
      payload,
      channel: `task_status_updates:{${p}}:task-1`,
      key: `task:status:{${p}}:task-1`,
      receivers: 1,
    });
  });

  it('uses the given partitions, channel and prefix', async () => {
    const redis = recordingRedis();
    await publishTaskStatus(redis, update, {
      mode: 'sharded',
      partitions: 1,
      channel: 'c',
      keyPrefix: 'k/',
    });
    assert.deepEqual(redis.transactions[0], [
      ['set', 'k/{0}:task-1', payload, 'EX', 3600],
      ['spublish', 'c:{0}:task-1', payload],
    ]);
  });

  it('refuses bad partitions, an unknown mode, and a client without spublish', async () => {
    const redis = recordingRedis();
    await assert.rejects(
      publishTaskStatus(redis, update, { mode: 'sharded', partitions: 0 }),
      RangeError,
    );
    await assert.rejects(
      publishTaskStatus(redis, update, { mode: 'fanout' as 'sharded' }),
      TypeError,
    );
    assert.equal(redis.transactions.length, 0);
    await assert.rejects(
      publishTaskStatus(recordingRedis(false), update, { mode: 'sharded' }),
      /spublish/,
    );
  });

  it('puts a group’s index and SPUBLISH on its own shard channel in a second transaction', async () => {
    const redis = recordingRedis();
    const now = () => new Date('2030-01-01T00:00:00Z');
    const grouped = { ...update, group: 'org-42' };
    const json =
      '{"task_id":"task-1","status":"processing","group":"org-42","updated_at":"2030-01-01T00:00:00Z"}';
    const result = await publishTaskStatus(redis, grouped, { mode: 'sharded', now });
    const p = partitionOf('task-1', 1024);
    const g = partitionOf('org-42', 1024);
    const nowMs = now().getTime();
    assert.deepEqual(redis.transactions, [
      [
        ['set', `task:status:{${p}}:task-1`, json, 'EX', 3600],
        ['spublish', `task_status_updates:{${p}}:task-1`, json],
      ],
      [
        ['zadd', `task:group:{g${g}}:org-42`, nowMs, 'task-1'],
        ['zremrangebyscore', `task:group:{g${g}}:org-42`, '-inf', `(${nowMs - 3_600_000}`],
        ['expire', `task:group:{g${g}}:org-42`, 3600],
        ['spublish', `task_status_updates:{g${g}}:group:org-42`, json],
      ],
    ]);
    assert.equal(result.groupChannel, `task_status_updates:{g${g}}:group:org-42`);
    assert.equal(result.groupKey, `task:group:{g${g}}:org-42`);
    assert.equal(result.channel, `task_status_updates:{${p}}:task-1`);
  });

  it('names group channels and keys apart from task ones, with a hash tag of their own', () => {
    const g = partitionOf('group:x', 8);
    assert.equal(groupShardChannelOf('c', 'group:x', 8), `c:{g${g}}:group:group:x`);
    assert.equal(groupShardKeyOf('k:', 'group:x', 8), `k:{g${g}}:group:x`);
    // A task channel's tag is the partition's digits only, so the two never share a name.
    assert.doesNotMatch(groupShardChannelOf('c', 'x', 8), /^c:\{\d+\}:/);
  });
});
