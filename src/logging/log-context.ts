import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields added to every log line written while handling one request. */
export interface LogContext {
  request_id?: string;
  /** The WebSocket connection a line concerns (see connectionIdOf). */
  connection_id?: string;
}

/**
 * The log context of the code running now. Entered by the request-id middleware, read by the
 * application logger, so that a line logged anywhere during a request carries its id.
 */
export const logContext = new AsyncLocalStorage<LogContext>();
