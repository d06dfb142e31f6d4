import { Module, type DynamicModule } from '@nestjs/common';
import {
  ConfigModule,
  type ConfigFactory,
  type ConfigFactoryKeyHost,
  type ConfigType,
} from '@nestjs/config';
import { TaskStatusClusterModule } from './cluster/task-status-cluster.module.js';
import { appConfig } from './config/app.config.js';
import { authConfig } from './config/auth.config.js';
import { canaryConfig } from './config/canary.config.js';
import { clusterConfig } from './config/cluster.config.js';
import { deliveryConfig } from './config/delivery.config.js';
import { demoConfig } from './config/demo.config.js';
import { environment } from './config/environment.js';
import { gatewayConfig } from './config/gateway.config.js';
import { limitsConfig } from './config/limits.config.js';
import { redisConfig } from './config/redis.config.js';
import { sseConfig } from './config/sse.config.js';
import { statsConfig } from './config/stats.config.js';
import { taskStateConfig } from './config/task-state.config.js';
import { TaskStatusCoreModule } from './core/task-status-core.module.js';
import { TaskStatusDemoModule } from './demo/task-status-demo.module.js';
import { TaskStatusHealthModule } from './health/task-status-health.module.js';
import { TaskStatusGatewayModule } from './inbound/task-status-gateway.module.js';
import { TaskStatusMetricsModule } from './metrics/task-status-metrics.module.js';
import { TaskStatusSseModule } from './sse/task-status-sse.module.js';
import { TaskStatusStatsModule } from './stats/task-status-stats.module.js';

/** A feature module's whole options object, as its config namespace reads it from the environment. */
function fromConfig<T extends object>(config: ConfigFactory<T> & ConfigFactoryKeyHost<T>) {
  return {
    imports: [ConfigModule.forFeature(config)],
    inject: [config.KEY],
    useFactory: (options: T) => options,
  };
}

/**
 * The standalone service: the core and every feature module, each given its config namespace.
 * Metrics and the demo are left out when switched off, so their routes do not exist.
 */
@Module({})
export class AppModule {
  static forRoot(): DynamicModule {
    const app: ConfigType<typeof appConfig> = appConfig();
    const demo = demoConfig();
    return {
      module: AppModule,
      imports: [
        // environment() has read .env already, and validated everything once.
        ConfigModule.forRoot({ ignoreEnvFile: true, load: [appConfig] }),
        TaskStatusCoreModule.forRootAsync({
          imports: [
            ConfigModule.forFeature(redisConfig),
            ConfigModule.forFeature(taskStateConfig),
            ConfigModule.forFeature(deliveryConfig),
            ConfigModule.forFeature(canaryConfig),
            ConfigModule.forFeature(limitsConfig),
            ConfigModule.forFeature(authConfig),
          ],
          inject: [
            redisConfig.KEY,
            taskStateConfig.KEY,
            deliveryConfig.KEY,
            canaryConfig.KEY,
            limitsConfig.KEY,
            authConfig.KEY,
          ],
          useFactory: (
            redis: ConfigType<typeof redisConfig>,
            taskState: ConfigType<typeof taskStateConfig>,
            delivery: ConfigType<typeof deliveryConfig>,
            canary: ConfigType<typeof canaryConfig>,
            limits: ConfigType<typeof limitsConfig>,
            auth: ConfigType<typeof authConfig>,
          ) => ({
            redis,
            instanceId: environment().INSTANCE_ID,
            taskState,
            delivery,
            canary,
            limits,
            auth,
          }),
        }),
        TaskStatusGatewayModule.forRootAsync(fromConfig(gatewayConfig)),
        TaskStatusSseModule.forRootAsync(fromConfig(sseConfig)),
        TaskStatusHealthModule,
        TaskStatusStatsModule.forRootAsync(fromConfig(statsConfig)),
        TaskStatusClusterModule.forRootAsync(fromConfig(clusterConfig)),
        ...(app.metricsEnabled ? [TaskStatusMetricsModule] : []),
        ...(demo.page || demo.publishEnabled
          ? [TaskStatusDemoModule.forRootAsync(fromConfig(demoConfig))]
          : []),
      ],
    };
  }
}
