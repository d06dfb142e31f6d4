export type RedisLinkState = 'connecting' | 'subscribed' | 'disconnected' | 'closed';

/**
 * The subscriber connection's state as health and stats need it: "up" means connected and
 * subscribed to the channel, the only state in which updates can arrive.
 */
export class RedisSubscriptionStatus {
  private current: RedisLinkState = 'connecting';
  private since = Date.now();
  private error: string | undefined;
  private reconnects = 0;
  private everSubscribed = false;
  private stalled = false;
  private canaryRtt: number | undefined;
  private canaryAt: number | undefined;

  get state(): RedisLinkState {
    return this.current;
  }

  get isUp(): boolean {
    return this.current === 'subscribed';
  }

  get lastError(): string | undefined {
    return this.error;
  }

  get stateSince(): number {
    return this.since;
  }

  /** Number of times the subscription was re-established after being lost. */
  get resubscriptions(): number {
    return this.reconnects;
  }

  markSubscribed(): void {
    if (this.current === 'subscribed') return;
    if (this.everSubscribed) this.reconnects += 1;
    this.everSubscribed = true;
    this.set('subscribed');
  }

  /**
   * False while the data-path canary is overdue: connected and subscribed, yet messages on the
   * channel do not come back (a wedged subscription).
   */
  get dataPathHealthy(): boolean {
    return !this.stalled;
  }

  /** Round trip of the last canary through Redis, in milliseconds. */
  get canaryRoundTripMs(): number | undefined {
    return this.canaryRtt;
  }

  get lastCanaryAt(): number | undefined {
    return this.canaryAt;
  }

  recordCanary(roundTripMs: number, at = Date.now()): void {
    this.canaryRtt = roundTripMs;
    this.canaryAt = at;
    this.stalled = false;
  }

  markDataPathStalled(): void {
    this.stalled = true;
  }

  recordError(error: Error): void {
    this.error = error.message;
  }

  markDisconnected(): void {
    if (this.current === 'subscribed' || this.current === 'connecting') this.set('disconnected');
  }

  markClosed(): void {
    this.set('closed');
  }

  private set(state: RedisLinkState): void {
    if (state === this.current) return;
    this.current = state;
    this.since = Date.now();
  }
}
