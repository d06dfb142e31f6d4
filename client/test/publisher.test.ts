import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatTaskStatus,
  publishTaskStatus,
  type RedisLike,
  type RedisTransactionLike,
} from '../src/publisher.js';

const NOW = new Date('2030-05-06T07:08:09.010Z');
const now = () => NOW;

type Reply = [error: Error | null, result: unknown];

/** Records the queued commands; exec answers with the given replies (by default OK and 2). */
class FakeRedis implements RedisLike {
  readonly transactions: unknown[][][] = [];

  constructor(private readonly replies?: (commands: unknown[][]) => Reply[] | null) {}

  multi(): RedisTransactionLike {
    const commands: unknown[][] = [];
    this.transactions.push(commands);
    const transaction: RedisTransactionLike = {
      set: (...args) => {
        commands.push(['set', ...args]);
        return transaction;
      },
      publish: (...args) => {
        commands.push(['publish', ...args]);
        return transaction;
      },
      zadd: (...args) => {
        commands.push(['zadd', ...args]);
        return transaction;
      },
      zremrangebyscore: (...args) => {
        commands.push(['zremrangebyscore', ...args]);
        return transaction;
      },
      expire: (...args) => {
        commands.push(['expire', ...args]);
        return transaction;
      },
      exec: () =>
        Promise.resolve(
          this.replies
            ? this.replies(commands)
            : commands.map((c): Reply => [null, c[0] === 'publish' ? 2 : 'OK']),
        ),
    };
    return transaction;
  }
}

describe('formatTaskStatus', () => {
  it('writes the documented fields first, then the others, then updated_at', () => {
    assert.equal(
      formatTaskStatus(
        {
          result: { rows: 3 },
          message: 'Done',
          progress: 100,
          status: 'completed',
          task_id: 't-1',
        },
        NOW,
      ),
      '{"task_id":"t-1","status":"completed","progress":100,"message":"Done","result":{"rows":3},' +
        '"updated_at":"2030-05-06T07:08:09.010Z"}',
    );
  });

  it('leaves out progress and message when absent, and keeps a given updated_at in its place', () => {
    assert.equal(
      formatTaskStatus(
        { task_id: 't-1', status: 'queued', updated_at: '2029-01-01T00:00:00Z', version: 4 },
        NOW,
      ),
      '{"task_id":"t-1","status":"queued","updated_at":"2029-01-01T00:00:00Z","version":4}',
    );
  });

  it('writes group after the documented fields', () => {
    assert.equal(
      formatTaskStatus({ task_id: 't-1', status: 'queued', extra: 1, group: 'org-42' }, NOW),
      '{"task_id":"t-1","status":"queued","group":"org-42","extra":1,' +
        '"updated_at":"2030-05-06T07:08:09.010Z"}',
    );
  });

  it('refuses a group that breaks the group id rule', () => {
    const base = { task_id: 't-1', status: 'processing' };
    for (const group of ['', 'a b', 'a/b', 'x'.repeat(129), 7, null]) {
      assert.throws(
        () => formatTaskStatus({ ...base, group: group as string }),
        /group must be 1-128 characters/,
        `group ${JSON.stringify(group)}`,
      );
    }
  });

  it('refuses what the gateway would drop or clients could not use', () => {
    const base = { task_id: 't-1', status: 'processing' };
    assert.throws(() => formatTaskStatus({ ...base, task_id: 'a b' }), TypeError);
    assert.throws(() => formatTaskStatus({ ...base, task_id: 'x'.repeat(129) }), TypeError);
    assert.throws(() => formatTaskStatus({ ...base, status: '' }), TypeError);
    assert.throws(() => formatTaskStatus({ ...base, progress: Number.NaN }), TypeError);
    assert.throws(() => formatTaskStatus({ ...base, message: 3 as unknown as string }), TypeError);
    assert.throws(() => formatTaskStatus({ ...base, updated_at: 'soon' }), TypeError);
  });
});

