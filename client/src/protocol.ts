/**
 * The gateway's WebSocket protocol, as the client sees it. A copy of the server's
 * src/task-status/protocol.ts (this package must not depend on the server's sources); the root test
 * suite (test/client-protocol.e2e-spec.ts) checks that the two stay compatible.
 */

/** Task ids: 1–128 characters from `A-Z a-z 0-9 _ . : -`. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const TASK_ID_MAX_LENGTH = 128;

export type ClientMessageType = 'subscribe' | 'unsubscribe' | 'ping' | 'auth';

export type ClientMessage =
  | { type: 'subscribe'; task_id: string }
  | { type: 'unsubscribe'; task_id: string }
  | { type: 'ping' }
  /** Replaces the connection's token (when the gateway authenticates); answered `authenticated`. */
  | { type: 'auth'; token: string };

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_message'
  | 'unknown_type'
  | 'subscription_limit'
  | 'unsupported_frame'
  | 'internal_error'
  /** Messages came faster than the gateway's per-connection rate; that one was not read. */
  | 'rate_limited'
  | 'unauthorized'
  | 'forbidden';

export interface SubscribedMessage {
  type: 'subscribed';
  task_id: string;
  message: string;
}

export interface UnsubscribedMessage {
  type: 'unsubscribed';
  task_id: string;
  message: string;
}

export interface PongMessage {
  type: 'pong';
}

export interface AuthenticatedMessage {
  type: 'authenticated';
  /** When the new token expires (ISO 8601), or null for a token without `exp`. */
  expires_at: string | null;
}

/** Every field the publisher sent except `task_id`, unchanged. */
export type TaskStatusData = Record<string, unknown>;

export interface StatusUpdateMessage {
  type: 'status_update';
  task_id: string;
  data: TaskStatusData;
  /** `true` when the gateway sent the task's stored state right after `subscribed`. */
  snapshot?: boolean;
}

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** Present when the error concerns a (valid) task id. */
  task_id?: string;
  /** Present for invalid_message: the field that failed validation. */
  field?: string;
}

export type ServerMessage =
  | SubscribedMessage
  | UnsubscribedMessage
  | PongMessage
  | AuthenticatedMessage
  | StatusUpdateMessage
  | ErrorMessage;

/** Close codes the server uses. */
export const CloseCode = {
  /** The server is shutting down; reconnect (to another instance). */
  GOING_AWAY: 1001,
  /** A text frame was not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** A frame was larger than WS_MAX_MESSAGE_BYTES. */
  MESSAGE_TOO_BIG: 1009,
  /** The client kept sending past its message rate after rate_limited errors. */
  POLICY_VIOLATION: 1008,
  /** The connection's token expired; reconnect with a fresh one. */
  TOKEN_EXPIRED: 4001,
  /** The client read too slowly to keep up; reconnect. */
  TRY_AGAIN_LATER: 1013,
} as const;
