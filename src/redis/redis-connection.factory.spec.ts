import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseClusterNode,
  reconnectDelay,
  RedisConnectionFactory,
} from './redis-connection.factory.js';

const ATTEMPTS = Array.from({ length: 40 }, (_, index) => index);

describe('reconnectDelay', () => {
  it('never returns less than 50 ms, even when the jitter is 0', () => {
    // Act
    const delays = ATTEMPTS.map((attempt) => reconnectDelay(attempt, () => 0));

    // Assert
    for (const delay of delays) assert.equal(delay, 50);
  });

  it('never returns more than 5000 ms', () => {
    // Act
    const delays = [...ATTEMPTS, 1_000, 1e9].map((attempt) => reconnectDelay(attempt, () => 1));

    // Assert
    for (const delay of delays) assert.ok(delay <= 5_000, `delay ${delay}`);
    assert.equal(
      reconnectDelay(1e9, () => 1),
      5_000,
    );
  });

  it('grows with the attempt until it reaches the cap (random = 1)', () => {
    // Act
    const delays = ATTEMPTS.map((attempt) => reconnectDelay(attempt, () => 1));

    // Assert
    for (let index = 1; index < delays.length; index += 1) {
      assert.ok(delays[index] >= delays[index - 1], `attempt ${index}: ${delays.join(',')}`);
    }
    assert.ok(delays[1] < delays[2] && delays[2] < delays[3], delays.join(','));
    assert.equal(delays[delays.length - 1], 5_000);
  });

  it('scales the delay by the random factor (full jitter)', () => {
    // Arrange
    const attempt = 20;

    // Act
    const quarter = reconnectDelay(attempt, () => 0.25);
    const half = reconnectDelay(attempt, () => 0.5);
    const full = reconnectDelay(attempt, () => 1);

    // Assert
    assert.equal(quarter, 1_250);
    assert.equal(half, 2_500);
    assert.equal(full, 5_000);
  });

  it('stays within [50, 5000] for many random draws', () => {
    // Arrange: a seeded LCG stands in for Math.random so a failure is reproducible.
    let state = 12345;
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };

    // Act
    const delays = Array.from({ length: 2_000 }, (_, index) => reconnectDelay(index % 30, random));

    // Assert
    for (const delay of delays) assert.ok(delay >= 50 && delay <= 5_000, `delay ${delay}`);
    assert.ok(new Set(delays).size > 100, 'expected the jitter to spread the delays');
  });
});

describe('parseClusterNode', () => {
  it('splits host:port, an IPv6 address in brackets included', () => {
    assert.deepEqual(parseClusterNode('redis-0.redis:6379'), { host: 'redis-0.redis', port: 6379 });
    assert.deepEqual(parseClusterNode('[::1]:7000'), { host: '::1', port: 7000 });
  });

  it('refuses what is not host:port', () => {
    for (const node of ['redis-0', ':7000', 'redis-0:0', 'redis-0:65536', 'redis-0:x']) {
      assert.throws(() => parseClusterNode(node), /Not a host:port/, node);
    }
  });
});

describe('RedisConnectionFactory.createCluster', () => {
  it("gives every node connection REDIS_URL's credentials and TLS, not its host or db", () => {
    // Arrange: lazyConnect, so nothing is dialled.
    const factory = new RedisConnectionFactory();

    // Act
    const cluster = factory.createCluster(
      ['127.0.0.1:7000'],
      'rediss://gateway:s3cret@elsewhere.example:6380/4',
      'subscriber',
      { shardedSubscribers: true },
      { maxRetriesPerRequest: 1 },
    );

    // Assert: redisOptions are what ioredis gives each node and each sharded subscriber.
    const nodeOptions = cluster.options.redisOptions ?? {};
    assert.equal(nodeOptions.username, 'gateway');
    assert.equal(nodeOptions.password, 's3cret');
    assert.deepEqual(nodeOptions.tls, {});
    assert.equal(nodeOptions.maxRetriesPerRequest, 1);
    assert.equal('host' in nodeOptions, false);
    assert.equal(nodeOptions.db, undefined);
    assert.equal(cluster.options.shardedSubscribers, true);
    cluster.disconnect();
  });

  it('adds nothing for a URL without credentials over redis://', () => {
    // Act
    const cluster = new RedisConnectionFactory().createCluster(
      ['127.0.0.1:7000'],
      'redis://localhost:6379/0',
      'commands',
    );

    // Assert
    const nodeOptions = cluster.options.redisOptions ?? {};
    assert.equal(nodeOptions.password, undefined);
    assert.equal(nodeOptions.username, undefined);
    assert.equal(nodeOptions.tls, undefined);
    cluster.disconnect();
  });
});
