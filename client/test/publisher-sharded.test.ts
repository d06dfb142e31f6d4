import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionOf, publishTaskStatus, type RedisLike } from '../src/publisher.js';

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
});
