import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ClusterHeartbeat } from '../cluster/cluster-heartbeat.js';
import { ClusterStatsReader } from '../cluster/cluster-stats.reader.js';
import { AUTH_OPTIONS } from '../auth/auth-options.js';
import { ConnectionSessions } from '../auth/connection-sessions.js';
import { JwtVerifier } from '../auth/jwt-verifier.js';
import { TaskAccessPolicy } from '../auth/task-access-policy.js';
import { UpgradeAuthenticator } from '../auth/upgrade-authenticator.js';
import { CLOCK, systemClock } from '../clock/clock.js';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { DemoAssets } from '../demo/demo-assets.js';
import { DemoPageController } from '../demo/demo-page.controller.js';
import { DemoSimulationController } from '../demo/demo-simulation.controller.js';
import { DemoTaskSimulator } from '../demo/demo-task-simulator.js';
import { ConnectionsHealthIndicator } from '../health/connections.health.js';
import { HealthController } from '../health/health.controller.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { MetricsController } from '../metrics/metrics.controller.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { RedisCommandClient } from '../redis/redis-command-client.js';
import { RedisConnectionFactory } from '../redis/redis-connection.factory.js';
import { RedisHealthIndicator } from '../redis/redis.health.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { StatsController } from '../stats/stats.controller.js';
import { ConnectionHeartbeat } from './connection-heartbeat.js';
import { DataPathCanary } from './data-path-canary.js';
import { SlowConsumerGuard } from './slow-consumer-guard.js';
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
  controllers: [
    HealthController,
    StatsController,
    MetricsController,
    DemoPageController,
    DemoSimulationController,
  ],
  providers: [
    {
      provide: TASK_STATUS_OPTIONS,
      inject: [TASK_STATUS_MODULE_OPTIONS],
      useFactory: (options: TaskStatusModuleOptions) => resolveTaskStatusOptions(options),
    },
    {
      provide: AUTH_OPTIONS,
      inject: [TASK_STATUS_OPTIONS],
      useFactory: (options: ResolvedTaskStatusOptions) => options.auth,
    },
    // One provider, so that a test can override it for token expiry and the drain at once.
    { provide: CLOCK, useValue: systemClock },
    // TaskAccessPolicy is added by the module definition (the taskAccessPolicy extra).
    JwtVerifier,
    ConnectionSessions,
    UpgradeAuthenticator,
    {
      provide: ConnectionRegistry,
      inject: [TASK_STATUS_OPTIONS],
      useFactory: (options: ResolvedTaskStatusOptions) =>
        new ConnectionRegistry(options.maxSubscriptionsPerConnection),
    },
    // Plain classes, one instance per application (several may share a process, as in tests).
    DeliveryCounters,
    ConnectionAdmission,
    RateLimitCounters,
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
    SlowConsumerGuard,
    TaskUpdateDelivery,
    DataPathCanary,
    RedisSubscriberService,
    TaskStatusGateway,
    GatewayMetrics,
    ClusterHeartbeat,
    ClusterStatsReader,
    DemoAssets,
    DemoTaskSimulator,
  ],
  exports: [
    TASK_STATUS_OPTIONS,
    JwtVerifier,
    TaskAccessPolicy,
    ConnectionRegistry,
    DeliveryCounters,
    ConnectionAdmission,
    RateLimitCounters,
    RedisSubscriptionStatus,
    RedisSubscriberService,
    RedisCommandClient,
    TaskUpdateDelivery,
    GatewayMetrics,
  ],
})
export class TaskStatusModule extends TaskStatusConfigurableModule {}
