// The package's browser-safe entry point. The Redis publisher is `@task-status/client/publisher`.
export {
  TaskStatusClient,
  type ConnectionState,
  type StateChange,
  type TaskStatusClientEvents,
  type TaskStatusClientOptions,
  type TaskUpdate,
} from './task-status-client.js';
export { fullJitterDelay, type BackoffOptions } from './backoff.js';
export type { Timers } from './host.js';
export type { Listener } from './typed-emitter.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket-like.js';
export * from './protocol.js';