describe('publishTaskStatus', () => {
  const update = { task_id: 'task-1', status: 'processing', progress: 40, message: 'Fetching' };
  const payload =
    '{"task_id":"task-1","status":"processing","progress":40,"message":"Fetching",' +
    '"updated_at":"2030-05-06T07:08:09.010Z"}';

  it('queues SET with EX and PUBLISH of the same JSON in one transaction, with the defaults', async () => {
    const redis = new FakeRedis();
    const result = await publishTaskStatus(redis, update, { now });
    assert.deepEqual(redis.transactions, [
      [
        ['set', 'task:status:task-1', payload, 'EX', 3600],
        ['publish', 'task_status_updates', payload],
      ],
    ]);
    assert.deepEqual(result, {
      payload,
      channel: 'task_status_updates',
      key: 'task:status:task-1',
      receivers: 2,
    });
  });

  it('uses the given channel, key prefix and TTL', async () => {
    const redis = new FakeRedis();
    await publishTaskStatus(redis, update, { now, channel: 'c', keyPrefix: 'p/', ttlSeconds: 60 });
    assert.deepEqual(redis.transactions[0], [
      ['set', 'p/task-1', payload, 'EX', 60],
      ['publish', 'c', payload],
    ]);
  });

  it('only publishes when the key prefix is empty', async () => {
    const redis = new FakeRedis();
    const result = await publishTaskStatus(redis, update, { now, keyPrefix: '' });
    assert.deepEqual(redis.transactions[0], [['publish', 'task_status_updates', payload]]);
    assert.equal(result.key, undefined);
  });

  it('rejects when a command of the transaction failed or the transaction was aborted', async () => {
    const failing = new FakeRedis((commands) =>
      commands.map((): Reply => [new Error('OOM command not allowed'), null]),
    );
    await assert.rejects(publishTaskStatus(failing, update), /OOM command not allowed/);
    await assert.rejects(publishTaskStatus(new FakeRedis(() => null), update), /aborted/);
  });

  it('refuses bad options before sending anything', async () => {
    const redis = new FakeRedis();
    await assert.rejects(publishTaskStatus(redis, update, { ttlSeconds: 0 }), RangeError);
    await assert.rejects(publishTaskStatus(redis, update, { ttlSeconds: 1.5 }), RangeError);
    await assert.rejects(publishTaskStatus(redis, update, { channel: '' }), TypeError);
    await assert.rejects(publishTaskStatus(redis, { ...update, task_id: '' }), TypeError);
    assert.equal(redis.transactions.length, 0);
  });

  describe('with a group', () => {
    const grouped = { ...update, group: 'org-42' };
    const groupedPayload =
      '{"task_id":"task-1","status":"processing","progress":40,"message":"Fetching",' +
      '"group":"org-42","updated_at":"2030-05-06T07:08:09.010Z"}';
    const nowMs = NOW.getTime();

    it('adds the task to the group index, trims expired members and sets the TTL, in the same transaction', async () => {
      const redis = new FakeRedis();
      const result = await publishTaskStatus(redis, grouped, { now });
      assert.deepEqual(redis.transactions, [
        [
          ['set', 'task:status:task-1', groupedPayload, 'EX', 3600],
          ['zadd', 'task:group:org-42', nowMs, 'task-1'],
          ['zremrangebyscore', 'task:group:org-42', '-inf', `(${nowMs - 3_600_000}`],
          ['expire', 'task:group:org-42', 3600],
          ['publish', 'task_status_updates', groupedPayload],
        ],
      ]);
      assert.deepEqual(result, {
        payload: groupedPayload,
        channel: 'task_status_updates',
        key: 'task:status:task-1',
        receivers: 2,
        groupKey: 'task:group:org-42',
      });
    });

    it('uses the given group key prefix and TTL', async () => {
      const redis = new FakeRedis();
      await publishTaskStatus(redis, grouped, { now, groupKeyPrefix: 'g/', ttlSeconds: 60 });
      const commands = redis.transactions[0] ?? [];
      assert.deepEqual(commands[1], ['zadd', 'g/org-42', nowMs, 'task-1']);
      assert.deepEqual(commands[2], ['zremrangebyscore', 'g/org-42', '-inf', `(${nowMs - 60_000}`]);
      assert.deepEqual(commands[3], ['expire', 'g/org-42', 60]);
    });

    it('keeps no index when the group key prefix or the state key prefix is empty', async () => {
      for (const options of [{ groupKeyPrefix: '' }, { keyPrefix: '' }]) {
        const redis = new FakeRedis();
        const result = await publishTaskStatus(redis, grouped, { now, ...options });
        const names = (redis.transactions[0] ?? []).map((command) => command[0]);
        assert.deepEqual(
          names.filter((name) => name !== 'set'),
          ['publish'],
        );
        assert.equal(result.groupKey, undefined);
      }
    });

    it('refuses a client without the sorted-set commands, and a bad group, before sending', async () => {
      const redis = new FakeRedis();
      const bare: RedisLike = {
        multi: () => {
          const transaction: RedisTransactionLike = {
            set: () => transaction,
            publish: () => transaction,
            exec: () => Promise.resolve([]),
          };
          return transaction;
        },
      };
      await assert.rejects(publishTaskStatus(bare, grouped, { now }), /zadd/);
      await assert.rejects(publishTaskStatus(redis, { ...update, group: 'a b' }), TypeError);
      await assert.rejects(
        publishTaskStatus(redis, grouped, { groupKeyPrefix: 3 as unknown as string }),
        TypeError,
      );
    });
  });
});
