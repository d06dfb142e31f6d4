import { applyDefaults } from '../core/apply-defaults.js';

export interface StatsOptions {
  /** Upper bound of `?limit=` for the per-task list of GET /ws/stats. Default 1000. */
  maxTasks?: number;
}

export type ResolvedStatsOptions = Required<StatsOptions>;

export const STATS_OPTIONS = Symbol('STATS_OPTIONS');

export function resolveStatsOptions(options?: StatsOptions): ResolvedStatsOptions {
  return applyDefaults({ maxTasks: 1000 }, options);
}
