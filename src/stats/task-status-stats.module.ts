import { Module } from '@nestjs/common';
import { ClusterStatsReader } from './cluster-stats.reader.js';
import { STATS_OPTIONS, resolveStatsOptions, type StatsOptions } from './stats-options.js';
import { StatsController } from './stats.controller.js';
import {
  TASK_STATUS_STATS_MODULE_OPTIONS,
  TaskStatusStatsConfigurableModule,
} from './task-status-stats.module-definition.js';

/**
 * `GET /ws/stats`: this instance's counts, or (`?scope=cluster`) every live instance's, read from
 * the heartbeats that instances with TaskStatusClusterModule keep in Redis.
 */
@Module({
  controllers: [StatsController],
  providers: [
    {
      provide: STATS_OPTIONS,
      inject: [TASK_STATUS_STATS_MODULE_OPTIONS],
      useFactory: (options: StatsOptions) => resolveStatsOptions(options),
    },
    ClusterStatsReader,
  ],
})
export class TaskStatusStatsModule extends TaskStatusStatsConfigurableModule {}
