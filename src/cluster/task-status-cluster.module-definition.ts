import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ClusterOptions } from './cluster-options.js';

export const {
  ConfigurableModuleClass: TaskStatusClusterConfigurableModule,
  MODULE_OPTIONS_TOKEN: TASK_STATUS_CLUSTER_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<ClusterOptions>().setClassMethodName('forRoot').build();
