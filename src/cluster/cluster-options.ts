import { applyDefaults } from '../core/apply-defaults.js';

export interface ClusterOptions {
  /**
   * How often this instance publishes its counts to Redis for `GET /ws/stats?scope=cluster`
   * (the key lives three intervals); 0 stops publishing. Default 5000.
   */
  heartbeatIntervalMs?: number;
}

export type ResolvedClusterOptions = Required<ClusterOptions>;

export const CLUSTER_OPTIONS = Symbol('CLUSTER_OPTIONS');

export function resolveClusterOptions(options?: ClusterOptions): ResolvedClusterOptions {
  return applyDefaults({ heartbeatIntervalMs: 5_000 }, options);
}
