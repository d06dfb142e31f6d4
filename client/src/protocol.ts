/**
 * The gateway's WebSocket protocol, as types: the one definition. The gateway imports it as
 * `@task-status/client/protocol`, so what the server writes and what this client reads cannot
 * drift apart; docs/protocol.md describes the same contract for people.
 */

/** Task ids: what UUIDs, `task-1` or `org:42.job_7` look like, and nothing that needs escaping. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const TASK_ID_MAX_LENGTH = 128;

/**
 * Group ids (a user, project or tenant an update names in its `group` field) follow the task id
 * rule: 1 to 128 characters of `A-Z a-z 0-9 _ . : -`.
 */
export const GROUP_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const GROUP_ID_MAX_LENGTH = 128;

export type ClientMessageType = 'subscribe' | 'unsubscribe' | 'ping' | 'auth';

export type ClientMessage =
  | { type: 'subscribe'; task_id: string; group?: never }
  /** Every task whose updates name this group; answered `subscribed` with `group`. */
  | { type: 'subscribe'; group: string; task_id?: never }
  | { type: 'unsubscribe'; task_id: string; group?: never }
  | { type: 'unsubscribe'; group: string; task_id?: never }
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
  /** The connection sent messages faster than WS_RATE_LIMIT_PER_SECOND; the message was not read. */
  | 'rate_limited'
  /** An `auth` message whose token was rejected; the previous token stays in effect. */
  | 'unauthorized'
  /** The connection's token does not allow this task (or group); nothing was subscribed. */
  | 'forbidden';

export interface SubscribedMessage {
  type: 'subscribed';
  task_id: string;
  group?: never;
  message: 'Successfully subscribed';
}

/** Answer to a group `subscribe`: the same shape, with `group` in place of `task_id`. */
export interface GroupSubscribedMessage {
  type: 'subscribed';
  group: string;
  task_id?: never;
  message: 'Successfully subscribed';
}

export interface UnsubscribedMessage {
  type: 'unsubscribed';
  task_id: string;
  group?: never;
  message: 'Successfully unsubscribed';
}

export interface GroupUnsubscribedMessage {
  type: 'unsubscribed';
  group: string;
  task_id?: never;
  message: 'Successfully unsubscribed';
}

export interface PongMessage {
  type: 'pong';
}

/** Answer to `auth`: the new token is in effect. */
export interface AuthenticatedMessage {
  type: 'authenticated';
  /** When the new token expires (ISO 8601), or null for a token without `exp`. */
  expires_at: string | null;
}

/** Every field the publisher sent except `task_id` (its `group` included), unchanged. */
export type TaskStatusData = Record<string, unknown>;

export interface StatusUpdateMessage {
  type: 'status_update';
  task_id: string;
  data: TaskStatusData;
  /**
   * Present on a stored state sent right after `subscribed`: the latest state at that time (after
   * a group's `subscribed`, one such update per task of the group).
   */
  snapshot?: true;
}

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** Present when the error concerns a (valid) task id. */
  task_id?: string;
  /** Present when the error concerns a (valid) group id. */
  group?: string;
  /** Present for invalid_message: the field that failed validation. */
  field?: string;
}

export type ServerMessage =
  | SubscribedMessage
  | GroupSubscribedMessage
  | UnsubscribedMessage
  | GroupUnsubscribedMessage
  | PongMessage
  | AuthenticatedMessage
  | StatusUpdateMessage
  | ErrorMessage;

/** Close codes the gateway uses; see docs/protocol.md. */
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
  /**
   * The client read too slowly to keep up (WS_SLOW_CLIENT_MAX_BYTES) or stopped reading while
   * updates were held back for it (WS_SLOW_CLIENT_STALL_MS); reconnect.
   */
  TRY_AGAIN_LATER: 1013,
} as const;
