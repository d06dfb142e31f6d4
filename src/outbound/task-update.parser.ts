import {
  TASK_ID_MAX_LENGTH,
  TASK_ID_PATTERN,
  type StatusUpdateMessage,
  type TaskStatusData,
} from '@task-status/client/protocol';
import type { DropReason } from '../connections/delivery-counters.js';
import { MAX_UPDATE_NESTING, nestsDeeperThan } from '../core/json-nesting.js';

export interface TaskUpdate {
  taskId: string;
  data: TaskStatusData;
}

/**
 * Parses one message from the Redis channel. Redis input is untrusted: this never throws, it
 * returns the reason a message has to be dropped instead.
 */
export function parseTaskUpdate(payload: string): TaskUpdate | DropReason {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return 'invalid_json';
  }
  // Valid JSON that could not be re-encoded for the clients (see MAX_UPDATE_NESTING).
  if (nestsDeeperThan(payload, MAX_UPDATE_NESTING)) return 'invalid_json';
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return 'not_an_object';
  }
  const { task_id: taskId, ...data } = parsed as Record<string, unknown>;
  if (typeof taskId !== 'string') return 'missing_task_id';
  if (!TASK_ID_PATTERN.test(taskId)) return 'invalid_task_id';
  return { taskId, data };
}

const LEADING_KEY = Buffer.from('{"task_id":');
const QUOTED_KEY = Buffer.from('"task_id"');
const BACKSLASH = 0x5c;
const LOWER_U = 0x75;
const LOWER_T = 0x74;
const QUOTE = 0x22;
const SPACE = 0x20;
/** The bytes of TASK_ID_PATTERN's character class, all ASCII. */
const TASK_ID_BYTE = new Uint8Array(256);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-') {
  TASK_ID_BYTE[char.charCodeAt(0)] = 1;
}

/**
 * The task id of a message in the publishers' canonical form (`{"task_id":"…",…}`, task_id first,
 * as JSON.stringify and Python's json.dumps write the documented snippet), read from the raw bytes
 * without decoding or parsing the rest, so that an instance can drop updates for tasks it does not
 * watch cheaply. Undefined when the message is not in that form, names task_id twice, or holds a
 * `\u` escape (which could spell a second task_id key): then only a full parse can tell.
 */
export function peekTaskId(payload: Buffer): string | undefined {
  return peekTaskIdAt(payload, 0, payload.length);
}

/**
 * peekTaskId for the payload at `[from, to)` of a larger buffer (a chunk read from Redis), so
 * that no Buffer is made for it.
 */
export function peekTaskIdAt(bytes: Buffer, from: number, to: number): string | undefined {
  const keyLength = LEADING_KEY.length;
  if (to - from <= keyLength + 2) return undefined;
  for (let index = 0; index < keyLength; index += 1) {
    if (bytes[from + index] !== LEADING_KEY[index]) return undefined;
  }
  let start = from + keyLength;
  if (bytes[start] === SPACE) start += 1;
  if (bytes[start] !== QUOTE) return undefined;
  start += 1;
  let end = start;
  while (end < to && TASK_ID_BYTE[bytes[end]] === 1) end += 1;
  if (end === start || end - start > TASK_ID_MAX_LENGTH || end >= to || bytes[end] !== QUOTE) {
    return undefined;
  }
  // One pass over the rest: a second "task_id" key (nested, or a duplicate that JSON.parse
  // would prefer) or a `\u` escape needs the parser.
  const last = to - 1;
  for (let index = from + keyLength; index < last; index += 1) {
    const byte = bytes[index];
    if (byte === BACKSLASH) {
      if (bytes[index + 1] === LOWER_U) return undefined;
    } else if (byte === QUOTE && bytes[index + 1] === LOWER_T && hasQuotedKeyAt(bytes, index, to)) {
      return undefined;
    }
  }
  // Only ASCII passed the byte check, so latin1 decodes it exactly, and cheaply.
  return bytes.toString('latin1', start, end);
}

function hasQuotedKeyAt(bytes: Buffer, at: number, to: number): boolean {
  if (at + QUOTED_KEY.length > to) return false;
  for (let index = 2; index < QUOTED_KEY.length; index += 1) {
    if (bytes[at + index] !== QUOTED_KEY[index]) return false;
  }
  return true;
}

/** The stored state of a task, sent to a client that just subscribed. */
export function serializeSnapshot(update: TaskUpdate): string {
  return JSON.stringify({
    type: 'status_update',
    task_id: update.taskId,
    data: update.data,
    snapshot: true,
  } satisfies StatusUpdateMessage);
}

/** The outgoing frame for an update, serialized once and shared by all its subscribers. */
export function serializeStatusUpdate(update: TaskUpdate): string {
  return JSON.stringify({
    type: 'status_update',
    task_id: update.taskId,
    data: update.data,
  } satisfies StatusUpdateMessage);
}
