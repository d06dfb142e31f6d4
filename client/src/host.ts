import type { EventSourceConstructor } from './event-source-like.js';
import type { WebSocketConstructor } from './websocket-like.js';

/** Timer functions; injectable so that tests (and unusual hosts) control time. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The globals this package uses, which browsers and Node both provide. Read through one typed view
 * because the package compiles without DOM or Node type definitions.
 */
interface HostGlobals extends Timers {
  queueMicrotask(callback: () => void): void;
  WebSocket?: WebSocketConstructor;
  EventSource?: EventSourceConstructor;
  URL: new (url: string) => UrlLike;
  Date: { now(): number };
}

/** The part of the WHATWG `URL` the client uses. */
export interface UrlLike {
  protocol: string;
  pathname: string;
  readonly searchParams: {
    append(name: string, value: string): void;
    set(name: string, value: string): void;
    delete(name: string): void;
  };
  toString(): string;
}

const host = globalThis as unknown as HostGlobals;

export const hostTimers: Timers = {
  setTimeout: (callback, ms) => host.setTimeout(callback, ms),
  clearTimeout: (handle) => host.clearTimeout(handle),
};

/** The host's WebSocket (browsers, Node 22+), read when a client is created. */
export function hostWebSocket(): WebSocketConstructor | undefined {
  return host.WebSocket;
}

/** The host's EventSource (browsers; on Node, pass one, e.g. from the `eventsource` package). */
export function hostEventSource(): EventSourceConstructor | undefined {
  return host.EventSource;
}

/** Parses a URL with the host's `URL`; throws a TypeError for one that is not valid. */
export function parseUrl(url: string): UrlLike {
  return new host.URL(url);
}

export const hostNow = (): number => host.Date.now();

/** Runs `callback` once the current task's synchronous work is done. */
export function afterCurrentTask(callback: () => void): void {
  host.queueMicrotask(callback);
}

/** Rethrows outside the current call stack, where the host reports it as uncaught. */
export function reportLater(error: unknown): void {
  host.queueMicrotask(() => {
    throw error;
  });
}
