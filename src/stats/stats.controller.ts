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
import { StatsAccessGuard } from '../auth/stats-access.guard.js';
import { ClusterStatsReader } from './cluster-stats.reader.js';
import type { ClusterStats } from './merge-cluster-stats.js';
import type { InstanceStatsReport } from '../core/instance-stats.js';
import { InstanceStatsBuilder } from '../core/instance-stats.builder.js';
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
    @Inject(STATS_OPTIONS) private readonly options: ResolvedStatsOptions,
    private readonly instanceStats: InstanceStatsBuilder,
    private readonly cluster: ClusterStatsReader,
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
  ): InstanceStatsReport | Promise<ClusterStats> {
    const taskLimit = Math.max(0, Math.min(limit, this.options.maxTasks));
    if (scope === 'cluster') return this.clusterStats(taskLimit);
    return this.instanceStats.report(taskLimit);
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
