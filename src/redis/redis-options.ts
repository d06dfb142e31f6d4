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
  /**
   * Seed nodes (`host:port`) of a Redis Cluster. When given, both connections are ioredis
   * `Cluster` clients (the subscriber with one sharded subscriber per primary) and of `url` only
   * the username, password and `rediss://` (TLS) are used, for every node; needs
   * `pubsubMode: 'sharded'`. Default `[]`: a single Redis at `url`.
   */
  clusterNodes?: string[];
  /**
   * In `sharded` mode, how long a task's shard channel stays subscribed after its last watcher
   * here left, so that a client that reloads or reconnects finds it still subscribed (no
   * SUNSUBSCRIBE + SSUBSCRIBE). `0` unsubscribes at once. Default 30000.
   */
  unsubscribeGraceMs?: number;
  /**
   * On a Redis Cluster, how often the subscriber re-reads the slot map (ioredis
   * `slotsRefreshInterval`), so that a moved slot or a failover is noticed even when no
   * `sunsubscribe` push or `MOVED` reply announced it; 0 turns the periodic refresh off. Default
   * 5000.
   */
  clusterSlotsRefreshMs?: number;
}

export type ResolvedRedisOptions = Required<RedisOptions>;

export const REDIS_OPTIONS = Symbol('REDIS_OPTIONS');

/** One day: a longer grace only holds channels nobody is coming back for. */
export const MAX_UNSUBSCRIBE_GRACE_MS = 86_400_000;

export function resolveRedisOptions(options?: RedisOptions): ResolvedRedisOptions {
  const resolved = applyDefaults(
    {
      url: 'redis://localhost:6379/0',
      channel: 'task_status_updates',
      pubsubMode: 'channel',
      partitions: 1024,
      clusterNodes: [],
      unsubscribeGraceMs: 30_000,
      clusterSlotsRefreshMs: 5_000,
    },
    options,
  );
  const grace = resolved.unsubscribeGraceMs;
  if (!Number.isInteger(grace) || grace < 0 || grace > MAX_UNSUBSCRIBE_GRACE_MS) {
    throw new RangeError(
      `unsubscribeGraceMs must be an integer from 0 to ${MAX_UNSUBSCRIBE_GRACE_MS}, got ${String(grace)}`,
    );
  }
  // Classic pub/sub on a cluster is broadcast to every node: the one mode that does not scale.
  if (resolved.clusterNodes.length > 0 && resolved.pubsubMode !== 'sharded') {
    throw new Error('A Redis Cluster (clusterNodes) needs pubsubMode "sharded"');
  }
  if (!Number.isInteger(resolved.clusterSlotsRefreshMs) || resolved.clusterSlotsRefreshMs < 0) {
    throw new Error('clusterSlotsRefreshMs must be a whole number of milliseconds, 0 or more');
  }
  return resolved;
}
