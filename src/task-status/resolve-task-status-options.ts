import { hostname } from 'node:os';
import { resolveAuthOptions } from '../auth/resolve-auth-options.js';
import type {
  ResolvedTaskStatusOptions,
  TaskStatusModuleOptions,
} from './task-status-module-options.js';

export function resolveTaskStatusOptions(
  options: TaskStatusModuleOptions,
): ResolvedTaskStatusOptions {
  return {
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
    metrics: true,
    clusterHeartbeatIntervalMs: 5_000,
    demoPage: true,
    demoPublishEnabled: false,
    ...stripUndefined(options),
    redisUrl: options.redisUrl,
    // Checked here, so a bad combination fails the boot with every problem named.
    auth: resolveAuthOptions(options.auth),
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as Partial<T>;
}
