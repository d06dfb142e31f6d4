import { Controller, DefaultValuePipe, Get, Inject, ParseIntPipe, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { WebSocket } from 'ws';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { TASK_STATUS_OPTIONS } from '../task-status/task-status.module-definition.js';
import type { ResolvedTaskStatusOptions } from '../task-status/task-status-module-options.js';

const DEFAULT_TASK_LIMIT = 100;

@ApiTags('stats')
@Controller('ws')
export class StatsController {
  constructor(
    private readonly registry: ConnectionRegistry<WebSocket>,
    private readonly counters: DeliveryCounters,
    private readonly admission: ConnectionAdmission,
    private readonly redisStatus: RedisSubscriptionStatus,
    @Inject(TASK_STATUS_OPTIONS) private readonly options: ResolvedTaskStatusOptions,
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
  @ApiBadRequestResponse({ description: '`limit` is not an integer.' })
  stats(@Query('limit', new DefaultValuePipe(DEFAULT_TASK_LIMIT), ParseIntPipe) limit: number) {
    const taskLimit = Math.max(0, Math.min(limit, this.options.statsMaxTasks));
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
      instance_id: this.options.instanceId,
      uptime_seconds: Math.round((Date.now() - counters.startedAt) / 1000),
      redis: {
        status: this.redisStatus.isUp ? 'connected' : 'disconnected',
        state: this.redisStatus.state,
        channel: this.options.channel,
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
      limits: {
        max_connections: this.options.maxConnections,
        max_subscriptions_per_connection: this.options.maxSubscriptionsPerConnection,
        max_message_bytes: this.options.maxMessageBytes,
      },
    };
  }
}

function toIsoOrNull(epochMs: number | undefined): string | null {
  return epochMs === undefined ? null : new Date(epochMs).toISOString();
}
