import { Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { appConfig } from './config/app.config.js';
import { authConfig } from './config/auth.config.js';
import { parseEnvironment } from './config/parse-environment.js';
import { redisConfig } from './config/redis.config.js';
import { taskStateConfig } from './config/task-state.config.js';
import { websocketConfig } from './config/websocket.config.js';
import { TaskStatusModule } from './core/task-status.module.js';

/** The standalone service: configuration from the environment (and .env) around TaskStatusModule. */
@Module({
  imports: [
    ConfigModule.forRoot({
      envFilePath: '.env',
      load: [appConfig],
      // Fails the boot with every bad variable named; the raw values are kept for registerAs.
      validate: (raw) => {
        parseEnvironment(raw);
        return raw;
      },
    }),
    TaskStatusModule.forRootAsync({
      imports: [
        ConfigModule.forFeature(appConfig),
        ConfigModule.forFeature(redisConfig),
        ConfigModule.forFeature(websocketConfig),
        ConfigModule.forFeature(taskStateConfig),
        ConfigModule.forFeature(authConfig),
      ],
      inject: [
        appConfig.KEY,
        redisConfig.KEY,
        websocketConfig.KEY,
        taskStateConfig.KEY,
        authConfig.KEY,
      ],
      useFactory: (
        app: ConfigType<typeof appConfig>,
        redis: ConfigType<typeof redisConfig>,
        websocket: ConfigType<typeof websocketConfig>,
        taskState: ConfigType<typeof taskStateConfig>,
        auth: ConfigType<typeof authConfig>,
      ) => ({
        ...taskState,
        redisUrl: redis.url,
        channel: redis.channel,
        maxConnections: websocket.maxConnections,
        maxMessageBytes: websocket.maxMessageBytes,
        maxSubscriptionsPerConnection: websocket.maxSubscriptionsPerConnection,
        rateLimitPerSecond: websocket.rateLimitPerSecond,
        rateLimitBurst: websocket.rateLimitBurst,
        rateLimitMaxViolations: websocket.rateLimitMaxViolations,
        rateLimitViolationWindowMs: websocket.rateLimitViolationWindowMs,
        maxConnectionsPerIp: websocket.maxConnectionsPerIp,
        trustProxy: websocket.trustProxy,
        handshakeTimeoutMs: websocket.handshakeTimeoutMs,
        heartbeatIntervalMs: websocket.heartbeatIntervalMs,
        statsMaxTasks: websocket.statsMaxTasks,
        backpressureBytes: websocket.backpressureBytes,
        slowClientMaxBytes: websocket.slowClientMaxBytes,
        slowClientStallMs: websocket.slowClientStallMs,
        perMessageDeflate: websocket.perMessageDeflate,
        allowedOrigins: app.corsOrigins,
        shutdownTimeoutMs: app.shutdownTimeoutMs,
        drainWindowMs: app.drainWindowMs,
        instanceId: app.instanceId,
        metrics: app.metricsEnabled,
        auth,
        clusterHeartbeatIntervalMs: app.clusterHeartbeatIntervalMs,
        demoPage: app.demoPage,
        demoPublishEnabled: app.demoPublishEnabled,
      }),
    }),
  ],
})
export class AppModule {}
