import {
  Controller,
  Get,
  HttpStatus,
  Inject,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  type HealthCheckResult,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import type { Response } from 'express';
import type { WebSocket } from 'ws';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { RedisHealthIndicator } from '../redis/redis.health.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { INSTANCE_ID } from '../core/task-status-core.module-definition.js';
import { ConnectionsHealthIndicator } from './connections.health.js';

export interface HealthSummary {
  status: 'healthy' | 'unhealthy';
  redis: 'connected' | 'disconnected';
  active_connections: number;
  instance_id: string;
  checks: HealthCheckResult['details'];
}

const SUMMARY_EXAMPLE = {
  status: 'healthy',
  redis: 'connected',
  active_connections: 5,
  instance_id: 'gateway-1',
  checks: {
    redis: { status: 'up', state: 'subscribed', since: '2026-11-25T19:53:50.194Z' },
    connections: { status: 'up', active: 5, accepting: true },
  },
};

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redis: RedisHealthIndicator,
    private readonly connections: ConnectionsHealthIndicator,
    private readonly redisStatus: RedisSubscriptionStatus,
    private readonly registry: ConnectionRegistry<WebSocket>,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
  ) {}

  /** The summary that dashboards and the original contract read: 200 healthy, 503 unhealthy. */
  @Get()
  @ApiOkResponse({
    description: 'Subscribed to Redis and accepting connections.',
    schema: { type: 'object', example: SUMMARY_EXAMPLE },
  })
  @ApiServiceUnavailableResponse({
    description: 'Redis subscriber down, or shutting down (`status: "unhealthy"`).',
  })
  async summary(@Res({ passthrough: true }) response: Response): Promise<HealthSummary> {
    const result = await this.evaluate([
      () => this.redis.isHealthy('redis'),
      () => this.connections.isHealthy('connections'),
    ]);
    const healthy = result.status === 'ok';
    response.status(healthy ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return {
      status: healthy ? 'healthy' : 'unhealthy',
      redis: this.redisStatus.isUp ? 'connected' : 'disconnected',
      active_connections: this.registry.connectionCount,
      instance_id: this.instanceId,
      checks: result.details,
    };
  }

  /** Liveness: the process serves HTTP. Never depends on Redis, so a Redis outage restarts nothing. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Readiness: subscribed to Redis and not shutting down. */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.redis.isHealthy('redis'),
      () => this.connections.isHealthy('connections'),
    ]);
  }

  private async evaluate(indicators: HealthIndicatorFunction[]): Promise<HealthCheckResult> {
    try {
      return await this.health.check(indicators);
    } catch (error) {
      // Terminus reports "down" by throwing a 503 that carries the full result.
      if (error instanceof ServiceUnavailableException) {
        return error.getResponse() as HealthCheckResult;
      }
      throw error;
    }
  }
}
