import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { StatsOptions } from './stats-options.js';

export const {
  ConfigurableModuleClass: TaskStatusStatsConfigurableModule,
  MODULE_OPTIONS_TOKEN: TASK_STATUS_STATS_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<StatsOptions>().setClassMethodName('forRoot').build();
