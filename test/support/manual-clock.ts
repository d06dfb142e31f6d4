import type { Clock, ClockTimer } from '../../src/clock/clock.js';

interface ManualTimer extends ClockTimer {
  due: number;
  callback: () => void;
  /** Set for an interval: it is due again this long after it fired. */
  every?: number;
}

/**
 * A Clock that stands still until the test moves it: what depends on time (token buckets, token
 * expiry, drain batches, heartbeats) then happens at a known instant, however loaded the machine is. Timers
 * fire inside advance() / runNext(), in the order they fall due.
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly timers: ManualTimer[] = [];
  private readonly scheduledWaiters: Array<() => void> = [];

  constructor(start = Date.now()) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer: ManualTimer = {
      due: this.time + Math.max(0, ms),
      callback,
      unref: () => timer,
    };
    this.timers.push(timer);
    for (const wake of this.scheduledWaiters.splice(0)) wake();
    return timer;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    const index = this.timers.indexOf(timer as ManualTimer);
    if (index >= 0) this.timers.splice(index, 1);
  }

  setInterval(callback: () => void, ms: number): ClockTimer {
    const timer = this.setTimeout(callback, ms) as ManualTimer;
    timer.every = Math.max(1, ms);
    return timer;
  }

  clearInterval(timer: ClockTimer | undefined): void {
    this.clearTimeout(timer);
  }

  /** Due times of the pending timers, in ms from now, earliest first. */
  pending(): number[] {
    return this.timers.map((timer) => timer.due - this.time).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (let next = this.earliest(); next && next.due <= target; next = this.earliest()) {
      this.fire(next);
    }
    this.time = target;
  }

  /** Moves time to the earliest pending timer and fires it; returns how far time moved. */
  runNext(): number {
    const next = this.earliest();
    if (!next) throw new Error('no timer is pending');
    const from = this.time;
    this.fire(next);
    return this.time - from;
  }

  /**
   * Resolves once a timer is scheduled, for code that schedules after some awaits. The
   * continuation runs once the scheduling code has yielded, so timers it sets in the same
   * synchronous run are all pending by then.
   */
  nextScheduled(): Promise<void> {
    return new Promise((resolve) => this.scheduledWaiters.push(resolve));
  }

  private earliest(): ManualTimer | undefined {
    let earliest: ManualTimer | undefined;
    // The first scheduled wins a tie, as with Node's timers.
    for (const timer of this.timers) if (!earliest || timer.due < earliest.due) earliest = timer;
    return earliest;
  }

  private fire(timer: ManualTimer): void {
    this.clearTimeout(timer);
    this.time = Math.max(this.time, timer.due);
    if (timer.every !== undefined) {
      timer.due += timer.every;
      this.timers.push(timer);
    }
    timer.callback();
  }
}
