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
