/**
 * What the client needs of a WebSocket: the browser's `WebSocket`, Node 22's global one and the
 * `ws` package's all fit. Event parameters are typed `never` because those implementations type
 * their events differently; the client reads only `data` (message), `code` and `reason` (close).
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the connection without a closing handshake. */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The `readyState` of an open connection, the same in every implementation. */
export const WEBSOCKET_OPEN = 1;

export interface MessageEventLike {
  data: unknown;
}

export interface CloseEventLike {
  code: number;
  reason: string;
}
