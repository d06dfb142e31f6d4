import { fullJitterDelay } from './backoff.js';
import { hostTimers, hostWebSocket, type Timers } from './host.js';
import {
  TASK_ID_PATTERN,
  type ClientMessage,
  type ErrorCode,
  type ErrorMessage,
  type TaskStatusData,
} from './protocol.js';
import { TypedEmitter } from './typed-emitter.js';
import { UpdateOrder } from './update-order.js';
import {
  WEBSOCKET_OPEN,
  type CloseEventLike,
  type MessageEventLike,
  type WebSocketConstructor,
  type WebSocketLike,
} from './websocket-like.js';

export interface TaskStatusClientOptions {
  /** The gateway's WebSocket URL (`ws://host:8001/ws`), or several, tried in turn on failure. */
  url: string | readonly string[];
  /** WebSocket implementation. Default: `globalThis.WebSocket` (browsers, Node 22+). */
  WebSocket?: WebSocketConstructor;
  /** Ceiling of the first reconnect delay, ms; it doubles per failed attempt. Default 500. */
  reconnectBaseDelayMs?: number;
  /** Largest reconnect delay ceiling, ms. Default 30000. */
  reconnectMaxDelayMs?: number;
  /** Interval of `{"type":"ping"}` on an open connection, ms; 0 disables. Default 25000. */
  pingIntervalMs?: number;
  /** Time a `pong` may take before the connection is considered dead, ms. Default 10000. */
  pongTimeoutMs?: number;
  /** Time a connection may take to open before the attempt counts as failed, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Time `close()` waits for the closing handshake before dropping the socket, ms. Default 5000. */
  closeTimeoutMs?: number;
  /** Source of the reconnect jitter, returning [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Timer functions. Default: the host's `setTimeout` / `clearTimeout`. */
  timers?: Timers;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ConnectionState;
  /** connecting, open: the URL in use; reconnecting: the URL the next attempt goes to. */
  url?: string;
  /** reconnecting: failed attempts in a row, counting this one (1, 2, …). */
  attempt?: number;
  /** reconnecting: the wait before the next attempt, ms. */
  delayMs?: number;
  /** reconnecting: why the connection or the attempt ended, e.g. `close 1001 Server shutting down`. */
  reason?: string;
}

/** One accepted state of one task. */
export interface TaskUpdate {
  taskId: string;
  /** What the publisher sent, without `task_id`. */
  data: TaskStatusData;
  /** The gateway sent it as the task's stored state right after `subscribed`. */
  snapshot: boolean;
}

export interface TaskStatusClientEvents {
  /** A state of a subscribed task, live or snapshot, that is not older than the one held. */
  status_update: [update: TaskUpdate];
  /** The same update as `status_update`, for snapshots only. */
  snapshot: [update: TaskUpdate];
  /** The gateway confirmed a subscription (after every (re)connect). */
  subscribed: [taskId: string];
  /** An `{"type":"error"}` frame from the gateway; the connection stays open. */
  error: [error: ErrorMessage];
  /** The connection state changed, or another reconnect was scheduled. */
  state: [change: StateChange];
}

const DEFAULTS = {
  reconnectBaseDelayMs: 500,
  reconnectMaxDelayMs: 30_000,
  pingIntervalMs: 25_000,
  pongTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
};

const ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'invalid_json',
  'invalid_message',
  'unknown_type',
  'subscription_limit',
  'unsupported_frame',
  'internal_error',
  'rate_limited',
  'unauthorized',
  'forbidden',
]);

const NORMAL_CLOSURE = 1000;
const noop = (): void => undefined;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positive(name: string, value: number, allowZero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
  }
  return value;
}

/**
 * A reconnecting client of the task-status gateway. It keeps the set of tasks it is subscribed
 * to, sends it again after every reconnect, and holds the latest state of each task, dropping
 * states older than the one it has.
 *
 * ```ts
 * const client = new TaskStatusClient({ url: 'wss://example.com/ws' });
 * client.on('status_update', ({ taskId, data }) => render(taskId, data));
 * client.subscribe('task-1');
 * client.connect();
 * ```
 */
export class TaskStatusClient extends TypedEmitter<TaskStatusClientEvents> {
  private readonly urls: readonly string[];
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly settings: typeof DEFAULTS;
  private readonly random: () => number;
  private readonly timers: Timers;

  private readonly tasks = new Set<string>();
  private readonly states = new Map<string, { update: TaskUpdate; order: UpdateOrder }>();
  private currentState: ConnectionState = 'closed';
  private socket: WebSocketLike | undefined;
  private urlIndex = 0;
  private failures = 0;
  private reconnectTimer: unknown;
  private connectTimer: unknown;
  private pingTimer: unknown;
  private pongTimer: unknown;

