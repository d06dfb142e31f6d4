import { applyDefaults } from '../core/apply-defaults.js';

/** The data-path canary: a message of this instance's own through the channel, end to end. */
export interface CanaryOptions {
  /** How often the canary goes through Redis; 0 disables it. Default 5000. */
  intervalMs?: number;
  /** Readiness fails when a canary is not back within this time. Default 15000. */
  timeoutMs?: number;
}

export type ResolvedCanaryOptions = Required<CanaryOptions>;

export const CANARY_OPTIONS = Symbol('CANARY_OPTIONS');

export function resolveCanaryOptions(options?: CanaryOptions): ResolvedCanaryOptions {
  return applyDefaults({ intervalMs: 5_000, timeoutMs: 15_000 }, options);
}
