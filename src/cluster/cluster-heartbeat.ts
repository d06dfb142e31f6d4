import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { RedisCommandClient } from '../redis/redis-command-client.js';
import { InstanceStatsBuilder } from '../core/instance-stats.builder.js';
import { INSTANCE_ID } from '../core/task-status-core.module-definition.js';
import { CLUSTER_OPTIONS, type ResolvedClusterOptions } from './cluster-options.js';
import {
  clusterIndexKeyFor,
  HEARTBEAT_TOP_TASKS,
  instanceHeartbeatKey,
  type InstanceHeartbeat,
} from '../core/instance-heartbeat.js';

/** A heartbeat lives for three intervals: one late or lost write does not drop the instance. */
export const HEARTBEAT_TTL_INTERVALS = 3;
/** Index members silent for this long are pruned, whatever the clocks of the instances say. */
const MIN_INDEX_PRUNE_AGE_MS = 5 * 60_000;
const SHUTDOWN_DELETE_TIMEOUT_MS = 1_000;

/**
 * Publishes this instance's counts to Redis for the cluster view of /ws/stats: every interval,
 * `SET gateway:instances:{id} {json} PX 3*interval` and `ZADD gateway:instances {now} {id}` in
 * one transaction (`gateway:{instances}` and `gateway:{instances}:{id}` on a Redis Cluster, so
 * that both keys share a slot). The key's TTL is what makes an instance that died without a word disappear;
 * a clean shutdown deletes it at once.
 */
@Injectable()
export class ClusterHeartbeat implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private readonly onReady = (): void => void this.beat();

  constructor(
    @Inject(CLUSTER_OPTIONS) private readonly options: ResolvedClusterOptions,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    private readonly instanceStats: InstanceStatsBuilder,
    private readonly redis: RedisCommandClient,
  ) {}

  get enabled(): boolean {
    return this.options.heartbeatIntervalMs > 0;
  }

  get ttlMs(): number {
    return HEARTBEAT_TTL_INTERVALS * this.options.heartbeatIntervalMs;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    // At once when the command connection is (re)established, so a new instance shows up
    // without waiting a full interval.
    this.redis.connection.on('ready', this.onReady);
    this.timer = setInterval(() => void this.beat(), this.options.heartbeatIntervalMs);
    this.timer.unref();
    if (this.redis.connection.status === 'ready') void this.beat();
  }

  onModuleDestroy(): void {
    this.stop();
  }

  /**
   * Stops publishing and leaves the key to expire, as after a crash. Shutdown calls it first;
   * public for tests of the TTL path.
   */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.redis.connection.off('ready', this.onReady);
  }

  /** Removes this instance from the cluster view before the command connection quits. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.enabled) return;
    this.stop();
    let timer: NodeJS.Timeout | undefined;
    const index = clusterIndexKeyFor(this.redis.isCluster);
    const removal = this.redis.connection
      .multi()
      .del(instanceHeartbeatKey(this.instanceId, index))
      .zrem(index, this.instanceId)
      .exec()
      .catch(() => undefined); // Unreachable: the TTL removes the key instead.
    await Promise.race([
      removal,
      new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_DELETE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
  }

  /** One heartbeat. Never throws: an instance that cannot reach Redis simply ages out. */
  async beat(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    const now = Date.now();
    const id = this.instanceId;
    const pruneBefore = now - Math.max(MIN_INDEX_PRUNE_AGE_MS, 10 * this.ttlMs);
    const index = clusterIndexKeyFor(this.redis.isCluster);
    try {
      await this.redis.connection
        .multi()
        .set(instanceHeartbeatKey(id, index), JSON.stringify(this.snapshot(now)), 'PX', this.ttlMs)
        .zadd(index, now, id)
        // Instances that died long ago; the live ones are told apart by their key, not the score.
        .zremrangebyscore(index, '-inf', `(${pruneBefore}`)
        .pexpire(index, now - pruneBefore)
        .exec();
    } catch {
      // Redis unreachable: the Redis error listener reports it; the key expires meanwhile.
    } finally {
      this.inFlight = false;
    }
  }

  /** What this instance reports about itself: its stats at `now`, cut down to what peers merge. */
  snapshot(now = Date.now()): InstanceHeartbeat {
    const stats = this.instanceStats.build(HEARTBEAT_TOP_TASKS, now);
    return {
      v: 1,
      instance_id: stats.instance_id,
      channel: stats.redis.channel,
      sent_at: now,
      interval_ms: this.options.heartbeatIntervalMs,
      ttl_ms: this.ttlMs,
      uptime_seconds: stats.uptime_seconds,
      accepting_connections: stats.accepting_connections,
      total_connections: stats.total_connections,
      total_subscriptions: stats.total_subscriptions,
      tasks_with_subscribers: stats.tasks_with_subscribers,
      connections_per_task: stats.connections_per_task,
      connections_per_task_truncated: stats.connections_per_task_truncated,
      redis: {
        status: stats.redis.status,
        state: stats.redis.state,
        data_path: stats.redis.data_path,
      },
    };
  }
}
