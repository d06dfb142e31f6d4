import { registerAs } from '@nestjs/config';
import { parseEnvironment } from './parse-environment.js';

export const taskStateConfig = registerAs('taskState', () => {
  const env = parseEnvironment(process.env);
  return {
    snapshotKeyPrefix: env.TASK_STATUS_KEY_PREFIX,
    terminalStatuses: env.TASK_TERMINAL_STATUSES,
    canaryIntervalMs: env.CANARY_INTERVAL_MS,
    canaryTimeoutMs: env.CANARY_TIMEOUT_MS,
    resyncBatchSize: env.RESYNC_BATCH_SIZE,
  };
});
