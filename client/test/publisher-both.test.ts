import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionOf, publishTaskStatus, type RedisLike } from '../src/publisher.js';

type Reply = [error: Error | null, result: unknown];

/** Records the queued commands of each transaction; PUBLISH answers 2, SPUBLISH 1. */
function recordingRedis(isCluster?: boolean): RedisLike & { transactions: unknown[][][] } {
  const transactions: unknown[][][] = [];
  return {
    transactions,
    ...(isCluster === undefined ? {} : { isCluster }),
    multi() {
      const commands: unknown[][] = [];
      transactions.push(commands);
      const record =
        (name: string) =>
        (...args: unknown[]) => {
          commands.push([name, ...args]);
          return transaction;
        };
      const answers: Record<string, unknown> = { set: 'OK', publish: 2, spublish: 1 };
      const transaction = {
        set: record('set'),
        publish: record('publish'),
        spublish: record('spublish'),
        exec: () => Promise.resolve(commands.map((c): Reply => [null, answers[c[0] as string]])),
      };
      return transaction;
    },
  };
}

describe("publishTaskStatus in mode 'both' (migration)", () => {
  const update = { task_id: 'task-1', status: 'processing', updated_at: '2030-01-01T00:00:00Z' };
  const payload = '{"task_id":"task-1","status":"processing","updated_at":"2030-01-01T00:00:00Z"}';

  it('sets both keys, then PUBLISHes and SPUBLISHes the same JSON, in one transaction', async () => {
    const redis = recordingRedis(false);
    const result = await publishTaskStatus(redis, update, { mode: 'both', partitions: 64 });
    const p = partitionOf('task-1', 64);
    assert.deepEqual(redis.transactions, [
      [
        ['set', 'task:status:task-1', payload, 'EX', 3600],
        ['set', `task:status:{${p}}:task-1`, payload, 'EX', 3600],
        ['publish', 'task_status_updates', payload],
        ['spublish', `task_status_updates:{${p}}:task-1`, payload],
      ],
    ]);
    assert.deepEqual(result, {
      payload,
      channel: 'task_status_updates',
      key: 'task:status:task-1',
      receivers: 2,
      shard: {
        channel: `task_status_updates:{${p}}:task-1`,
        key: `task:status:{${p}}:task-1`,
        receivers: 1,
      },
    });
  });

  it('publishes on both channels only when the key prefix is empty', async () => {
    const redis = recordingRedis();
    const result = await publishTaskStatus(redis, update, {
      mode: 'both',
      partitions: 1,
      channel: 'c',
      keyPrefix: '',
    });
    assert.deepEqual(redis.transactions[0], [
      ['publish', 'c', payload],
      ['spublish', 'c:{0}:task-1', payload],
    ]);
    assert.equal(result.key, undefined);
    assert.equal(result.shard?.key, undefined);
  });

  it('refuses a Redis Cluster client with a clear error, before sending anything', async () => {
    const redis = recordingRedis(true);
    await assert.rejects(
      publishTaskStatus(redis, update, { mode: 'both' }),
      (error: unknown) =>
        error instanceof TypeError && /mode 'both' needs a standalone Redis/.test(error.message),
    );
    assert.equal(redis.transactions.length, 0);
  });

  it('the single modes report no shard half', async () => {
    const redis = recordingRedis();
    const channel = await publishTaskStatus(redis, update, { mode: 'channel' });
    const sharded = await publishTaskStatus(redis, update, { mode: 'sharded' });
    assert.equal('shard' in channel, false);
    assert.equal('shard' in sharded, false);
    assert.equal(channel.receivers, 2);
    assert.equal(sharded.receivers, 1);
  });
});
