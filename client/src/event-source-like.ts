/**
 * What the client needs of an EventSource: the browser's `EventSource` and the `eventsource`
 * package's (Node) both fit. Listeners are added with `addEventListener` because the gateway
 * names its events (`subscribed`, `status_update`, `error`).
 */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: StreamEventLike) => void): void;
  close(): void;
}

export type EventSourceConstructor = new (url: string) => EventSourceLike;

/**
 * An event of the stream. A named event carries `data` (and `lastEventId`, the stream's last
 * `id:`); a failed or ended connection fires `error` without `data`, in some implementations
 * with an HTTP `code` and a `message`.
 */
export interface StreamEventLike {
  data?: unknown;
  lastEventId?: string;
  code?: number;
  message?: string;
}
