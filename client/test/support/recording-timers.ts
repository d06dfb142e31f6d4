import type { Timers } from '../../src/host.js';

/**
 * Real timers that remember what is pending and which delays were asked for, so a test can prove
 * that nothing is left scheduled (no reconnect after close()) without waiting to see.
 */
export class RecordingTimers implements Timers {
  readonly requested: number[] = [];
  private readonly pending = new Set<NodeJS.Timeout>();

  setTimeout = (callback: () => void, ms: number): unknown => {
    this.requested.push(ms);
    const handle = setTimeout(() => {
      this.pending.delete(handle);
      callback();
    }, ms);
    this.pending.add(handle);
    return handle;
  };

  clearTimeout = (handle: unknown): void => {
    clearTimeout(handle as NodeJS.Timeout);
    this.pending.delete(handle as NodeJS.Timeout);
  };

  get pendingCount(): number {
    return this.pending.size;
  }
}
