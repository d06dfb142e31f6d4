// The package's browser-safe entry point. The Redis publisher is `@task-status/client/publisher`.
export {
  TaskStatusClient,
  type ConnectionState,
  type StateChange,
  type TaskStatusClientEvents,
  type TaskStatusClientOptions,
  type TaskUpdate,
  type Transport,
  type TransportOption,
} from './task-status-client.js';
export { fullJitterDelay, type BackoffOptions } from './backoff.js';
export type { Timers } from './host.js';
export type { Listener } from './typed-emitter.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket-like.js';
export type {
  EventSourceConstructor,
  EventSourceLike,
  StreamEventLike,
} from './event-source-like.js';
export { streamUrlFor } from './stream-url.js';
export * from './protocol.js';
