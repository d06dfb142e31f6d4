import type { PubSubMode } from '@task-status/client/sharded-layout';
import { applyDefaults } from '../core/apply-defaults.js';

/** Where the updates come from (`REDIS_*` variables). */
export interface RedisOptions {
  /** redis:// or rediss:// URL of the Redis that publishers write to. Default `redis://localhost:6379/0`. */
  url?: string;
  /**
   * Pub/sub channel carrying the task updates; in `sharded` mode the base of each task's shard
   * channel. Default `task_status_updates`.
   */
  channel?: string;
  /**
   * `channel` (default): every update on the one channel, PUBLISH/SUBSCRIBE. `sharded` (Redis 7):
   * one shard channel per task, `{channel}:{p}:{task_id}`, subscribed with SSUBSCRIBE only while
   * a client here watches the task; snapshot keys `{prefix}{p}:{task_id}` (docs/scaling.md).
   */
  pubsubMode?: PubSubMode;
  /** p = CRC-32(task_id) mod partitions, in `sharded` mode; must equal the publishers'. Default 1024. */
  partitions?: number;
}

export type ResolvedRedisOptions = Required<RedisOptions>;

export const REDIS_OPTIONS = Symbol('REDIS_OPTIONS');

export function resolveRedisOptions(options?: RedisOptions): ResolvedRedisOptions {
  return applyDefaults(
    {
      url: 'redis://localhost:6379/0',
      channel: 'task_status_updates',
      pubsubMode: 'channel',
      partitions: 1024,
    },
    options,
  );
}
