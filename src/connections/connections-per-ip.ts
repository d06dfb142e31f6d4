/**
 * Open connections per client address, against a limit (0 turns it off). An address is kept
 * only while it holds a connection, so the map is never larger than the open connections.
 */
export class ConnectionsPerIp {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  get enabled(): boolean {
    return this.max > 0;
  }

  /** Addresses that hold at least one connection. */
  get addressCount(): number {
    return this.counts.size;
  }

  countOf(address: string): number {
    return this.counts.get(address) ?? 0;
  }

  /** Whether the address already holds its limit (a check that takes nothing). */
  isFull(address: string): boolean {
    return this.enabled && this.countOf(address) >= this.max;
  }

  /** Takes a slot for the address; false, and nothing taken, when it holds the limit already. */
  tryAcquire(address: string): boolean {
    if (!this.enabled) return true;
    const count = this.countOf(address);
    if (count >= this.max) return false;
    this.counts.set(address, count + 1);
    return true;
  }

  release(address: string): void {
    const count = this.counts.get(address);
    if (count === undefined) return;
    if (count <= 1) this.counts.delete(address);
    else this.counts.set(address, count - 1);
  }
}
