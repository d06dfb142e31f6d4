import type { Timers } from '../../src/host.js';

interface ManualTimer {
  due: number;
  ms: number;
  callback: () => void;
}

/**
 * Timers on a clock that stands still until the test moves it: a ping, a pong timeout or a
 * connect timeout fires when the test says, never because a busy machine was slow to answer.
 */
export class ManualTimers implements Timers {
  private time = 0;
  private readonly timers: ManualTimer[] = [];
  private readonly waiters: Array<{ ms: number; wake: () => void }> = [];

  setTimeout = (callback: () => void, ms: number): unknown => {
    const timer: ManualTimer = { due: this.time + ms, ms, callback };
    this.timers.push(timer);
    for (const waiter of this.waiters.filter((w) => w.ms === ms)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.wake();
    }
    return timer;
  };

  clearTimeout = (handle: unknown): void => {
    const index = this.timers.indexOf(handle as ManualTimer);
    if (index >= 0) this.timers.splice(index, 1);
  };

  /** The delays the pending timers were set with, earliest due first. */
  pending(): number[] {
    return [...this.timers].sort((a, b) => a.due - b.due).map((timer) => timer.ms);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in due order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      const next = [...this.timers].sort((a, b) => a.due - b.due)[0];
      if (!next || next.due > target) break;
      this.clearTimeout(next);
      this.time = next.due;
      next.callback();
    }
    this.time = target;
  }

  /** Resolves when a timer of `ms` is next set (e.g. the next ping, once a pong came back). */
  nextSet(ms: number): Promise<void> {
    return new Promise((wake) => this.waiters.push({ ms, wake }));
  }
}
