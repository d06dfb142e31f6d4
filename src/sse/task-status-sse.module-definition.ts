import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SseOptions } from './sse-options.js';

export const {
  ConfigurableModuleClass: TaskStatusSseConfigurableModule,
  MODULE_OPTIONS_TOKEN: TASK_STATUS_SSE_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<SseOptions>().setClassMethodName('forRoot').build();
