import type { TaskStatusClient, TaskStatusClientEvents } from '../../src/task-status-client.js';

export const WAIT_MS = 5_000;

type Events = TaskStatusClientEvents;

/** Fails a wait after `ms` instead of letting a hang eat the test run. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The next emission of `event` whose arguments satisfy `predicate`, within `ms`. */
export function nextEvent<E extends keyof Events>(
  client: TaskStatusClient,
  event: E,
  predicate: (...args: Events[E]) => boolean = () => true,
  ms = WAIT_MS,
): Promise<Events[E]> {
  let off: () => void = () => undefined;
  const found = new Promise<Events[E]>((resolve) => {
    off = client.on(event, (...args: Events[E]) => {
      if (predicate(...args)) resolve(args);
    });
  });
  return withTimeout(found, ms, `event ${event}`).finally(() => off());
}

/** Every emission of `event`, in order, from now on. */
export function record<E extends keyof Events>(client: TaskStatusClient, event: E): Events[E][] {
  const seen: Events[E][] = [];
  client.on(event, (...args: Events[E]) => seen.push(args));
  return seen;
}
