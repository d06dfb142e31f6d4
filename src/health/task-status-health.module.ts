import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { RedisHealthIndicator } from '../redis/redis.health.js';
import { ConnectionsHealthIndicator } from './connections.health.js';
import { HealthController } from './health.controller.js';

/** `/health`, `/health/live` and `/health/ready` (Terminus) for load balancers and Kubernetes. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [RedisHealthIndicator, ConnectionsHealthIndicator],
})
export class TaskStatusHealthModule {}
