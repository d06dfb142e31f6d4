import { ConfigurableModuleBuilder } from '@nestjs/common';
import { taskAccessPolicyProvider } from '../auth/task-access-policy.provider.js';
import type { TaskStatusCoreExtras, TaskStatusCoreOptions } from './task-status-core-options.js';

export const {
  ConfigurableModuleClass: TaskStatusCoreConfigurableModule,
  MODULE_OPTIONS_TOKEN: TASK_STATUS_CORE_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<TaskStatusCoreOptions>()
  .setClassMethodName('forRoot')
  // The access policy is a provider of its own, so it is chosen when the module is defined.
  // Global: the core is configured once per application, and every feature module reads it.
  .setExtras<TaskStatusCoreExtras>({ taskAccessPolicy: undefined }, (definition, extras) => ({
    ...definition,
    global: true,
    providers: [...(definition.providers ?? []), taskAccessPolicyProvider(extras.taskAccessPolicy)],
  }))
  .build();

/** Injection token of the core options with every default applied. */
export const CORE_OPTIONS = Symbol('CORE_OPTIONS');
/** Injection token of this instance's id (a string). */
export const INSTANCE_ID = Symbol('INSTANCE_ID');