  constructor(options: TaskStatusClientOptions) {
    super();
    this.urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (this.urls.length === 0) throw new TypeError('url: at least one URL is required');
    const WebSocketImpl = options.WebSocket ?? hostWebSocket();
    if (!WebSocketImpl) {
      throw new TypeError(
        'No global WebSocket: pass one, e.g. `WebSocket` from the `ws` package on Node 20',
      );
    }
    this.WebSocketImpl = WebSocketImpl;
    this.settings = {
      reconnectBaseDelayMs: positive(
        'reconnectBaseDelayMs',
        options.reconnectBaseDelayMs ?? DEFAULTS.reconnectBaseDelayMs,
      ),
      reconnectMaxDelayMs: positive(
        'reconnectMaxDelayMs',
        options.reconnectMaxDelayMs ?? DEFAULTS.reconnectMaxDelayMs,
      ),
      pingIntervalMs: positive(
        'pingIntervalMs',
        options.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
        true,
      ),
      pongTimeoutMs: positive('pongTimeoutMs', options.pongTimeoutMs ?? DEFAULTS.pongTimeoutMs),
      connectTimeoutMs: positive(
        'connectTimeoutMs',
        options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      ),
      closeTimeoutMs: positive('closeTimeoutMs', options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs),
    };
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? hostTimers;
  }

  /** connecting (first attempt), open, reconnecting (waiting or retrying), or closed. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The URL of the open or opening connection. */
  get url(): string | undefined {
    return this.socket ? this.urls[this.urlIndex] : undefined;
  }

  /** The tasks this client is subscribed to, connected or not. */
  subscriptions(): string[] {
    return [...this.tasks];
  }

  /** The latest accepted state of a subscribed task (the same object until a newer one arrives). */
  latest(taskId: string): TaskUpdate | undefined {
    return this.states.get(taskId)?.update;
  }

  /** Starts connecting (again, after `close()`). Does nothing if already started. */
  connect(): void {
    if (this.currentState !== 'closed') return;
    this.failures = 0;
    this.open('connecting');
  }

  /**
   * Subscribes to a task: now if connected, otherwise on connect, and again after every reconnect.
   * Idempotent. Throws a TypeError for an id the gateway would refuse.
   */
  subscribe(taskId: string): void {
    if (typeof taskId !== 'string' || !TASK_ID_PATTERN.test(taskId)) {
      throw new TypeError(
        `Invalid task id ${JSON.stringify(taskId)}: 1-128 characters from [A-Za-z0-9_.:-]`,
      );
    }
    if (this.tasks.has(taskId)) return;
    this.tasks.add(taskId);
    this.sendIfOpen({ type: 'subscribe', task_id: taskId });
  }

  /** Unsubscribes from a task and forgets its state. Harmless for a task not subscribed. */
  unsubscribe(taskId: string): void {
    if (!this.tasks.delete(taskId)) return;
    this.states.delete(taskId);
    this.sendIfOpen({ type: 'unsubscribe', task_id: taskId });
  }

