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
});
