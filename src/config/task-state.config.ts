import { registerAs } from '@nestjs/config';
import type { TaskStateOptions } from '../outbound/task-state-options.js';
import type { EnvironmentVariables } from './environment-variables.js';
import { environment } from './environment.js';

/** The options as the environment sets them; unset variables stay undefined (the module's default). */
export function taskStateOptionsFromEnvironment(env: EnvironmentVariables): TaskStateOptions {
  return {
    snapshotKeyPrefix: env.TASK_STATUS_KEY_PREFIX,
    terminalStatuses: env.TASK_TERMINAL_STATUSES,
    resyncBatchSize: env.RESYNC_BATCH_SIZE,
    groupKeyPrefix: env.TASK_GROUP_KEY_PREFIX,
    groupSnapshotMaxTasks: env.GROUP_SNAPSHOT_MAX_TASKS,
  };
}

export const taskStateConfig = registerAs('taskState', () =>
  taskStateOptionsFromEnvironment(environment()),
);