  /**
   * Closes the connection and stops reconnecting. Subscriptions and states are kept for a later
   * `connect()`. Resolves once the socket has closed (or was dropped after `closeTimeoutMs`).
   */
  close(): Promise<void> {
    const socket = this.socket;
    this.stopTimers();
    this.socket = undefined;
    if (this.currentState !== 'closed') this.setState({ state: 'closed' });
    if (!socket) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        this.timers.clearTimeout(timer);
        this.detach(socket);
        resolve();
      };
      const timer = this.timers.setTimeout(() => {
        socket.terminate?.();
        finish();
      }, this.settings.closeTimeoutMs);
      socket.onopen = null;
      socket.onmessage = null;
      socket.onclose = finish;
      try {
        socket.close(NORMAL_CLOSURE);
      } catch {
        finish();
      }
    });
  }

  private open(state: 'connecting' | 'reconnecting'): void {
    const url = this.urls[this.urlIndex] as string;
    if (state === 'connecting') {
      this.setState({ state, url });
      // A state listener may have called close().
      if (this.currentState !== state) return;
    }
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(url);
    } catch (error) {
      // An invalid URL throws synchronously; it stays invalid, but another in the list may work.
      this.scheduleReconnect(`cannot connect: ${(error as Error).message}`);
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.onOpen(socket);
    socket.onmessage = (event: MessageEventLike) => this.onMessage(socket, event.data);
    socket.onclose = (event: CloseEventLike) =>
      this.onClose(socket, `close ${event.code}${event.reason ? ` ${event.reason}` : ''}`);
    // A failed connection is followed by a close event; that is where it is handled.
    socket.onerror = noop;
    this.connectTimer = this.timers.setTimeout(
      () => this.abandon(socket, 'connect timeout'),
      this.settings.connectTimeoutMs,
    );
  }

  private onOpen(socket: WebSocketLike): void {
    if (socket !== this.socket) return;
    this.timers.clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.failures = 0;
    this.setState({ state: 'open', url: this.urls[this.urlIndex] as string });
    // A listener may have closed the client or changed subscriptions in the meantime.
    if (socket !== this.socket) return;
    for (const taskId of this.tasks) this.send(socket, { type: 'subscribe', task_id: taskId });
    this.schedulePing(socket);
  }

  private onClose(socket: WebSocketLike, reason: string): void {
    if (socket !== this.socket) return;
    this.detach(socket);
    this.socket = undefined;
    this.stopTimers();
    this.scheduleReconnect(reason);
  }

  /** Gives up on a connection that is not closing by itself (no open, no pong). */
  private abandon(socket: WebSocketLike, reason: string): void {
    if (socket !== this.socket) return;
    this.detach(socket);
    this.socket = undefined;
    this.stopTimers();
    if (socket.terminate) socket.terminate();
    else socket.close(4000, reason);
    this.scheduleReconnect(reason);
  }

  private scheduleReconnect(reason: string): void {
    this.failures += 1;
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const delayMs = fullJitterDelay(
      this.failures - 1,
      { baseMs: this.settings.reconnectBaseDelayMs, maxMs: this.settings.reconnectMaxDelayMs },
      this.random,
    );
    const url = this.urls[this.urlIndex] as string;
    this.setState({ state: 'reconnecting', url, attempt: this.failures, delayMs, reason });
    // A state listener may have called close().
    if (this.currentState !== 'reconnecting') return;
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      this.open('reconnecting');
    }, delayMs);
  }

  private schedulePing(socket: WebSocketLike): void {
    if (this.settings.pingIntervalMs === 0 || socket !== this.socket) return;
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = undefined;
      this.pongTimer = this.timers.setTimeout(
        () => this.abandon(socket, 'pong timeout'),
        this.settings.pongTimeoutMs,
      );
      this.send(socket, { type: 'ping' });
    }, this.settings.pingIntervalMs);
  }

  private onMessage(socket: WebSocketLike, raw: unknown): void {
    if (socket !== this.socket || typeof raw !== 'string') return;
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      return; // Not the gateway's protocol; ignore rather than tear the connection down.
    }
    if (!isRecord(message)) return;
    const taskId = message.task_id;
    switch (message.type) {
      case 'status_update':
        if (typeof taskId === 'string' && isRecord(message.data)) {
          this.onStatusUpdate(taskId, message.data, message.snapshot === true);
        }
        break;
      case 'pong':
        if (this.pongTimer !== undefined) {
          this.timers.clearTimeout(this.pongTimer);
          this.pongTimer = undefined;
          this.schedulePing(socket);
        }
        break;
      case 'subscribed':
        if (typeof taskId === 'string' && this.tasks.has(taskId)) this.emit('subscribed', taskId);
        break;
      case 'error':
        if (typeof message.code === 'string' && ERROR_CODES.has(message.code)) {
          this.emit('error', message as unknown as ErrorMessage);
        }
        break;
      default:
        break; // unsubscribed, and types a newer gateway may add
    }
  }

  private onStatusUpdate(taskId: string, data: TaskStatusData, snapshot: boolean): void {
    // An update in flight when the task was unsubscribed.
    if (!this.tasks.has(taskId)) return;
    let state = this.states.get(taskId);
    if (state?.order.isOlder(data)) return;
    const update: TaskUpdate = { taskId, data, snapshot };
    if (state) state.update = update;
    else this.states.set(taskId, (state = { update, order: new UpdateOrder() }));
    state.order.accept(data);
    this.emit('status_update', update);
    if (snapshot) this.emit('snapshot', update);
  }

  private sendIfOpen(message: ClientMessage): void {
    if (this.socket && this.socket.readyState === WEBSOCKET_OPEN) this.send(this.socket, message);
  }

  private send(socket: WebSocketLike, message: ClientMessage): void {
    try {
      socket.send(JSON.stringify(message));
    } catch {
      this.abandon(socket, 'send failed');
    }
  }

  private setState(change: StateChange): void {
    this.currentState = change.state;
    this.emit('state', change);
  }

  private stopTimers(): void {
    for (const timer of [this.reconnectTimer, this.connectTimer, this.pingTimer, this.pongTimer]) {
      if (timer !== undefined) this.timers.clearTimeout(timer);
    }
    this.reconnectTimer = this.connectTimer = this.pingTimer = this.pongTimer = undefined;
  }

  private detach(socket: WebSocketLike): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    // Not null: `ws` throws an 'error' event that has no listener.
    socket.onerror = noop;
  }
}
