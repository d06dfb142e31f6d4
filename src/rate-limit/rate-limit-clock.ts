/**
 * Injection token of the monotonic clock (ms) the message rate limit refills its buckets by;
 * TaskStatusGatewayModule provides performance.now, tests override it with one they move.
 */
export const RATE_LIMIT_CLOCK = Symbol('RATE_LIMIT_CLOCK');

export type RateLimitClock = () => number;
