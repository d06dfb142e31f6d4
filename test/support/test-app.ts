import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TaskStatusAuthOptions } from '../../src/auth/auth-options.js';
import { TaskStatusClusterModule } from '../../src/cluster/task-status-cluster.module.js';
import { configureApplication } from '../../src/configure-application.js';
import type { TaskStatusCoreOptions } from '../../src/core/task-status-core-options.js';
import { TaskStatusCoreModule } from '../../src/core/task-status-core.module.js';
import { TaskStatusDemoModule } from '../../src/demo/task-status-demo.module.js';
import { TaskStatusHealthModule } from '../../src/health/task-status-health.module.js';
import type { GatewayOptions } from '../../src/inbound/gateway-options.js';
import { TaskStatusGatewayModule } from '../../src/inbound/task-status-gateway.module.js';
import { TaskStatusMetricsModule } from '../../src/metrics/task-status-metrics.module.js';
import { RedisSubscriberService } from '../../src/outbound/redis-subscriber.service.js';
import { RedisSubscriptionStatus } from '../../src/redis/redis-subscription-status.js';
import { TaskStatusSseModule } from '../../src/sse/task-status-sse.module.js';
import { TaskStatusStatsModule } from '../../src/stats/task-status-stats.module.js';
import { withTimeout } from './with-timeout.js';

/**
 * The settings a test gives, one flat object in the names of the environment's settings; mapped
 * onto each module's own options by gatewayModules().
 */
export interface TestAppOptions {
  redisUrl: string;
  channel?: string;
  pubsubMode?: 'channel' | 'sharded';
  partitions?: number;
  /** host:port seeds of a Redis Cluster (then only the credentials and TLS of redisUrl are used). */
  clusterNodes?: string[];
  unsubscribeGraceMs?: number;
  clusterSlotsRefreshMs?: number;
  instanceId?: string;
  snapshotKeyPrefix?: string;
  terminalStatuses?: string[];
  resyncBatchSize?: number;
  backpressureBytes?: number;
  slowClientMaxBytes?: number;
  slowClientStallMs?: number;
  slowClientCloseGraceMs?: number;
  canaryIntervalMs?: number;
  canaryTimeoutMs?: number;
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  trustProxy?: number;
  allowedOrigins?: string[];
  maxSubscriptionsPerConnection?: number;
  maxGroupsPerConnection?: number;
  groupKeyPrefix?: string;
  groupSnapshotMaxTasks?: number;
  auth?: TaskStatusAuthOptions;
  maxMessageBytes?: number;
  heartbeatIntervalMs?: number;
  perMessageDeflate?: boolean;
  rateLimitPerSecond?: number;
  rateLimitBurst?: number;
  rateLimitMaxViolations?: number;
  rateLimitViolationWindowMs?: number;
  handshakeTimeoutMs?: number;
  shutdownTimeoutMs?: number;
  drainWindowMs?: number;
  sseHeartbeatMs?: number;
  sseRetryMs?: number;
  sseRetryJitterMs?: number;
  ssePaddingBytes?: number;
  statsMaxTasks?: number;
  clusterHeartbeatIntervalMs?: number;
  /** Import TaskStatusMetricsModule. Default true. */
  metrics?: boolean;
  /** Import TaskStatusDemoModule with the page on. Default true. */
  demoPage?: boolean;
  demoPublishEnabled?: boolean;
}

export function coreOptionsOf(options: TestAppOptions): TaskStatusCoreOptions {
  return {
    redis: {
      url: options.redisUrl,
      channel: options.channel,
      pubsubMode: options.pubsubMode,
      partitions: options.partitions,
      clusterNodes: options.clusterNodes,
      unsubscribeGraceMs: options.unsubscribeGraceMs,
      clusterSlotsRefreshMs: options.clusterSlotsRefreshMs,
    },
    instanceId: options.instanceId,
    taskState: {
      snapshotKeyPrefix: options.snapshotKeyPrefix,
      terminalStatuses: options.terminalStatuses,
      resyncBatchSize: options.resyncBatchSize,
      groupKeyPrefix: options.groupKeyPrefix,
      groupSnapshotMaxTasks: options.groupSnapshotMaxTasks,
    },
    delivery: {
      backpressureBytes: options.backpressureBytes,
      slowClientMaxBytes: options.slowClientMaxBytes,
      slowClientStallMs: options.slowClientStallMs,
      slowClientCloseGraceMs: options.slowClientCloseGraceMs,
    },
    canary: { intervalMs: options.canaryIntervalMs, timeoutMs: options.canaryTimeoutMs },
    limits: {
      maxConnections: options.maxConnections,
      maxConnectionsPerIp: options.maxConnectionsPerIp,
      trustProxy: options.trustProxy,
      allowedOrigins: options.allowedOrigins,
      maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection,
      maxGroupsPerConnection: options.maxGroupsPerConnection,
    },
    auth: options.auth,
  };
}

