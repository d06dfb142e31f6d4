import { applyDefaults } from '../core/apply-defaults.js';

/** Where the updates come from (`REDIS_*` variables). */
export interface RedisOptions {
  /** redis:// or rediss:// URL of the Redis that publishers write to. Default `redis://localhost:6379/0`. */
  url?: string;
  /** Pub/sub channel carrying the task updates. Default `task_status_updates`. */
  channel?: string;
}

export type ResolvedRedisOptions = Required<RedisOptions>;

export const REDIS_OPTIONS = Symbol('REDIS_OPTIONS');

export function resolveRedisOptions(options?: RedisOptions): ResolvedRedisOptions {
  return applyDefaults(
    { url: 'redis://localhost:6379/0', channel: 'task_status_updates' },
    options,
  );
}
