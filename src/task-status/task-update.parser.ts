import type { DropReason } from '../connections/delivery-counters.js';
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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return 'not_an_object';
  }
  const { task_id: taskId, ...data } = parsed as Record<string, unknown>;
  if (typeof taskId !== 'string') return 'missing_task_id';
  if (!TASK_ID_PATTERN.test(taskId)) return 'invalid_task_id';
  return { taskId, data };
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
