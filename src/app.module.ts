import { Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { appConfig } from './config/app.config.js';
import { parseEnvironment } from './config/parse-environment.js';
import { redisConfig } from './config/redis.config.js';
import { taskStateConfig } from './config/task-state.config.js';
import { websocketConfig } from './config/websocket.config.js';
import { TaskStatusModule } from './task-status/task-status.module.js';

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
      ],
      inject: [appConfig.KEY, redisConfig.KEY, websocketConfig.KEY, taskStateConfig.KEY],
      useFactory: (
        app: ConfigType<typeof appConfig>,
        redis: ConfigType<typeof redisConfig>,
        websocket: ConfigType<typeof websocketConfig>,
        taskState: ConfigType<typeof taskStateConfig>,
      ) => ({
        ...taskState,
        redisUrl: redis.url,
        channel: redis.channel,
        maxConnections: websocket.maxConnections,
        maxMessageBytes: websocket.maxMessageBytes,
        maxSubscriptionsPerConnection: websocket.maxSubscriptionsPerConnection,
        heartbeatIntervalMs: websocket.heartbeatIntervalMs,
        statsMaxTasks: websocket.statsMaxTasks,
        allowedOrigins: app.corsOrigins,
        shutdownTimeoutMs: app.shutdownTimeoutMs,
        drainWindowMs: app.drainWindowMs,
        instanceId: app.instanceId,
        metrics: app.metricsEnabled,
      }),
    }),
  ],
})
export class AppModule {}
