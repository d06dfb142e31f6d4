import { Module } from '@nestjs/common';
import { ClusterHeartbeat } from './cluster-heartbeat.js';
import { CLUSTER_OPTIONS, resolveClusterOptions, type ClusterOptions } from './cluster-options.js';
import {
  TASK_STATUS_CLUSTER_MODULE_OPTIONS,
  TaskStatusClusterConfigurableModule,
} from './task-status-cluster.module-definition.js';

/**
 * This instance's counts, published to Redis every interval, so that any instance can answer
 * `GET /ws/stats?scope=cluster` for all (TaskStatusStatsModule reads them).
 */
@Module({
  providers: [
    {
      provide: CLUSTER_OPTIONS,
      inject: [TASK_STATUS_CLUSTER_MODULE_OPTIONS],
      useFactory: (options: ClusterOptions) => resolveClusterOptions(options),
    },
    ClusterHeartbeat,
  ],
  exports: [ClusterHeartbeat],
})
export class TaskStatusClusterModule extends TaskStatusClusterConfigurableModule {}
