import { hostname } from 'node:os';
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
    metrics: true,
    ...stripUndefined(options),
    redisUrl: options.redisUrl,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as Partial<T>;
}
