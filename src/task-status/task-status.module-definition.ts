import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { TaskStatusModuleOptions } from './task-status-module-options.js';

export const {
  ConfigurableModuleClass: TaskStatusConfigurableModule,
  MODULE_OPTIONS_TOKEN: TASK_STATUS_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<TaskStatusModuleOptions>().setClassMethodName('forRoot').build();

/** Injection token of the options with every default applied. */
export const TASK_STATUS_OPTIONS = Symbol('TASK_STATUS_OPTIONS');
