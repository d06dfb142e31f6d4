import { Module } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth/auth-options.js';
import { CLOCK, systemClock } from '../clock/clock.js';
import { ConnectionSessions } from '../auth/connection-sessions.js';
import { JwtVerifier } from '../auth/jwt-verifier.js';
import { AccessVerdicts } from '../auth/access-verdicts.js';
import { TaskAccessPolicy } from '../auth/task-access-policy.js';
import { UpgradeAuthenticator } from '../auth/upgrade-authenticator.js';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { CONNECTION_LIMITS_OPTIONS } from '../connections/connection-limits-options.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { OpenConnections } from '../connections/open-connections.js';
import { CANARY_OPTIONS } from '../outbound/canary-options.js';
import { ClusterTopologyWatcher } from '../outbound/cluster-topology-watcher.js';
import { DataPathCanary } from '../outbound/data-path-canary.js';
import { GroupSubscriptions } from '../outbound/group-subscriptions.js';
import { GroupTaskIndex } from '../outbound/group-task-index.js';
import { DELIVERY_OPTIONS } from '../outbound/delivery-options.js';
import { RedisSubscriberService } from '../outbound/redis-subscriber.service.js';
import { ShardChannelSubscriptions } from '../outbound/shard-channel-subscriptions.js';
import { SlowConsumerGuard } from '../outbound/slow-consumer-guard.js';
import { LiveUpdateRelay } from '../outbound/live-update-relay.js';
import {
  TASK_STATE_OPTIONS,
  type ResolvedTaskStateOptions,
} from '../outbound/task-state-options.js';
import { TaskStateTracker } from '../outbound/task-state-tracker.js';
import { TaskSnapshotReader } from '../outbound/task-snapshot-reader.js';
import { SnapshotWriter } from '../outbound/snapshot-writer.js';
import { TaskUpdateDelivery } from '../outbound/task-update-delivery.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { RedisCommandClient } from '../redis/redis-command-client.js';
import { RedisConnectionFactory } from '../redis/redis-connection.factory.js';
import { REDIS_OPTIONS, type ResolvedRedisOptions } from '../redis/redis-options.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';
import { ConnectionGate } from './connection-gate.js';
import { InstanceStatsBuilder } from './instance-stats.builder.js';
import { ReportedLimits } from './reported-limits.js';
import {
  CORE_OPTIONS,
  INSTANCE_ID,
  TASK_STATUS_CORE_MODULE_OPTIONS,
  TaskStatusCoreConfigurableModule,
} from './task-status-core.module-definition.js';
import {
  resolveCoreOptions,
  type ResolvedCoreOptions,
  type TaskStatusCoreOptions,
} from './task-status-core-options.js';

/** Each concern's resolved options under a token of its own, so a class injects only what it reads. */
const optionsProvider = (token: symbol, pick: (options: ResolvedCoreOptions) => unknown) => ({
  provide: token,
  inject: [CORE_OPTIONS],
  useFactory: pick,
});

/**
 * What every transport and feature builds on: the Redis connections, the registry of who watches
 * which task, the path from Redis to the sockets, the counters, and authentication.
 * `TaskStatusCoreModule.forRoot({ redis: { url } })` or `forRootAsync`, once per application;
 * then add the feature modules (TaskStatusGatewayModule for WebSocket clients, health, stats,
 * metrics, cluster, demo).
 */
