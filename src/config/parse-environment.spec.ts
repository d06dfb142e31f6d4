import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConnectionLimitsOptions } from '../connections/connection-limits-options.js';
import { resolveGatewayOptions } from '../inbound/gateway-options.js';
import { resolveTaskStateOptions } from '../outbound/task-state-options.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { gatewayOptionsFromEnvironment } from './gateway.config.js';
import { limitsOptionsFromEnvironment } from './limits.config.js';
import { redisOptionsFromEnvironment } from './redis.config.js';
import { taskStateOptionsFromEnvironment } from './task-state.config.js';
import { InvalidEnvironmentError, parseEnvironment } from './parse-environment.js';

/** Runs parseEnvironment expecting a failure and returns the error for inspection. */
function parseError(raw: Record<string, string>): InvalidEnvironmentError {
  try {
    parseEnvironment(raw);
  } catch (error) {
    assert.ok(error instanceof InvalidEnvironmentError, `unexpected error ${String(error)}`);
    return error;
  }
  assert.fail(`expected InvalidEnvironmentError for ${JSON.stringify(raw)}`);
}

describe('parseEnvironment', () => {
  it('applies the documented defaults to an empty environment', () => {
    // Arrange
    const raw = {};

    // Act
    const env = parseEnvironment(raw);

    // Assert: the service's own settings here, the modules' through their options.
    assert.equal(env.PORT, 8001);
    assert.equal(env.LOG_LEVEL, 'INFO');
    const redis = resolveRedisOptions(redisOptionsFromEnvironment(env));
    assert.equal(redis.url, 'redis://localhost:6379/0');
    assert.equal(redis.channel, 'task_status_updates');
    const limits = resolveConnectionLimitsOptions(limitsOptionsFromEnvironment(env));
    assert.equal(limits.maxConnections, 1000);
    assert.deepEqual(limits.allowedOrigins, []);
    assert.equal(resolveGatewayOptions(gatewayOptionsFromEnvironment(env)).maxMessageBytes, 4096);
  });

  it('treats empty-string variables as unset', () => {
    // Arrange
    const raw = {
      PORT: '',
      REDIS_URL: '',
      REDIS_PUBSUB_CHANNEL: '',
      WS_MAX_CONNECTIONS: '',
      WS_MAX_MESSAGE_BYTES: '',
      LOG_LEVEL: '',
      CORS_ORIGINS: '',
    };

    // Act
    const env = parseEnvironment(raw);

    // Assert: the service's own settings here, the modules' through their options.
    assert.equal(env.PORT, 8001);
    assert.equal(env.LOG_LEVEL, 'INFO');
    const redis = resolveRedisOptions(redisOptionsFromEnvironment(env));
    assert.equal(redis.url, 'redis://localhost:6379/0');
    assert.equal(redis.channel, 'task_status_updates');
    const limits = resolveConnectionLimitsOptions(limitsOptionsFromEnvironment(env));
    assert.equal(limits.maxConnections, 1000);
    assert.deepEqual(limits.allowedOrigins, []);
    assert.equal(resolveGatewayOptions(gatewayOptionsFromEnvironment(env)).maxMessageBytes, 4096);
  });

  it('converts numeric strings and keeps explicit values', () => {
    // Arrange
    const raw = {
      PORT: '9000',
      REDIS_URL: 'rediss://user:secret@redis.example.com:6380/2',
      REDIS_PUBSUB_CHANNEL: 'other_channel',
      WS_MAX_CONNECTIONS: '25',
      WS_MAX_MESSAGE_BYTES: '8192',
    };

    // Act
    const env = parseEnvironment(raw);

    // Assert
    assert.equal(env.PORT, 9000);
    assert.equal(env.REDIS_URL, 'rediss://user:secret@redis.example.com:6380/2');
    assert.equal(env.REDIS_PUBSUB_CHANNEL, 'other_channel');
    assert.equal(env.WS_MAX_CONNECTIONS, 25);
    assert.equal(env.WS_MAX_MESSAGE_BYTES, 8192);
  });

  it('reads LOG_LEVEL case-insensitively', () => {
    const cases = { debug: 'DEBUG', Warning: 'WARNING', error: 'ERROR', INFO: 'INFO' };
    for (const [input, expected] of Object.entries(cases)) {
      // Act
      const env = parseEnvironment({ LOG_LEVEL: input });

      // Assert
      assert.equal(env.LOG_LEVEL, expected, `LOG_LEVEL=${input}`);
    }
  });

  it('parses CORS_ORIGINS as a JSON array', () => {
    // Arrange
    const raw = { CORS_ORIGINS: '["http://localhost:3000","https://app.example.com:8443"]' };

    // Act
    const env = parseEnvironment(raw);

    // Assert
    assert.deepEqual(env.CORS_ORIGINS, ['http://localhost:3000', 'https://app.example.com:8443']);
  });

  const badValues: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['WS_MAX_CONNECTIONS', '0'],
    ['LOG_LEVEL', 'TRACE'],
    ['REDIS_URL', 'http://x'],
    ['CORS_ORIGINS', 'not-json'],
    ['CORS_ORIGINS', '["not an origin"]'],
    ['TRUST_PROXY', '33'],
    ['TRUST_PROXY', 'true'],
    ['WS_RATE_LIMIT_BURST', '0'],
    ['WS_RATE_LIMIT_PER_SECOND', '-1'],
    ['WS_MAX_CONNECTIONS_PER_IP', '1.5'],
    ['WS_HANDSHAKE_TIMEOUT_MS', '50'],
  ];
  for (const [name, value] of badValues) {
    it(`rejects ${name}=${value} with an error naming ${name}`, () => {
      // Act
      const error = parseError({ [name]: value });

      // Assert
      assert.equal(error.problems.length, 1, error.message);
      assert.ok(error.problems[0].startsWith(`${name}=`), error.problems[0]);
      assert.ok(error.message.includes(name), error.message);
    });
  }

  it('applies the abuse-resistance defaults: rate limit on, per-address limit off', () => {
    // Act
    const env = parseEnvironment({});
    const gateway = resolveGatewayOptions(gatewayOptionsFromEnvironment(env));
    const limits = resolveConnectionLimitsOptions(limitsOptionsFromEnvironment(env));

    // Assert
    assert.equal(gateway.rateLimitPerSecond, 20);
    assert.equal(gateway.rateLimitBurst, 120);
    assert.equal(gateway.rateLimitMaxViolations, 10);
    assert.equal(gateway.rateLimitViolationWindowMs, 10_000);
    assert.equal(limits.maxConnectionsPerIp, 0);
    assert.equal(limits.trustProxy, 0);
    assert.equal(gateway.handshakeTimeoutMs, 10_000);
  });

  // Number('   ') is 0: a blank PORT must not silently mean "any free port".
  it('treats a whitespace-only variable as unset, never as 0', () => {
    // Act
    const env = parseEnvironment({ PORT: '   ', WS_HEARTBEAT_INTERVAL_MS: '\t' });

    // Assert
    assert.equal(env.PORT, 8001);
    assert.equal(env.WS_HEARTBEAT_INTERVAL_MS, undefined);
    assert.equal(
      resolveGatewayOptions(gatewayOptionsFromEnvironment(env)).heartbeatIntervalMs,
      30_000,
    );
  });

  it('keeps an empty TASK_STATUS_KEY_PREFIX: it turns snapshots off', () => {
    assert.equal(parseEnvironment({ TASK_STATUS_KEY_PREFIX: '' }).TASK_STATUS_KEY_PREFIX, '');
    const unset = taskStateOptionsFromEnvironment(parseEnvironment({}));
    assert.equal(resolveTaskStateOptions(unset).snapshotKeyPrefix, 'task:status:');
  });

  it('reads TASK_TERMINAL_STATUSES as a comma-separated list', () => {
    assert.deepEqual(
      parseEnvironment({ TASK_TERMINAL_STATUSES: ' done, failed ,,' }).TASK_TERMINAL_STATUSES,
      ['done', 'failed'],
    );
  });

  it('names every bad variable in one error', () => {
    // Arrange
    const raw = {
      PORT: 'abc',
      WS_MAX_CONNECTIONS: '0',
      LOG_LEVEL: 'TRACE',
      REDIS_URL: 'http://x',
      CORS_ORIGINS: 'not-json',
      REDIS_PUBSUB_CHANNEL: 'fine',
    };

    // Act
    const error = parseError(raw);

    // Assert
    const named = error.problems.map((problem) => problem.slice(0, problem.indexOf('='))).sort();
    assert.deepEqual(named, [
      'CORS_ORIGINS',
      'LOG_LEVEL',
      'PORT',
      'REDIS_URL',
      'WS_MAX_CONNECTIONS',
    ]);
    for (const name of named) assert.ok(error.message.includes(name), error.message);
  });

  it('reads METRICS_ENABLED and API_DOCS_ENABLED as booleans, default true', () => {
    // Act
    const defaults = parseEnvironment({});
    const off = parseEnvironment({ METRICS_ENABLED: 'false', API_DOCS_ENABLED: '0' });
    const on = parseEnvironment({ METRICS_ENABLED: ' TRUE ', API_DOCS_ENABLED: '1' });

    // Assert
    assert.equal(defaults.METRICS_ENABLED, true);
    assert.equal(defaults.API_DOCS_ENABLED, true);
    assert.equal(off.METRICS_ENABLED, false);
    assert.equal(off.API_DOCS_ENABLED, false);
    assert.equal(on.METRICS_ENABLED, true);
    assert.equal(on.API_DOCS_ENABLED, true);
  });

  it('rejects a boolean variable that is neither true nor false', () => {
    // Act
    const error = parseError({ METRICS_ENABLED: 'yes please' });

    // Assert
    assert.deepEqual(error.problems, [
      'METRICS_ENABLED="yes please": METRICS_ENABLED must be true or false',
    ]);
  });

  it('keeps the password of a rejected REDIS_URL out of the error', () => {
    // Act
    const error = parseError({ REDIS_URL: 'http://app:hunter2@redis.internal:6379' });

    // Assert
    assert.ok(error.message.includes('REDIS_URL="http://app:***@redis.internal:6379"'));
    assert.ok(!error.message.includes('hunter2'), error.message);
  });
});
