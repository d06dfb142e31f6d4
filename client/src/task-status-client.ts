import { fullJitterDelay } from './backoff.js';
import type {
  EventSourceConstructor,
  EventSourceLike,
  StreamEventLike,
} from './event-source-like.js';
import {
  afterCurrentTask,
  hostEventSource,
  hostNow,
  hostTimers,
  hostWebSocket,
  type Timers,
} from './host.js';
import {
  GROUP_ID_PATTERN,
  TASK_ID_PATTERN,
  type ClientMessage,
  type ErrorCode,
  type ErrorMessage,
  type TaskStatusData,
} from './protocol.js';
import { streamRequestUrl, streamUrlFor } from './stream-url.js';
import { TypedEmitter } from './typed-emitter.js';
import { UpdateOrder } from './update-order.js';
import {
  WEBSOCKET_OPEN,
  type CloseEventLike,
  type MessageEventLike,
  type WebSocketConstructor,
  type WebSocketLike,
} from './websocket-like.js';

/** What the client may use: see `TaskStatusClientOptions.transport`. */
export type TransportOption = 'auto' | 'websocket' | 'sse';

/** The transport of the current (or next) connection. */
export type Transport = 'websocket' | 'sse';

export interface TaskStatusClientOptions {
  /**
   * The gateway's WebSocket URL (`ws://host:8001/ws`), or several, tried in turn on failure.
   * Required unless `transport` is 'sse' and `sseUrl` is given.
   */
  url?: string | readonly string[];
  /**
   * 'websocket': WebSocket only. 'sse': Server-Sent Events only (`GET /tasks/events`), for
   * clients that only listen. 'auto' (default): WebSocket, and SSE when a WebSocket cannot open
   * (refused upgrade, a proxy's 4xx/5xx, connect timeout); SSE is then used directly for
   * `sseFallbackMs` after a stream opened. Without an EventSource or an SSE URL, 'auto' is
   * WebSocket only.
   */
  transport?: TransportOption;
  /**
   * The event stream URL (`http://host:8001/tasks/events`), or several (taken in turn like
   * `url`). Default: derived from each `url`, `ws(s)://h/p/ws?q` -> `http(s)://h/p/tasks/events?q`.
   */
  sseUrl?: string | readonly string[];
  /**
   * Read before each event stream opens and sent as `?token=` (an EventSource cannot set headers).
   * A function, so that a stream ended by an expired token comes back with a fresh one.
   */
  sseToken?: () => string | undefined;
  /** How long 'auto' keeps using SSE after falling back to it, ms. Default 300000 (5 min). */
  sseFallbackMs?: number;
  /** WebSocket implementation. Default: `globalThis.WebSocket` (browsers, Node 22+). */
  WebSocket?: WebSocketConstructor;
  /**
   * EventSource implementation. Default: `globalThis.EventSource` (browsers); on Node pass one,
   * e.g. `EventSource` from the `eventsource` package.
   */
  EventSource?: EventSourceConstructor;
  /** Clock of the SSE fallback memory, ms. Default `Date.now`. */
  now?: () => number;
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
  /** The gateway confirmed a group subscription (after every (re)connect). */
  group_subscribed: [groupId: string];
  /** An `{"type":"error"}` frame from the gateway; the connection stays open. */
  error: [error: ErrorMessage];
  /** The connection state changed, or another reconnect was scheduled. */
  state: [change: StateChange];
  /** The transport changed (e.g. 'auto' fell back to SSE); see `client.transport`. */
  transport: [transport: Transport];
}

const DEFAULTS = {
  reconnectBaseDelayMs: 500,
  reconnectMaxDelayMs: 30_000,
  pingIntervalMs: 25_000,
  pongTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  sseFallbackMs: 300_000,
};

