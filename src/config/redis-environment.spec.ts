import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { InvalidEnvironmentError, parseEnvironment } from './parse-environment.js';
import { redisOptionsFromEnvironment } from './redis.config.js';

function redisOptionsOf(raw: Record<string, string>) {
  return resolveRedisOptions(redisOptionsFromEnvironment(parseEnvironment(raw)));
}

describe('REDIS_PUBSUB_MODE and REDIS_PARTITIONS', () => {
  it('default to the single channel and 1024 partitions', () => {
    const redis = redisOptionsOf({ REDIS_PUBSUB_MODE: '', REDIS_PARTITIONS: '' });
    assert.equal(redis.pubsubMode, 'channel');
    assert.equal(redis.partitions, 1024);
  });

  it('map onto the Redis options, the mode in any case', () => {
    const redis = redisOptionsOf({ REDIS_PUBSUB_MODE: ' Sharded ', REDIS_PARTITIONS: '64' });
    assert.equal(redis.pubsubMode, 'sharded');
    assert.equal(redis.partitions, 64);
  });

  for (const [name, value] of [
    ['REDIS_PUBSUB_MODE', 'cluster'],
    ['REDIS_PARTITIONS', '0'],
    ['REDIS_PARTITIONS', '16385'],
    ['REDIS_PARTITIONS', '1.5'],
  ]) {
    it(`refuses ${name}=${value}`, () => {
      assert.throws(
        () => parseEnvironment({ [name]: value }),
        (error: unknown) =>
          error instanceof InvalidEnvironmentError &&
          error.problems.length === 1 &&
          error.problems[0].startsWith(`${name}=`),
      );
    });
  }
});

describe('REDIS_UNSUBSCRIBE_GRACE_MS', () => {
  it('defaults to 30 s and maps onto unsubscribeGraceMs, 0 included', () => {
    assert.equal(redisOptionsOf({ REDIS_UNSUBSCRIBE_GRACE_MS: '' }).unsubscribeGraceMs, 30_000);
    assert.equal(redisOptionsOf({ REDIS_UNSUBSCRIBE_GRACE_MS: '0' }).unsubscribeGraceMs, 0);
    assert.equal(redisOptionsOf({ REDIS_UNSUBSCRIBE_GRACE_MS: '5000' }).unsubscribeGraceMs, 5000);
  });

  for (const value of ['-1', '1.5', 'soon', '86400001']) {
    it(`refuses REDIS_UNSUBSCRIBE_GRACE_MS=${value}`, () => {
      assert.throws(
        () => parseEnvironment({ REDIS_UNSUBSCRIBE_GRACE_MS: value }),
        (error: unknown) =>
          error instanceof InvalidEnvironmentError &&
          error.problems.length === 1 &&
          error.problems[0].startsWith('REDIS_UNSUBSCRIBE_GRACE_MS='),
      );
    });
  }

  it('is checked by the module options too', () => {
    assert.throws(
      () => resolveRedisOptions({ unsubscribeGraceMs: -5 }),
      /unsubscribeGraceMs must be an integer from 0 to 86400000, got -5/,
    );
  });
});

describe('REDIS_CLUSTER_NODES', () => {
  it('is empty by default: a single Redis at REDIS_URL', () => {
    assert.deepEqual(redisOptionsOf({}).clusterNodes, []);
  });

  it('maps a comma-separated host:port list onto the Redis options', () => {
    const redis = redisOptionsOf({
      REDIS_CLUSTER_NODES: ' redis-0.redis:6379, 10.0.0.2:7000 ,[::1]:7001',
      REDIS_PUBSUB_MODE: 'sharded',
    });
    assert.deepEqual(redis.clusterNodes, ['redis-0.redis:6379', '10.0.0.2:7000', '[::1]:7001']);
  });

  for (const value of ['redis://redis-0:6379', 'redis-0', 'redis-0:6379,:7000']) {
    it(`refuses REDIS_CLUSTER_NODES=${value}`, () => {
      assert.throws(
        () => parseEnvironment({ REDIS_CLUSTER_NODES: value, REDIS_PUBSUB_MODE: 'sharded' }),
        (error: unknown) =>
          error instanceof InvalidEnvironmentError &&
          error.problems.length === 1 &&
          error.problems[0].startsWith('REDIS_CLUSTER_NODES='),
      );
    });
  }

  for (const mode of [undefined, 'channel']) {
    it(`refuses a cluster with REDIS_PUBSUB_MODE=${mode ?? '(unset)'}`, () => {
      assert.throws(
        () =>
          parseEnvironment({
            REDIS_CLUSTER_NODES: '127.0.0.1:7000',
            ...(mode ? { REDIS_PUBSUB_MODE: mode } : {}),
          }),
        (error: unknown) =>
          error instanceof InvalidEnvironmentError &&
          error.problems.length === 1 &&
          error.problems[0].includes('REDIS_PUBSUB_MODE must be "sharded"'),
      );
    });
  }

  it('is refused in channel mode by the module options too', () => {
    assert.throws(
      () => resolveRedisOptions({ clusterNodes: ['127.0.0.1:7000'] }),
      /needs pubsubMode "sharded"/,
    );
  });
});

describe('REDIS_CLUSTER_SLOTS_REFRESH_MS', () => {
  it('defaults to a slot map refresh every 5 s', () => {
    assert.equal(redisOptionsOf({}).clusterSlotsRefreshMs, 5_000);
  });

  it('maps onto clusterSlotsRefreshMs, 0 turning the refresh off', () => {
    assert.equal(
      redisOptionsOf({ REDIS_CLUSTER_SLOTS_REFRESH_MS: '250' }).clusterSlotsRefreshMs,
      250,
    );
    assert.equal(redisOptionsOf({ REDIS_CLUSTER_SLOTS_REFRESH_MS: '0' }).clusterSlotsRefreshMs, 0);
  });

  for (const value of ['-1', '1.5', 'soon', '3600001']) {
    it(`refuses REDIS_CLUSTER_SLOTS_REFRESH_MS=${value}`, () => {
      assert.throws(
        () => parseEnvironment({ REDIS_CLUSTER_SLOTS_REFRESH_MS: value }),
        (error: unknown) =>
          error instanceof InvalidEnvironmentError &&
          error.problems.length === 1 &&
          error.problems[0].startsWith('REDIS_CLUSTER_SLOTS_REFRESH_MS='),
      );
    });
  }

  it('is refused as an option when negative', () => {
    assert.throws(
      () => resolveRedisOptions({ clusterSlotsRefreshMs: -5 }),
      /clusterSlotsRefreshMs/,
    );
  });
});