export function gatewayOptionsOf(options: TestAppOptions): GatewayOptions {
  return {
    maxMessageBytes: options.maxMessageBytes,
    // Heartbeats and the shutdown drain window off unless a test asks: they only add waiting.
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 0,
    perMessageDeflate: options.perMessageDeflate,
    rateLimitPerSecond: options.rateLimitPerSecond,
    rateLimitBurst: options.rateLimitBurst,
    rateLimitMaxViolations: options.rateLimitMaxViolations,
    rateLimitViolationWindowMs: options.rateLimitViolationWindowMs,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    drainWindowMs: options.drainWindowMs ?? 0,
  };
}

/** The feature modules of the standalone service, each with its part of the options. */
export function featureModules(options: TestAppOptions): Array<DynamicModule | Type> {
  return [
    TaskStatusGatewayModule.forRoot(gatewayOptionsOf(options)),
    TaskStatusSseModule.forRoot({
      // Heartbeats off unless a test asks, as for WebSocket.
      heartbeatMs: options.sseHeartbeatMs ?? 0,
      retryMs: options.sseRetryMs,
      retryJitterMs: options.sseRetryJitterMs,
      paddingBytes: options.ssePaddingBytes,
    }),
    TaskStatusHealthModule,
    TaskStatusStatsModule.forRoot({ maxTasks: options.statsMaxTasks }),
    TaskStatusClusterModule.forRoot({ heartbeatIntervalMs: options.clusterHeartbeatIntervalMs }),
    ...(options.metrics === false ? [] : [TaskStatusMetricsModule]),
    ...(options.demoPage === false && !options.demoPublishEnabled
      ? []
      : [
          TaskStatusDemoModule.forRoot({
            page: options.demoPage,
            publishEnabled: options.demoPublishEnabled,
          }),
        ]),
  ];
}

/** The core and every feature module, as the standalone service composes them. */
export function gatewayModules(options: TestAppOptions): Array<DynamicModule | Type> {
  return [TaskStatusCoreModule.forRoot(coreOptionsOf(options)), ...featureModules(options)];
}

export interface TestApp {
  app: INestApplication;
  port: number;
  httpUrl: string;
  wsUrl: string;
  /** Resolves once the Redis subscription is established (immediately if it already is). */
  subscribed(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Boots the core and the feature modules the way an importing application would, through the
 * Nest testing module, on a free loopback port, and waits until it is subscribed to Redis.
 */
export async function startTestApp(
  options: TestAppOptions,
  {
    waitForRedis = true,
    configure = (builder) => builder,
    port: requestedPort = 0,
    beforeListen = () => undefined,
    imports = gatewayModules(options),
  }: {
    waitForRedis?: boolean;
    /** A port chosen beforehand (e.g. with freePort()), for a URL known before the app starts. */
    port?: number;
    /** Overrides providers, e.g. to put a test double in front of one. */
    configure?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
    /** Runs on the configured application before it listens, e.g. setupApiDocs. */
    beforeListen?: (app: INestApplication) => void;
    /** The modules to boot instead of gatewayModules(options). */
    imports?: Array<DynamicModule | Type>;
  } = {},
): Promise<TestApp> {
  const moduleRef = await configure(Test.createTestingModule({ imports })).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'fatal'] });
  configureApplication(app);
  beforeListen(app);
  await app.listen(requestedPort, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const { port } = server.address() as AddressInfo;

  const status = app.get(RedisSubscriptionStatus);
  const subscriber = app.get(RedisSubscriberService);
  const subscribed = async (): Promise<void> => {
    if (status.isUp) return;
    await withTimeout(once(subscriber.events, 'subscribed'), 10_000, 'Redis subscription');
  };
  if (waitForRedis) await subscribed();

  return {
    app,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    subscribed,
    close: () => withTimeout(app.close(), 15_000, 'app.close()'),
  };
}
