import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostname } from 'node:os';
import { resolveTaskStatusOptions } from './resolve-task-status-options.js';
import type { ResolvedTaskStatusOptions } from './task-status-module-options.js';

const REDIS_URL = 'redis://127.0.0.1:6379/0';

describe('resolveTaskStatusOptions', () => {
  it('fills every option left out with its documented default', () => {
    // Act
    const options = resolveTaskStatusOptions({ redisUrl: REDIS_URL });

    // Assert
    assert.deepEqual(options, {
      redisUrl: REDIS_URL,
      channel: 'task_status_updates',
      maxConnections: 1000,
      maxMessageBytes: 4096,
      maxSubscriptionsPerConnection: 100,
      heartbeatIntervalMs: 30_000,
      allowedOrigins: [],
      shutdownTimeoutMs: 10_000,
      drainWindowMs: 2_000,
      statsMaxTasks: 1000,
      instanceId: `${hostname()}-${process.pid}`,
      metrics: true,
      auth: {
        enabled: false,
        audience: [],
        algorithms: [],
        clockToleranceSeconds: 5,
        tasksClaim: 'tasks',
        adminClaim: 'admin',
        jwksCooldownMs: 30_000,
      },
      clusterHeartbeatIntervalMs: 5_000,
      demoPage: true,
      demoPublishEnabled: false,
      snapshotKeyPrefix: 'task:status:',
      terminalStatuses: ['completed', 'failed', 'cancelled'],
      canaryIntervalMs: 5_000,
      canaryTimeoutMs: 15_000,
      resyncBatchSize: 500,
      rateLimitPerSecond: 20,
      rateLimitBurst: 120,
      rateLimitMaxViolations: 10,
      rateLimitViolationWindowMs: 10_000,
      maxConnectionsPerIp: 0,
      trustProxy: 0,
      handshakeTimeoutMs: 10_000,
      backpressureBytes: 256 * 1024,
      slowClientMaxBytes: 2 * 1024 * 1024,
      slowClientStallMs: 10_000,
      slowClientCloseGraceMs: 2_000,
      perMessageDeflate: false,
    } satisfies ResolvedTaskStatusOptions);
  });

  it('lets explicit values win over the defaults', () => {
    // Arrange
    const explicit: ResolvedTaskStatusOptions = {
      redisUrl: 'rediss://redis.example.com:6380/1',
      channel: 'other_channel',
      maxConnections: 5,
      maxMessageBytes: 1024,
      maxSubscriptionsPerConnection: 3,
      heartbeatIntervalMs: 0,
      allowedOrigins: ['https://app.example.com'],
      shutdownTimeoutMs: 500,
      drainWindowMs: 0,
      statsMaxTasks: 10,
      instanceId: 'gateway-a',
      metrics: false,
      auth: {
        enabled: true,
        jwtSecret: 'a-shared-secret-of-at-least-32-bytes',
        issuer: 'https://issuer.example.com',
        audience: ['task-status'],
        algorithms: ['HS512'],
        clockToleranceSeconds: 0,
        tasksClaim: 'allowed_tasks',
        adminClaim: 'roles=gateway-admin',
        statsToken: 'a-stats-token-of-16+',
        jwksCooldownMs: 0,
      },
      clusterHeartbeatIntervalMs: 0,
      demoPage: false,
      demoPublishEnabled: true,
      snapshotKeyPrefix: '',
      terminalStatuses: ['done'],
      canaryIntervalMs: 0,
      canaryTimeoutMs: 1_000,
      resyncBatchSize: 10,
      rateLimitPerSecond: 0,
      rateLimitBurst: 1,
      rateLimitMaxViolations: 0,
      rateLimitViolationWindowMs: 1_000,
      maxConnectionsPerIp: 3,
      trustProxy: 2,
      handshakeTimeoutMs: 500,
      backpressureBytes: 1024,
      slowClientMaxBytes: 4096,
      slowClientStallMs: 0,
      slowClientCloseGraceMs: 100,
      perMessageDeflate: true,
    };

    // Act
    const options = resolveTaskStatusOptions({ ...explicit });

    // Assert
    assert.deepEqual(options, explicit);
  });

  it('keeps falsy explicit values such as 0 and an empty string', () => {
    // Act
    const options = resolveTaskStatusOptions({
      redisUrl: REDIS_URL,
      heartbeatIntervalMs: 0,
      instanceId: '',
    });

    // Assert
    assert.equal(options.heartbeatIntervalMs, 0);
    assert.equal(options.instanceId, '');
  });

  it('does not let undefined values override the defaults', () => {
    // Act
    const options = resolveTaskStatusOptions({
      redisUrl: REDIS_URL,
      channel: undefined,
      maxConnections: undefined,
      maxMessageBytes: undefined,
      maxSubscriptionsPerConnection: undefined,
      heartbeatIntervalMs: undefined,
      allowedOrigins: undefined,
      shutdownTimeoutMs: undefined,
      statsMaxTasks: undefined,
      instanceId: undefined,
      metrics: undefined,
    });

    // Assert
    assert.equal(options.channel, 'task_status_updates');
    assert.equal(options.maxConnections, 1000);
    assert.equal(options.maxMessageBytes, 4096);
    assert.equal(options.maxSubscriptionsPerConnection, 100);
    assert.equal(options.heartbeatIntervalMs, 30_000);
    assert.deepEqual(options.allowedOrigins, []);
    assert.equal(options.shutdownTimeoutMs, 10_000);
    assert.equal(options.statsMaxTasks, 1000);
    assert.equal(options.instanceId, `${hostname()}-${process.pid}`);
    assert.equal(options.metrics, true);
    for (const [key, value] of Object.entries(options)) {
      assert.notEqual(value, undefined, key);
    }
  });

  it('gives each call its own default allowedOrigins array', () => {
    // Arrange
    const first = resolveTaskStatusOptions({ redisUrl: REDIS_URL });

    // Act
    first.allowedOrigins.push('https://mutated.example.com');
    const second = resolveTaskStatusOptions({ redisUrl: REDIS_URL });

    // Assert
    assert.deepEqual(second.allowedOrigins, []);
  });
});