@Module({
  providers: [
    {
      provide: CORE_OPTIONS,
      inject: [TASK_STATUS_CORE_MODULE_OPTIONS],
      useFactory: (options: TaskStatusCoreOptions) => resolveCoreOptions(options),
    },
    optionsProvider(REDIS_OPTIONS, (options) => options.redis),
    optionsProvider(INSTANCE_ID, (options) => options.instanceId),
    optionsProvider(TASK_STATE_OPTIONS, (options) => options.taskState),
    optionsProvider(DELIVERY_OPTIONS, (options) => options.delivery),
    optionsProvider(CANARY_OPTIONS, (options) => options.canary),
    optionsProvider(CONNECTION_LIMITS_OPTIONS, (options) => options.limits),
    optionsProvider(AUTH_OPTIONS, (options) => options.auth),
    // One provider, so that a test can override it for token expiry and the drain at once.
    { provide: CLOCK, useValue: systemClock },
    // TaskAccessPolicy is added by the module definition (the taskAccessPolicy extra).
    AccessVerdicts,
    JwtVerifier,
    ConnectionSessions,
    UpgradeAuthenticator,
    {
      provide: ConnectionRegistry,
      inject: [CORE_OPTIONS],
      useFactory: (options: ResolvedCoreOptions) =>
        new ConnectionRegistry(
          options.limits.maxSubscriptionsPerConnection,
          options.limits.maxGroupsPerConnection,
        ),
    },
    {
      provide: ReportedLimits,
      inject: [CORE_OPTIONS],
      useFactory: ({ limits }: ResolvedCoreOptions) => {
        const reported = new ReportedLimits();
        reported.set('max_connections', limits.maxConnections);
        reported.set('max_subscriptions_per_connection', limits.maxSubscriptionsPerConnection);
        reported.set('max_connections_per_ip', limits.maxConnectionsPerIp);
        reported.set('max_groups_per_connection', limits.maxGroupsPerConnection);
        return reported;
      },
    },
    // Plain classes, one instance per application (several may share a process, as in tests).
    DeliveryCounters,
    GroupTaskIndex,
    ConnectionAdmission,
    OpenConnections,
    ConnectionGate,
    RateLimitCounters,
    RedisSubscriptionStatus,
    RedisConnectionFactory,
    {
      provide: RedisCommandClient,
      inject: [RedisConnectionFactory, REDIS_OPTIONS],
      useFactory: (factory: RedisConnectionFactory, redis: ResolvedRedisOptions) =>
        // Commands fail fast while Redis is down instead of queueing without bound.
        new RedisCommandClient(
          redis.clusterNodes.length > 0
            ? factory.createCluster(
                redis.clusterNodes,
                redis.url,
                'commands',
                { enableOfflineQueue: false },
                { maxRetriesPerRequest: 1 },
              )
            : factory.create(redis.url, 'commands', {
                enableOfflineQueue: false,
                maxRetriesPerRequest: 1,
              }),
        ),
    },
    {
      provide: TaskChannelLayout,
      inject: [REDIS_OPTIONS],
      useFactory: (redis: ResolvedRedisOptions) => new TaskChannelLayout(redis),
    },
    ShardChannelSubscriptions,
    TaskSnapshotReader,
    {
      provide: TaskStateTracker,
      inject: [TASK_STATE_OPTIONS],
      useFactory: (taskState: ResolvedTaskStateOptions) =>
        new TaskStateTracker(new Set(taskState.terminalStatuses)),
    },
    SlowConsumerGuard,
    LiveUpdateRelay,
    SnapshotWriter,
    TaskUpdateDelivery,
    GroupSubscriptions,
    DataPathCanary,
    ClusterTopologyWatcher,
    RedisSubscriberService,
    InstanceStatsBuilder,
  ],
  exports: [
    CLOCK,
    CORE_OPTIONS,
    REDIS_OPTIONS,
    INSTANCE_ID,
    TASK_STATE_OPTIONS,
    DELIVERY_OPTIONS,
    CANARY_OPTIONS,
    CONNECTION_LIMITS_OPTIONS,
    AUTH_OPTIONS,
    JwtVerifier,
    ConnectionSessions,
    UpgradeAuthenticator,
    TaskAccessPolicy,
    AccessVerdicts,
    ConnectionRegistry,
    ReportedLimits,
    DeliveryCounters,
    ConnectionAdmission,
    OpenConnections,
    ConnectionGate,
    RateLimitCounters,
    RedisSubscriptionStatus,
    RedisCommandClient,
    TaskChannelLayout,
    ShardChannelSubscriptions,
    TaskSnapshotReader,
    LiveUpdateRelay,
    TaskUpdateDelivery,
    GroupSubscriptions,
    GroupTaskIndex,
    DataPathCanary,
    ClusterTopologyWatcher,
    RedisSubscriberService,
    InstanceStatsBuilder,
  ],
})
export class TaskStatusCoreModule extends TaskStatusCoreConfigurableModule {}
