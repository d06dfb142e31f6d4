import { RateLimiterMemory } from 'rate-limiter-flexible';
import { ConnectionRateLimit } from './connection-rate-limit.js';
import { TokenBucket } from './token-bucket.js';

export interface MessageRateLimitOptions {
  /** Messages a connection may send per second, sustained; 0 turns the limit off. */
  perSecond: number;
  /** Messages a connection may send at once after being idle (the bucket's size). */
  burst: number;
  /** Over-limit messages answered with `rate_limited` within the window; the next one closes. */
  maxViolations: number;
  violationWindowMs: number;
}

/**
 * Inbound message rate per connection. Each connection has a token bucket of its own, checked
 * synchronously as each message arrives (before it is parsed): no timer, no promise, no
 * allocation per message. Over-limit messages are counted with rate-limiter-flexible's
 * in-memory fixed window, keyed by connection: a connection that keeps sending past its rate
 * after `maxViolations` answers within the window is closed. That counter only runs for
 * over-limit messages, and its key is deleted when the connection closes.
 */
export class MessageRateLimiter {
  private readonly violations: RateLimiterMemory | undefined;

  constructor(
    private readonly options: MessageRateLimitOptions,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.violations = this.enabled
      ? new RateLimiterMemory({
          keyPrefix: 'ws-rate-violations',
          points: options.maxViolations,
          duration: options.violationWindowMs / 1000,
        })
      : undefined;
  }

  get enabled(): boolean {
    return this.options.perSecond > 0;
  }

  /** The limit of one connection, or undefined when rate limiting is off. */
  open(connectionKey: string): ConnectionRateLimit | undefined {
    const violations = this.violations;
    if (violations === undefined) return undefined;
    const bucket = new TokenBucket(this.options.perSecond, this.options.burst, this.clock());
    return new ConnectionRateLimit(bucket, this.clock, violations, connectionKey);
  }
}
