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
      const answers: Record<string, unknown> = {
        set: 'OK',
        publish: 2,
        spublish: 1,
        zadd: 1,
        zremrangebyscore: 0,
        expire: 1,
      };
      const transaction = {
        set: record('set'),
        zadd: record('zadd'),
        zremrangebyscore: record('zremrangebyscore'),
        expire: record('expire'),
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

  it("indexes a group in both layouts: the channel one in the task's transaction, the sharded one apart", async () => {
    const redis = recordingRedis(false);
    const now = new Date('2030-01-01T00:00:00Z');
    const grouped = { ...update, group: 'team-7' };
    const result = await publishTaskStatus(redis, grouped, {
      mode: 'both',
      partitions: 64,
      now: () => now,
    });
    const json = JSON.parse(result.payload) as { group: string };
    assert.equal(json.group, 'team-7');
    const [first = [], second = []] = redis.transactions;
    assert.equal(redis.transactions.length, 2);
    const names = (commands: unknown[][]) => commands.map((command) => command[0]);
    assert.deepEqual(names(first), [
      'set',
      'set',
      'zadd',
      'zremrangebyscore',
      'expire',
      'publish',
      'spublish',
    ]);
    assert.deepEqual(first[2], ['zadd', 'task:group:team-7', now.getTime(), 'task-1']);
    const groupKey = groupShardKeyOf('task:group:', 'team-7', 64);
    const groupChannel = groupShardChannelOf('task_status_updates', 'team-7', 64);
    assert.deepEqual(names(second), ['zadd', 'zremrangebyscore', 'expire', 'spublish']);
    assert.deepEqual(second[0], ['zadd', groupKey, now.getTime(), 'task-1']);
    assert.deepEqual(second[3], ['spublish', groupChannel, result.payload]);
    assert.equal(result.groupKey, 'task:group:team-7');
    assert.equal(result.shard?.groupKey, groupKey);
    assert.equal(result.shard?.groupChannel, groupChannel);
    assert.equal(result.receivers, 2);
    assert.equal(result.shard?.receivers, 1);
  });
});
