import { hostname } from 'node:os';
import type { ResolvedAuthOptions, TaskStatusAuthOptions } from '../auth/auth-options.js';
import { resolveAuthOptions } from '../auth/resolve-auth-options.js';
import type { TaskAccessPolicyOption } from '../auth/task-access-policy.provider.js';
import {
  resolveConnectionLimitsOptions,
  type ConnectionLimitsOptions,
  type ResolvedConnectionLimitsOptions,
} from '../connections/connection-limits-options.js';
import {
  resolveCanaryOptions,
  type CanaryOptions,
  type ResolvedCanaryOptions,
} from '../outbound/canary-options.js';
import {
  resolveDeliveryOptions,
  type DeliveryOptions,
  type ResolvedDeliveryOptions,
} from '../outbound/delivery-options.js';
import {
  resolveTaskStateOptions,
  type ResolvedTaskStateOptions,
  type TaskStateOptions,
} from '../outbound/task-state-options.js';
import {
  resolveRedisOptions,
  type RedisOptions,
  type ResolvedRedisOptions,
} from '../redis/redis-options.js';

/**
 * What an application passes to TaskStatusCoreModule.forRoot / forRootAsync: one small object per
 * concern, each with its defaults beside its definition. Every field is optional.
 */
export interface TaskStatusCoreOptions {
  redis?: RedisOptions;
  /** Identifies this instance in stats, logs and the cluster view. Default hostname-pid. */
  instanceId?: string;
  taskState?: TaskStateOptions;
  delivery?: DeliveryOptions;
  canary?: CanaryOptions;
  limits?: ConnectionLimitsOptions;
  /**
   * JWT authentication of upgrades, per-task authorization, and the protection of /ws/stats and
   * /metrics (docs/security.md). Off while no key source is set. Default {} (off).
   */
  auth?: TaskStatusAuthOptions;
}

/**
 * Given to forRoot / forRootAsync beside the options (not inside forRootAsync's factory): they
 * shape the module's providers, so they must be known before any factory runs.
 */
export interface TaskStatusCoreExtras {
  /**
   * Replaces the default TaskAccessPolicy (the tasks claim): a class Nest instantiates, or
   * `{ useFactory, inject }`. Consulted only while authentication is on.
   */
  taskAccessPolicy?: TaskAccessPolicyOption;
}

export interface ResolvedCoreOptions {
  redis: ResolvedRedisOptions;
  instanceId: string;
  taskState: ResolvedTaskStateOptions;
  delivery: ResolvedDeliveryOptions;
  canary: ResolvedCanaryOptions;
  limits: ResolvedConnectionLimitsOptions;
  auth: ResolvedAuthOptions;
}

export function resolveCoreOptions(options: TaskStatusCoreOptions = {}): ResolvedCoreOptions {
  return {
    redis: resolveRedisOptions(options.redis),
    instanceId: options.instanceId ?? `${hostname()}-${process.pid}`,
    taskState: resolveTaskStateOptions(options.taskState),
    delivery: resolveDeliveryOptions(options.delivery),
    canary: resolveCanaryOptions(options.canary),
    limits: resolveConnectionLimitsOptions(options.limits),
    // Checked here, so a bad combination fails the boot with every problem named.
    auth: resolveAuthOptions(options.auth),
  };
}
