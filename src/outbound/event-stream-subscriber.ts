import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';

/**
 * A subscriber that is not a WebSocket: a stream of Server-Sent Events (the transport is the SSE
 * feature module's). It offers the few members of a WebSocket that the delivery path and
 * SlowConsumerGuard use, so that both hold, coalesce, count and close it the same way; what it is
 * sent is already encoded as SSE event text (see sse-event.ts), built once per update.
 */
export abstract class EventStreamSubscriber extends EventEmitter<{ close: [] }> {
  /** 1 (as WebSocket.OPEN) while events may be written, 3 (CLOSED) once the stream ended. */
  abstract readonly readyState: number;
  /** Bytes written but not yet handed to the kernel. */
  abstract readonly bufferedAmount: number;
  /** Writes encoded event text (a frame of the delivery path) as is; `options` is WebSocket's, unused. */
  abstract send(data: Buffer, options?: { binary?: boolean }): void;
  /** Ends the stream after what is buffered, with a retry hint; `code` is the WebSocket close code. */
  abstract close(code: number, reason: string): void;
  /** Cuts the connection off at once. */
  abstract terminate(): void;
}

/** Whoever is in the registry: a WebSocket, or a stream of Server-Sent Events. */
export type TaskSubscriber = WebSocket | EventStreamSubscriber;
