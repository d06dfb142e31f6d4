import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { ConnectionsHealthIndicator } from '../health/connections.health.js';
import { HealthController } from '../health/health.controller.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { MetricsController } from '../metrics/metrics.controller.js';
import { RedisCommandClient } from '../redis/redis-command-client.js';
import { RedisConnectionFactory } from '../redis/redis-connection.factory.js';
import { RedisHealthIndicator } from '../redis/redis.health.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { StatsController } from '../stats/stats.controller.js';
import { ConnectionHeartbeat } from './connection-heartbeat.js';
import { DataPathCanary } from './data-path-canary.js';
import { TaskSnapshotReader } from './task-snapshot-reader.js';
import { TaskUpdateDelivery } from './task-update-delivery.js';
import { RedisSubscriberService } from './redis-subscriber.service.js';
import { resolveTaskStatusOptions } from './resolve-task-status-options.js';
import {
  TASK_STATUS_MODULE_OPTIONS,
  TASK_STATUS_OPTIONS,
  TaskStatusConfigurableModule,
} from './task-status.module-definition.js';
import type {
  ResolvedTaskStatusOptions,
  TaskStatusModuleOptions,
} from './task-status-module-options.js';
import { TaskStatusGateway } from './task-status.gateway.js';

/**
 * The gateway as a dynamic module: `TaskStatusModule.forRoot({ redisUrl })` or `forRootAsync`.
 * Register TaskStatusWsAdapter on the application so that its limits and routing apply.
 */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController, StatsController, MetricsController],
  providers: [
    {
      provide: TASK_STATUS_OPTIONS,
      inject: [TASK_STATUS_MODULE_OPTIONS],
      useFactory: (options: TaskStatusModuleOptions) => resolveTaskStatusOptions(options),
    },
    {
      provide: ConnectionRegistry,
      inject: [TASK_STATUS_OPTIONS],
      useFactory: (options: ResolvedTaskStatusOptions) =>
        new ConnectionRegistry(options.maxSubscriptionsPerConnection),
    },
    // Plain classes, one instance per application (several may share a process, as in tests).
    DeliveryCounters,
    ConnectionAdmission,
    RedisSubscriptionStatus,
    RedisConnectionFactory,
    {
      provide: RedisCommandClient,
      inject: [RedisConnectionFactory, TASK_STATUS_OPTIONS],
      useFactory: (factory: RedisConnectionFactory, options: ResolvedTaskStatusOptions) =>
        // Commands fail fast while Redis is down instead of queueing without bound.
        new RedisCommandClient(
          factory.create(options.redisUrl, 'commands', {
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
          }),
        ),
    },
    RedisHealthIndicator,
    ConnectionsHealthIndicator,
    ConnectionHeartbeat,
    TaskSnapshotReader,
    TaskUpdateDelivery,
    DataPathCanary,
    RedisSubscriberService,
    TaskStatusGateway,
    GatewayMetrics,
  ],
  exports: [
    TASK_STATUS_OPTIONS,
    ConnectionRegistry,
    DeliveryCounters,
    ConnectionAdmission,
    RedisSubscriptionStatus,
    RedisSubscriberService,
    RedisCommandClient,
    TaskUpdateDelivery,
    GatewayMetrics,
  ],
})
export class TaskStatusModule extends TaskStatusConfigurableModule {}
