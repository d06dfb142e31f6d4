import { RateLimiterRes, type RateLimiterMemory } from 'rate-limiter-flexible';
import type { TokenBucket } from './token-bucket.js';

/** What to do with an over-limit message: answer it with an error, or close the connection. */
export type ViolationVerdict = 'answer' | 'close';

/**
 * The rate limit of one connection, created when it opens and released when it closes. A class
 * rather than closures: every idle connection holds one.
 */
export class ConnectionRateLimit {
  constructor(
    private readonly bucket: TokenBucket,
    private readonly clock: () => number,
    private readonly violations: RateLimiterMemory,
    private readonly key: string,
  ) {}

  /** Takes a token for one inbound message; false when the connection is over its rate. */
  take(): boolean {
    return this.bucket.take(this.clock());
  }

  /** Counts an over-limit message against the connection. */
  violation(): Promise<ViolationVerdict> {
    return this.violations.consume(this.key).then(
      (): ViolationVerdict => 'answer',
      (rejection: unknown): ViolationVerdict => {
        // The in-memory store only rejects with "points exhausted"; anything else is a bug.
        if (rejection instanceof RateLimiterRes) return 'close';
        throw rejection;
      },
    );
  }

  release(): void {
    void this.violations.delete(this.key);
  }
}
