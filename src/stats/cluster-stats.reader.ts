import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottledLogger } from '../logging/throttled-logger.js';
import { RedisCommandClient } from '../redis/redis-command-client.js';
import { INSTANCE_ID } from '../core/task-status-core.module-definition.js';
import { REDIS_OPTIONS, type ResolvedRedisOptions } from '../redis/redis-options.js';
import {
  clusterIndexKeyFor,
  instanceHeartbeatKey,
  parseInstanceHeartbeat,
} from '../core/instance-heartbeat.js';
import {
  mergeClusterStats,
  type ClusterStats,
  type HeartbeatReading,
} from './merge-cluster-stats.js';

/** More instances than any deployment runs; bounds the work of one cluster stats request. */
const MAX_INSTANCES = 1_000;

/**
 * The cluster view: reads the heartbeats of every live instance from Redis (any instance can
 * answer for all) and merges them. Instances on another channel of the same Redis are left out.
 */
@Injectable()
export class ClusterStatsReader {
  private readonly logger = new Logger(ClusterStatsReader.name);
  private readonly warnings = new ThrottledLogger(this.logger, 5, 60_000);

  constructor(
    @Inject(REDIS_OPTIONS) private readonly redisOptions: ResolvedRedisOptions,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    private readonly redis: RedisCommandClient,
  ) {}

  /** Rejects when Redis cannot be asked. */
  async read(taskLimit: number): Promise<ClusterStats> {
    const connection = this.redis.connection;
    // On a Redis Cluster the index and the heartbeat keys share a slot: one pipeline is allowed.
    const index = clusterIndexKeyFor(this.redis.isCluster);
    const keyOf = (id: string): string => instanceHeartbeatKey(id, index);
    // Most recent first, so the bound keeps the live ones.
    const ids = await connection.zrevrange(index, 0, MAX_INSTANCES - 1);
    const readings: HeartbeatReading[] = [];
    if (ids.length > 0) {
      const pipeline = connection.pipeline();
      for (const id of ids) {
        pipeline.get(keyOf(id));
        pipeline.pttl(keyOf(id));
      }
      const replies = (await pipeline.exec()) ?? [];
      ids.forEach((id, index) => {
        const [getError, raw] = replies[2 * index] ?? [];
        const [, ttl] = replies[2 * index + 1] ?? [];
        if (getError) throw getError;
        // No key: the instance stopped or died; its index entry is pruned later.
        if (typeof raw !== 'string') return;
        const heartbeat = parseInstanceHeartbeat(raw);
        if (!heartbeat || heartbeat.instance_id !== id) {
          this.warnings.warn(`Ignored a malformed cluster heartbeat in ${keyOf(id)}`);
          return;
        }
        if (heartbeat.channel !== this.redisOptions.channel) return;
        // Age by Redis' own clock (TTL set minus TTL left), immune to clock skew between hosts.
        const ageMs =
          typeof ttl === 'number' && ttl >= 0 ? Math.max(0, heartbeat.ttl_ms - ttl) : null;
        readings.push({ heartbeat, ageMs });
      });
    }
    return mergeClusterStats(readings, { limit: taskLimit, answeredBy: this.instanceId });
  }
}
