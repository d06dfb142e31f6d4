export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. */
  baseMs: number;
  /** Largest ceiling, in ms. */
  maxMs: number;
}

/**
 * Exponential backoff with full jitter: a uniformly random delay between 0 and
 * `min(maxMs, baseMs * 2^retry)`, `retry` counting from 0. Spreads the reconnects of many clients
 * that lost the same instance at the same moment. `random` returns a number in [0, 1).
 */
export function fullJitterDelay(
  retry: number,
  { baseMs, maxMs }: BackoffOptions,
  random: () => number,
): number {
  // min() first: 2^retry overflows to Infinity after ~1000 retries, and Infinity * 0 is NaN.
  const ceiling = Math.min(maxMs, baseMs * 2 ** retry);
  const fraction = Math.min(Math.max(random(), 0), 1);
  return Math.floor(fraction * ceiling);
}
