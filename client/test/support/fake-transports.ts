import type { EventSourceLike, StreamEventLike } from '../../src/event-source-like.js';
import type { WebSocketLike } from '../../src/websocket-like.js';

/** An EventSource the test drives: it opens, delivers events and fails when told. */
export class FakeEventSource implements EventSourceLike {
  static readonly instances: FakeEventSource[] = [];
  readyState = 0;
  closed = false;
  private readonly listeners = new Map<string, ((event: StreamEventLike) => void)[]>();

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  /** The query of the request: task ids, last_event_id, token. */
  get query(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  addEventListener(type: string, listener: (event: StreamEventLike) => void): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  close(): void {
    this.closed = true;
    this.readyState = 2;
  }

  open(): void {
    this.readyState = 1;
    this.dispatch('open', {});
  }

  /** A named event, as the gateway writes it: `event: <type>`, `id:`, `data: <json>`. */
  event(type: string, message: unknown, id?: string): void {
    this.dispatch(type, { data: JSON.stringify(message), lastEventId: id ?? '' });
  }

  /** A failed or ended connection: `error` without data. */
  fail(code?: number): void {
    this.dispatch('error', code === undefined ? {} : { code, message: 'Non-200 status code' });
  }

  private dispatch(type: string, event: StreamEventLike): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

/** A WebSocket the test drives; a refused upgrade is `refuse()`: close 1006 before open. */
export class FakeWebSocket implements WebSocketLike {
  static readonly instances: FakeWebSocket[] = [];
  readyState = 0;
  readonly sent: unknown[] = [];
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: never) => void) | null = null;
  onclose: ((event: never) => void) | null = null;
  onerror: ((event: never) => void) | null = null;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.end(1000);
  }

  open(): void {
    this.readyState = 1;
    (this.onopen as ((event: object) => void) | null)?.({});
  }

  refuse(): void {
    (this.onerror as ((event: object) => void) | null)?.({});
    this.end(1006);
  }

  private end(code: number): void {
    this.readyState = 3;
    (this.onclose as ((event: object) => void) | null)?.({ code, reason: '' });
  }
}
