import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostname } from 'node:os';
import { resolveCoreOptions, type ResolvedCoreOptions } from './task-status-core-options.js';

describe('resolveCoreOptions', () => {
  it('fills every option left out with its documented default', () => {
    // Act
    const options = resolveCoreOptions({});

    // Assert
    assert.deepEqual(options, {
      redis: {
        url: 'redis://localhost:6379/0',
        channel: 'task_status_updates',
        pubsubMode: 'channel',
        partitions: 1024,
        clusterNodes: [],
        unsubscribeGraceMs: 30_000,
        clusterSlotsRefreshMs: 5_000,
      },
      instanceId: `${hostname()}-${process.pid}`,
      taskState: {
        snapshotKeyPrefix: 'task:status:',
        terminalStatuses: ['completed', 'failed', 'cancelled'],
        resyncBatchSize: 500,
        groupKeyPrefix: 'task:group:',
        groupSnapshotMaxTasks: 100,
      },
      delivery: {
        backpressureBytes: 256 * 1024,
        slowClientMaxBytes: 2 * 1024 * 1024,
        slowClientStallMs: 10_000,
        slowClientCloseGraceMs: 2_000,
      },
      canary: { intervalMs: 5_000, timeoutMs: 15_000 },
      limits: {
        maxConnections: 1000,
        maxConnectionsPerIp: 0,
        trustProxy: 0,
        allowedOrigins: [],
        maxSubscriptionsPerConnection: 100,
        maxGroupsPerConnection: 10,
      },
      auth: {
        enabled: false,
        audience: [],
        algorithms: [],
        clockToleranceSeconds: 5,
        tasksClaim: 'tasks',
        groupsClaim: 'groups',
        adminClaim: 'admin',
        jwksCooldownMs: 30_000,
      },
    } satisfies ResolvedCoreOptions);
  });

  it('lets explicit values win over the defaults', () => {
    // Arrange
    const explicit: ResolvedCoreOptions = {
      redis: {
        url: 'rediss://redis.example.com:6380/1',
        channel: 'other_channel',
        pubsubMode: 'sharded',
        partitions: 64,
        clusterNodes: [],
        unsubscribeGraceMs: 5_000,
        clusterSlotsRefreshMs: 5_000,
      },
      instanceId: 'gateway-a',
      taskState: {
        snapshotKeyPrefix: '',
        terminalStatuses: ['done'],
        resyncBatchSize: 10,
        groupKeyPrefix: 'g:',
        groupSnapshotMaxTasks: 0,
      },
      delivery: {
        backpressureBytes: 1024,
        slowClientMaxBytes: 4096,
        slowClientStallMs: 0,
        slowClientCloseGraceMs: 100,
      },
      canary: { intervalMs: 0, timeoutMs: 1_000 },
      limits: {
        maxConnections: 5,
        maxConnectionsPerIp: 3,
        trustProxy: 2,
        allowedOrigins: ['https://app.example.com'],
        maxSubscriptionsPerConnection: 3,
        maxGroupsPerConnection: 0,
      },
      auth: {
        enabled: true,
        jwtSecret: 'a-shared-secret-of-at-least-32-bytes',
        issuer: 'https://issuer.example.com',
        audience: ['task-status'],
        algorithms: ['HS512'],
        clockToleranceSeconds: 0,
        tasksClaim: 'allowed_tasks',
        groupsClaim: 'projects',
        adminClaim: 'roles=gateway-admin',
        statsToken: 'a-stats-token-of-16+',
        jwksCooldownMs: 0,
      },
    };

    // Act
    const options = resolveCoreOptions(structuredClone(explicit));

    // Assert
    assert.deepEqual(options, explicit);
  });

  it('keeps falsy explicit values such as 0 and an empty string', () => {
    // Act
    const options = resolveCoreOptions({
      instanceId: '',
      taskState: { snapshotKeyPrefix: '' },
      canary: { intervalMs: 0 },
    });

    // Assert
    assert.equal(options.instanceId, '');
    assert.equal(options.taskState.snapshotKeyPrefix, '');
    assert.equal(options.canary.intervalMs, 0);
  });

  it('does not let undefined values override the defaults (as config namespaces pass unset variables)', () => {
    // Act
    const options = resolveCoreOptions({
      redis: { url: undefined, channel: undefined },
      instanceId: undefined,
      limits: { maxConnections: undefined, allowedOrigins: undefined },
      delivery: { backpressureBytes: undefined },
    });

    // Assert
    assert.equal(options.redis.url, 'redis://localhost:6379/0');
    assert.equal(options.redis.channel, 'task_status_updates');
    assert.equal(options.limits.maxConnections, 1000);
    assert.deepEqual(options.limits.allowedOrigins, []);
    assert.equal(options.delivery.backpressureBytes, 256 * 1024);
    assert.equal(options.instanceId, `${hostname()}-${process.pid}`);
  });

  it('gives each call its own default allowedOrigins array', () => {
    // Arrange
    const first = resolveCoreOptions();

    // Act
    first.limits.allowedOrigins.push('https://mutated.example.com');
    const second = resolveCoreOptions();

    // Assert
    assert.deepEqual(second.limits.allowedOrigins, []);
  });

  it('names every auth problem at once', () => {
    assert.throws(() => resolveCoreOptions({ auth: { jwtSecret: 'short' } }), /auth\.jwtSecret/);
  });
});
