import {
  Controller,
  DefaultValuePipe,
  Get,
  Inject,
  ParseEnumPipe,
  ParseIntPipe,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { WebSocket } from 'ws';
import { StatsAccessGuard } from '../auth/stats-access.guard.js';
import { ClusterStatsReader } from './cluster-stats.reader.js';
import type { ClusterStats } from './merge-cluster-stats.js';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { ReportedLimits } from '../core/reported-limits.js';
import { INSTANCE_ID } from '../core/task-status-core.module-definition.js';
import { REDIS_OPTIONS, type ResolvedRedisOptions } from '../redis/redis-options.js';
import { STATS_OPTIONS, type ResolvedStatsOptions } from './stats-options.js';

const DEFAULT_TASK_LIMIT = 100;

/** `instance` (the default): this instance's counts; `cluster`: every live instance's, merged. */
const STATS_SCOPES = { instance: 'instance', cluster: 'cluster' } as const;
type StatsScope = keyof typeof STATS_SCOPES;

@ApiTags('stats')
@Controller('ws')
// Task ids are private once authentication is on: STATS_TOKEN or an admin JWT (docs/security.md).
@UseGuards(StatsAccessGuard)
@ApiBearerAuth()
@ApiUnauthorizedResponse({
  description: 'Auth or STATS_TOKEN is configured and no valid Bearer credential was sent.',
})
@ApiForbiddenResponse({ description: 'A valid JWT without the admin claim (`AUTH_ADMIN_CLAIM`).' })
export class StatsController {
  constructor(
    private readonly registry: ConnectionRegistry<WebSocket>,
    private readonly counters: DeliveryCounters,
    private readonly admission: ConnectionAdmission,
    private readonly redisStatus: RedisSubscriptionStatus,
    @Inject(STATS_OPTIONS) private readonly options: ResolvedStatsOptions,
    @Inject(REDIS_OPTIONS) private readonly redisOptions: ResolvedRedisOptions,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    private readonly limits: ReportedLimits,
    private readonly cluster: ClusterStatsReader,
    private readonly rateLimits: RateLimitCounters,
  ) {}

  /**
   * Counts for operators. `connections_per_task` lists the `limit` busiest tasks (default 100,
   * at most STATS_MAX_TASKS), so the answer stays small however many tasks are watched.
   */
  @Get('stats')
  @ApiQuery({
    name: 'limit',
    required: false,
    type: 'integer',
    description: `Busiest tasks listed in connections_per_task (default ${DEFAULT_TASK_LIMIT}, capped at STATS_MAX_TASKS).`,
  })
  @ApiOkResponse({
    description: 'Counts of this instance; every field is described in docs/operations.md#stats.',
    schema: { type: 'object' },
  })
  @ApiQuery({
    name: 'scope',
    required: false,
    enum: Object.keys(STATS_SCOPES),
    description:
      '`cluster`: every live instance, from the heartbeats they keep in Redis (totals, one entry per instance, merged busiest tasks). Default `instance`.',
  })
  @ApiBadRequestResponse({ description: '`limit` is not an integer, or `scope` is unknown.' })
  @ApiServiceUnavailableResponse({ description: '`scope=cluster` while Redis is unreachable.' })
  stats(
    @Query('limit', new DefaultValuePipe(DEFAULT_TASK_LIMIT), ParseIntPipe) limit: number,
    @Query('scope', new ParseEnumPipe(STATS_SCOPES, { optional: true })) scope?: StatsScope,
  ) {
    const taskLimit = Math.max(0, Math.min(limit, this.options.maxTasks));
    if (scope === 'cluster') return this.clusterStats(taskLimit);
    const top = this.registry.topTasks(taskLimit);
    const counters = this.counters;
    return {
      total_connections: this.registry.connectionCount,
      total_subscriptions: this.registry.subscriptionCount,
      tasks_with_subscribers: this.registry.taskCount,
      connections_per_task: Object.fromEntries(
        top.map((entry) => [entry.taskId, entry.connections]),
      ),
      connections_per_task_limit: taskLimit,
      connections_per_task_truncated: top.length < this.registry.taskCount,
      instance_id: this.instanceId,
      uptime_seconds: Math.round((Date.now() - counters.startedAt) / 1000),
      redis: {
        status: this.redisStatus.isUp ? 'connected' : 'disconnected',
        state: this.redisStatus.state,
        channel: this.redisOptions.channel,
        resubscriptions: this.redisStatus.resubscriptions,
        data_path: this.redisStatus.dataPathHealthy ? 'ok' : 'stalled',
        canary_round_trip_ms: this.redisStatus.canaryRoundTripMs ?? null,
        last_canary_at: toIsoOrNull(this.redisStatus.lastCanaryAt),
        last_error: this.redisStatus.lastError ?? null,
      },
      messages: {
        received: counters.messagesReceived,
        routed: counters.updatesRouted,
        unrouted: counters.updatesUnrouted,
        dropped: counters.messagesDropped,
        dropped_by_reason: { ...counters.dropped },
        superseded: { ...counters.superseded },
      },
      snapshots: {
        delivered: counters.snapshotsDelivered,
        read_errors: counters.snapshotReadErrors,
        invalid: counters.snapshotsInvalid,
      },
      resyncs: { completed: counters.resyncs, updates_delivered: counters.resyncedUpdates },
      frames_delivered: counters.framesDelivered,
      connections_refused: { ...this.admission.refused },
      heartbeat_terminations: counters.heartbeatTerminations,
      slow_consumers: {
        detected: counters.slowConsumers,
        frames_coalesced: counters.framesCoalesced,
        frames_dropped: counters.framesDroppedOnClose,
        closed: counters.slowConsumerCloses,
      },
      rate_limited: {
        messages: this.rateLimits.messagesLimited,
        closed_connections: this.rateLimits.connectionsClosed,
      },
      limits: this.limits.snapshot(),
    };
  }

  private async clusterStats(taskLimit: number): Promise<ClusterStats> {
    try {
      return await this.cluster.read(taskLimit);
    } catch (error) {
      throw new ServiceUnavailableException(
        `Cluster view unavailable: Redis did not answer (${(error as Error).message})`,
      );
    }
  }
}

function toIsoOrNull(epochMs: number | undefined): string | null {
  return epochMs === undefined ? null : new Date(epochMs).toISOString();
}