const TRANSPORT_OPTIONS: ReadonlySet<string> = new Set<TransportOption>([
  'auto',
  'websocket',
  'sse',
]);

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
/** Resume positions sent when a stream (re)opens: the most recently updated tasks'. */
const MAX_RESUME_IDS = 200;
const noop = (): void => undefined;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
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
  /** Event stream URLs; empty when SSE cannot be used. */
  private readonly sseUrls: readonly string[];
  private readonly transportOption: TransportOption;
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly EventSourceImpl: EventSourceConstructor | undefined;
  private readonly sseToken: (() => string | undefined) | undefined;
  private readonly settings: typeof DEFAULTS;
  private readonly random: () => number;
  private readonly timers: Timers;
  private readonly now: () => number;

  private readonly tasks = new Set<string>();
  private readonly groups = new Set<string>();
  private readonly states = new Map<string, { update: TaskUpdate; order: UpdateOrder }>();
  private currentState: ConnectionState = 'closed';
  private currentTransport: Transport;
  private socket: WebSocketLike | undefined;
  private source: EventSourceLike | undefined;
  /** Open over SSE without a stream: there is no task to ask for. */
  private streamIdle = false;
  private reopenQueued = false;
  /** The last event id of each task's accepted state, sent back when a stream (re)opens. */
  private readonly lastEventIds = new Map<string, string>();
  /**
   * Tasks (`t:<id>`) and groups (`g:<id>`) whose `subscribed` was emitted since the stream last
   * (re)connected after a failure.
   */
  private readonly confirmed = new Set<string>();
  /** Until when 'auto' goes straight to SSE (0: WebSocket first). */
  private sseUntil = 0;
  private urlIndex = 0;
  private failures = 0;
  private reconnectTimer: unknown;
  private connectTimer: unknown;
  private pingTimer: unknown;
  private pongTimer: unknown;

  constructor(options: TaskStatusClientOptions) {
    super();
    const transport = options.transport ?? 'auto';
    if (!TRANSPORT_OPTIONS.has(transport)) {
      throw new TypeError(
        `transport: ${JSON.stringify(transport)} is not one of 'auto', 'websocket', 'sse'`,
      );
    }
    this.transportOption = transport;
    this.urls = list(options.url);
    if (this.urls.length === 0 && !(transport === 'sse' && options.sseUrl !== undefined)) {
      throw new TypeError('url: at least one URL is required');
    }
    const WebSocketImpl = options.WebSocket ?? hostWebSocket();
    if (!WebSocketImpl && transport !== 'sse') {
      throw new TypeError(
        'No global WebSocket: pass one, e.g. `WebSocket` from the `ws` package on Node 20',
      );
    }
    this.WebSocketImpl = WebSocketImpl;
    this.EventSourceImpl = options.EventSource ?? hostEventSource();
    this.sseUrls = this.streamUrls(options);
    if (transport === 'sse') {
      if (!this.EventSourceImpl) {
        throw new TypeError(
          'No global EventSource: pass one, e.g. `EventSource` from the `eventsource` package on Node',
        );
      }
      if (this.sseUrls.length === 0) {
        throw new TypeError('sseUrl: at least one URL is required');
      }
    }
    this.currentTransport = transport === 'sse' ? 'sse' : 'websocket';
    this.sseToken = options.sseToken;
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
      sseFallbackMs: positive(
        'sseFallbackMs',
        options.sseFallbackMs ?? DEFAULTS.sseFallbackMs,
        true,
      ),
    };
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? hostTimers;
    this.now = options.now ?? hostNow;
  }

  /** connecting (first attempt), open, reconnecting (waiting or retrying), or closed. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /**
   * The transport of the open or opening connection, else of the next one: 'websocket' or 'sse'.
   * Changes are emitted as `transport`.
   */
  get transport(): Transport {
    return this.currentTransport;
  }

  /** The URL of the open or opening connection (over SSE: the stream URL without its query). */
  get url(): string | undefined {
    if (this.socket) return this.endpoint('websocket');
    if (this.source || this.streamIdle) return this.endpoint('sse');
    return undefined;
  }

  /** The tasks this client is subscribed to, connected or not. */
  subscriptions(): string[] {
    return [...this.tasks];
  }

  /** The groups this client is subscribed to, connected or not. */
  groupSubscriptions(): string[] {
    return [...this.groups];
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
   * Idempotent. Throws a TypeError for an id the gateway would refuse. Over SSE the stream is
   * opened again with the new list of tasks (once for all the changes made in one go).
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
    this.queueReopen();
  }

  /** Unsubscribes from a task and forgets its state. Harmless for a task not subscribed. */
  unsubscribe(taskId: string): void {
    if (!this.tasks.delete(taskId)) return;
    this.states.delete(taskId);
    this.lastEventIds.delete(taskId);
    this.confirmed.delete(`t:${taskId}`);
    this.sendIfOpen({ type: 'unsubscribe', task_id: taskId });
    this.queueReopen();
  }

  /**
   * Subscribes to a group: every task whose updates name it in `group` (see docs/protocol.md,
   * Groups), with snapshots of its recent tasks. Like `subscribe`: kept across reconnects,
   * idempotent, a TypeError for an id the gateway would refuse. Over SSE it needs a gateway that
   * accepts `?group=` on /tasks/events.
   */
  subscribeGroup(groupId: string): void {
    if (typeof groupId !== 'string' || !GROUP_ID_PATTERN.test(groupId)) {
      throw new TypeError(
        `Invalid group id ${JSON.stringify(groupId)}: 1-128 characters from [A-Za-z0-9_.:-]`,
      );
    }
    if (this.groups.has(groupId)) return;
    this.groups.add(groupId);
    this.sendIfOpen({ type: 'subscribe', group: groupId });
    this.queueReopen();
  }

  /**
   * Unsubscribes from a group and forgets the states of its tasks that are not subscribed on
   * their own. Harmless for a group not subscribed.
   */
  unsubscribeGroup(groupId: string): void {
    if (!this.groups.delete(groupId)) return;
    for (const [taskId, { update }] of this.states) {
      if (!this.tasks.has(taskId) && update.data.group === groupId) {
        this.states.delete(taskId);
        this.lastEventIds.delete(taskId);
      }
    }
    this.confirmed.delete(`g:${groupId}`);
    this.sendIfOpen({ type: 'unsubscribe', group: groupId });
    this.queueReopen();
  }

  /**
   * Closes the connection and stops reconnecting. Subscriptions and states are kept for a later
   * `connect()`. Resolves once the socket has closed (or was dropped after `closeTimeoutMs`).
   */
  close(): Promise<void> {
    const socket = this.socket;
    this.stopTimers();
    this.socket = undefined;
    this.closeStream();
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

  private streamUrls(options: TaskStatusClientOptions): string[] {
    const given = list(options.sseUrl);
    if (given.length > 0) return given;
    if (options.transport === 'websocket' || this.urls.length === 0) return [];
    const derived = this.urls.map(streamUrlFor);
    if (derived.every((url): url is string => url !== undefined)) return derived;
    if (options.transport === 'sse') {
      throw new TypeError(
        "sseUrl: required when a url's path does not end in /ws (it cannot be derived)",
      );
    }
    return []; // 'auto' without a derivable stream URL: WebSocket only.
  }

  /** The URL the current attempt of a transport goes to. */
  private endpoint(transport: Transport): string {
    const urls = transport === 'websocket' ? this.urls : this.sseUrls;
    return urls[this.urlIndex % urls.length] as string;
  }

  private canFallBack(): boolean {
    return (
      this.transportOption === 'auto' &&
      this.EventSourceImpl !== undefined &&
      this.sseUrls.length > 0
    );
  }

  /** The transport of the next attempt. */
  private nextTransport(): Transport {
    if (this.transportOption === 'websocket') return 'websocket';
    if (this.transportOption === 'sse') return 'sse';
    return this.canFallBack() && this.now() < this.sseUntil ? 'sse' : 'websocket';
  }

  private setTransport(transport: Transport): void {
    if (transport === this.currentTransport) return;
    this.currentTransport = transport;
    this.emit('transport', transport);
  }

  private open(state: 'connecting' | 'reconnecting'): void {
    const transport = this.nextTransport();
    this.setTransport(transport);
    if (state === 'connecting') {
      this.setState({ state, url: this.endpoint(transport) });
      // A state listener may have called close().
      if (this.currentState !== state) return;
    }
    this.confirmed.clear();
    if (transport === 'sse') this.openStream();
    else this.openSocket();
  }

  private openSocket(): void {
    const url = this.endpoint('websocket');
    let socket: WebSocketLike;
    try {
      socket = new (this.WebSocketImpl as WebSocketConstructor)(url);
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
    // Event ids name positions of states that came by SSE; states that come now have none.
    this.lastEventIds.clear();
    this.setState({ state: 'open', url: this.endpoint('websocket') });
    // A listener may have closed the client or changed subscriptions in the meantime.
    if (socket !== this.socket) return;
    for (const taskId of this.tasks) this.send(socket, { type: 'subscribe', task_id: taskId });
    for (const groupId of this.groups) this.send(socket, { type: 'subscribe', group: groupId });
    this.schedulePing(socket);
  }

  private onClose(socket: WebSocketLike, reason: string): void {
    if (socket !== this.socket) return;
    this.detach(socket);
    this.socket = undefined;
    this.stopTimers();
    this.retry(reason);
  }

  /** Gives up on a connection that is not closing by itself (no open, no pong). */
  private abandon(socket: WebSocketLike, reason: string): void {
    if (socket !== this.socket) return;
    this.detach(socket);
    this.socket = undefined;
    this.stopTimers();
    if (socket.terminate) socket.terminate();
    else socket.close(4000, reason);
    this.retry(reason);
  }

  /**
   * After a WebSocket ended: in 'auto', one that never opened (a refused upgrade, a proxy's
   * error status, a timeout) is followed at once by an event stream; otherwise a reconnect.
   */
  private retry(reason: string): void {
    if (this.currentState !== 'open' && this.canFallBack()) {
      this.setTransport('sse');
      this.openStream();
      return;
    }
    this.scheduleReconnect(reason);
  }

  private queueReopen(): void {
    if (this.reopenQueued || !(this.source || this.streamIdle)) return;
    this.reopenQueued = true;
    afterCurrentTask(() => {
      this.reopenQueued = false;
      // close() or a failure may have come first.
      if (!(this.source || this.streamIdle)) return;
      this.closeStream();
      this.timers.clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
      this.openStream();
    });
  }

  /**
   * Opens an event stream for the tasks and groups held, naming the last event id of each task
   * so that the gateway sends only what is newer. Without subscriptions there is nothing to ask
   * for: the client is open without a stream until one comes.
   */
  private openStream(): void {
    if (this.tasks.size === 0 && this.groups.size === 0) {
      this.streamIdle = true;
      if (this.currentState !== 'open') {
        this.failures = 0;
        this.setState({ state: 'open', url: this.endpoint('sse') });
      }
      return;
    }
    const ids = [...this.lastEventIds.values()].slice(-MAX_RESUME_IDS);
    let source: EventSourceLike;
    try {
      const url = streamRequestUrl(
        this.endpoint('sse'),
        { taskIds: this.tasks, groupIds: this.groups, lastEventIds: ids },
        this.sseToken?.(),
      );
      source = new (this.EventSourceImpl as EventSourceConstructor)(url);
    } catch (error) {
      this.scheduleReconnect(`cannot connect: ${(error as Error).message}`);
      return;
    }
    this.source = source;
    source.addEventListener('open', () => this.onStreamOpen(source));
    source.addEventListener('subscribed', (event: StreamEventLike) =>
      this.onMessage(source, event.data),
    );
    source.addEventListener('status_update', (event: StreamEventLike) =>
      this.onStreamUpdate(source, event),
    );
    // The gateway's `event: error` carries data; a failed or ended connection does not.
    source.addEventListener('error', (event: StreamEventLike) => {
      if (typeof event.data === 'string') this.onMessage(source, event.data);
      else this.onStreamError(source, event);
    });
    this.connectTimer = this.timers.setTimeout(
      () => this.onStreamError(source, { message: 'connect timeout' }),
      this.settings.connectTimeoutMs,
    );
  }

  private onStreamOpen(source: EventSourceLike): void {
    if (source !== this.source) return;
    this.timers.clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.failures = 0;
    if (this.transportOption === 'auto') this.sseUntil = this.now() + this.settings.sseFallbackMs;
    // A stream opened again for a subscription change leaves the state as it was: open.
    if (this.currentState !== 'open') this.setState({ state: 'open', url: this.endpoint('sse') });
  }

  private onStreamUpdate(source: EventSourceLike, event: StreamEventLike): void {
    const update = this.onMessage(source, event.data);
    const id = event.lastEventId;
    if (update && typeof id === 'string' && id.startsWith(`${update.taskId}:`)) {
      // Most recently updated last: those are the ones sent when there are too many.
      this.lastEventIds.delete(update.taskId);
      this.lastEventIds.set(update.taskId, id);
    }
  }

  /**
   * A stream that failed to open or ended. The client reconnects by itself (an EventSource's own
   * retry would send one Last-Event-ID for all tasks, and stops for good on an HTTP error).
   */
  private onStreamError(source: EventSourceLike, event: StreamEventLike): void {
    if (source !== this.source) return;
    this.closeStream();
    this.stopTimers();
    const detail = [event.code, event.message].filter((part) => part !== undefined).join(' ');
    this.scheduleReconnect(detail ? `stream error ${detail}` : 'stream error');
  }

  private closeStream(): void {
    this.streamIdle = false;
    const source = this.source;
    if (!source) return;
    this.source = undefined;
    source.close();
  }

  private scheduleReconnect(reason: string): void {
    this.failures += 1;
    this.urlIndex += 1;
    const delayMs = fullJitterDelay(
      this.failures - 1,
      { baseMs: this.settings.reconnectBaseDelayMs, maxMs: this.settings.reconnectMaxDelayMs },
      this.random,
    );
    const url = this.endpoint(this.nextTransport());
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

  /** A message of either transport; returns the update it accepted, if any. */
  private onMessage(
    connection: WebSocketLike | EventSourceLike,
    raw: unknown,
  ): TaskUpdate | undefined {
    if ((connection !== this.socket && connection !== this.source) || typeof raw !== 'string') {
      return undefined;
    }
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      return undefined; // Not the gateway's protocol; ignore rather than tear the connection down.
    }
    if (!isRecord(message)) return undefined;
    const taskId = message.task_id;
    switch (message.type) {
      case 'status_update':
        if (typeof taskId === 'string' && isRecord(message.data)) {
          return this.onStatusUpdate(taskId, message.data, message.snapshot === true);
        }
        break;
      case 'pong':
        if (this.pongTimer !== undefined && connection === this.socket) {
          this.timers.clearTimeout(this.pongTimer);
          this.pongTimer = undefined;
          this.schedulePing(connection);
        }
        break;
      case 'subscribed':
        this.onSubscribed(connection, taskId, message.group);
        break;
      case 'error':
        if (typeof message.code === 'string' && ERROR_CODES.has(message.code)) {
          this.emit('error', message as unknown as ErrorMessage);
        }
        break;
      default:
        break; // unsubscribed, and types a newer gateway may add
    }
    return undefined;
  }

  private onSubscribed(
    connection: WebSocketLike | EventSourceLike,
    taskId: unknown,
    groupId: unknown,
  ): void {
    const isTask = typeof taskId === 'string' && this.tasks.has(taskId);
    const isGroup = typeof groupId === 'string' && this.groups.has(groupId);
    if (!isTask && !isGroup) return;
    // A stream opened again for another subscription confirms those held once more.
    if (connection === this.source) {
      const key = isTask ? `t:${taskId}` : `g:${groupId as string}`;
      if (this.confirmed.has(key)) return;
      this.confirmed.add(key);
    }
    if (isTask) this.emit('subscribed', taskId);
    else this.emit('group_subscribed', groupId as string);
  }

  private onStatusUpdate(
    taskId: string,
    data: TaskStatusData,
    snapshot: boolean,
  ): TaskUpdate | undefined {
    // An update in flight when the task (or its group) was unsubscribed.
    const group = data.group;
    if (!this.tasks.has(taskId) && !(typeof group === 'string' && this.groups.has(group))) {
      return undefined;
    }
    let state = this.states.get(taskId);
    if (state?.order.isOlder(data)) return undefined;
    const update: TaskUpdate = { taskId, data, snapshot };
    if (state) state.update = update;
    else this.states.set(taskId, (state = { update, order: new UpdateOrder() }));
    state.order.accept(data);
    this.emit('status_update', update);
    if (snapshot) this.emit('snapshot', update);
    return update;
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
