import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { DemoOptions } from './demo-options.js';

export const {
  ConfigurableModuleClass: TaskStatusDemoConfigurableModule,
  MODULE_OPTIONS_TOKEN: TASK_STATUS_DEMO_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<DemoOptions>().setClassMethodName('forRoot').build();
