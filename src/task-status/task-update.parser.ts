import type { DropReason } from '../connections/delivery-counters.js';
import { MAX_UPDATE_NESTING, nestsDeeperThan } from './json-nesting.js';
import { TASK_ID_PATTERN, type TaskStatusData } from './protocol.js';

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

const LEADING_TASK_ID = '{"task_id":"';

/**
 * The task id of a message in the publishers' canonical form (`{"task_id":"…",…}`, task_id first,
 * as json.dumps and JSON.stringify write the documented snippet), found without parsing the rest,
 * so that an instance can drop updates for tasks it does not watch cheaply. Undefined when the
 * message is not in that form or names task_id twice: then only a full parse can tell.
 */
export function peekTaskId(payload: string): string | undefined {
  if (!payload.startsWith(LEADING_TASK_ID)) return undefined;
  const end = payload.indexOf('"', LEADING_TASK_ID.length);
  if (end < 0) return undefined;
  const taskId = payload.slice(LEADING_TASK_ID.length, end);
  if (!TASK_ID_PATTERN.test(taskId)) return undefined;
  // A second "task_id" key (nested, or a duplicate that JSON.parse would prefer) needs the parser.
  if (payload.lastIndexOf('"task_id"') !== 1) return undefined;
  return taskId;
}

/** The stored state of a task, sent to a client that just subscribed. */
export function serializeSnapshot(update: TaskUpdate): string {
  return JSON.stringify({
    type: 'status_update',
    task_id: update.taskId,
    data: update.data,
    snapshot: true,
  });
}

/** The outgoing frame for an update, serialized once and shared by all its subscribers. */
export function serializeStatusUpdate(update: TaskUpdate): string {
  return JSON.stringify({ type: 'status_update', task_id: update.taskId, data: update.data });
}
