/**
 * A token bucket: holds up to `capacity` tokens, refilled continuously at `perSecond`; each
 * message takes one. Two numbers of state and no timers, so one per connection costs nothing
 * when the connection is idle and is freed with it.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly perMs: number;

  /** `now` in milliseconds from a monotonic clock (performance.now()). */
  constructor(
    perSecond: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.perMs = perSecond / 1000;
    this.tokens = capacity;
    this.updatedAt = now;
  }

  /** Takes a token if one is there; false when the bucket is empty. */
  take(now: number): boolean {
    const elapsed = now - this.updatedAt;
    this.updatedAt = now;
    // A clock that went backwards (it should not) refills nothing rather than draining.
    if (elapsed > 0) this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.perMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
