/** A pending timer of a Clock; `unref()` lets the process exit while it waits, as Node's do. */
export interface ClockTimer {
  unref(): unknown;
}

/**
 * Wall-clock time and timers, for the classes whose behaviour is a matter of time (token expiry,
 * the shutdown drain, the heartbeat). Injected, defaulting to systemClock, so that tests move time by hand
 * instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
  setInterval(callback: () => void, ms: number): ClockTimer;
  clearInterval(timer: ClockTimer | undefined): void;
}

/** The system's clock; the globals are read at each call, so Node's mock.timers still applies. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout | undefined),
};

/** Injection token of the Clock; TaskStatusCoreModule provides systemClock, tests override it. */
export const CLOCK = Symbol('CLOCK');
