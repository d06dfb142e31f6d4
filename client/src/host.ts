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

/** Rethrows outside the current call stack, where the host reports it as uncaught. */
export function reportLater(error: unknown): void {
  host.queueMicrotask(() => {
    throw error;
  });
}
