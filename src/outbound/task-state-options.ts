import { applyDefaults } from '../core/apply-defaults.js';

/** The latest state publishers keep per task, and the order rules of delivery. */
export interface TaskStateOptions {
  /**
   * Key prefix of the latest state publishers keep per task (`SET {prefix}{task_id}`), sent on
   * subscribe and re-read after a Redis reconnect. Empty disables both. Default `task:status:`.
   */
  snapshotKeyPrefix?: string;
  /** Statuses after which a task's non-terminal updates are dropped. Default completed, failed, cancelled. */
  terminalStatuses?: string[];
  /** Keys read per MGET when resyncing after a reconnect. Default 500. */
  resyncBatchSize?: number;
  /**
   * Key prefix of each group's task index (a sorted set of task ids by publish time, kept by the
   * publisher helper: `{prefix}{group}`), read for a group subscriber's snapshots. Empty turns
   * group snapshots off. Default `task:group:`.
   */
  groupKeyPrefix?: string;
  /** Tasks of a group sent as snapshots on a group subscribe, the most recently updated first. Default 100. */
  groupSnapshotMaxTasks?: number;
}

export type ResolvedTaskStateOptions = Required<TaskStateOptions>;

export const TASK_STATE_OPTIONS = Symbol('TASK_STATE_OPTIONS');

export function resolveTaskStateOptions(options?: TaskStateOptions): ResolvedTaskStateOptions {
  return applyDefaults(
    {
      snapshotKeyPrefix: 'task:status:',
      terminalStatuses: ['completed', 'failed', 'cancelled'],
      resyncBatchSize: 500,
      groupKeyPrefix: 'task:group:',
      groupSnapshotMaxTasks: 100,
    },
    options,
  );
}
