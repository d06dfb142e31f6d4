import { ConfigurableModuleBuilder } from '@nestjs/common';
import { taskAccessPolicyProvider } from '../auth/task-access-policy.provider.js';
import type {
  TaskStatusModuleExtras,
  TaskStatusModuleOptions,
} from './task-status-module-options.js';

export const {
  ConfigurableModuleClass: TaskStatusConfigurableModule,
  MODULE_OPTIONS_TOKEN: TASK_STATUS_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<TaskStatusModuleOptions>()
  .setClassMethodName('forRoot')
  // The access policy is a provider of its own, so it is chosen when the module is defined.
  .setExtras<TaskStatusModuleExtras>({ taskAccessPolicy: undefined }, (definition, extras) => ({
    ...definition,
    providers: [...(definition.providers ?? []), taskAccessPolicyProvider(extras.taskAccessPolicy)],
  }))
  .build();

/** Injection token of the options with every default applied. */
export const TASK_STATUS_OPTIONS = Symbol('TASK_STATUS_OPTIONS');
