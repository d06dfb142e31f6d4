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
const UNICODE_ESCAPE = Buffer.from('\\u');
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
  const keyLength = LEADING_KEY.length;
  if (payload.length <= keyLength + 2) return undefined;
  for (let index = 0; index < keyLength; index += 1) {
    if (payload[index] !== LEADING_KEY[index]) return undefined;
  }
  let start = keyLength;
  if (payload[start] === SPACE) start += 1;
  if (payload[start] !== QUOTE) return undefined;
  start += 1;
  let end = start;
  while (end < payload.length && TASK_ID_BYTE[payload[end]] === 1) end += 1;
  if (end === start || end - start > TASK_ID_MAX_LENGTH || payload[end] !== QUOTE) {
    return undefined;
  }
  // A second "task_id" key (nested, or a duplicate that JSON.parse would prefer) needs the parser.
  if (payload.lastIndexOf(QUOTED_KEY) !== 1) return undefined;
  if (payload.indexOf(UNICODE_ESCAPE, end) !== -1) return undefined;
  // Only ASCII passed the byte check, so latin1 decodes it exactly, and cheaply.
  return payload.toString('latin1', start, end);
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
