import { TASK_ID_PATTERN, type TaskStatusData } from '@task-status/client/protocol';
import { CANARY_TASK_PREFIX } from '../outbound/data-path-canary.js';
import { parseResumePositions } from './resume-positions.js';

/** What a stream request asks for, validated. */
export interface EventStreamRequest {
  /** Each task once, in the order asked. */
  taskIds: string[];
  /** Per task, the state the client had seen (see parseResumePositions). */
  resume: Map<string, TaskStatusData>;
}

/** A request that cannot be served: answered 400 with this message. */
export class InvalidStreamRequestError extends Error {
  override readonly name = 'InvalidStreamRequestError';
}

/**
 * Reads `?task_id=a&task_id=b` (or the task of `/tasks/{task_id}/events`) and the resume
 * position from `Last-Event-ID`, else `?last_event_id=`. Throws InvalidStreamRequestError for a
 * request without a task, or with a task id the WebSocket protocol would refuse too.
 */
export function parseEventStreamRequest(
  url: string,
  lastEventId: string | undefined,
  pathTaskId?: string,
): EventStreamRequest {
  let query: URLSearchParams;
  try {
    query = new URL(url, 'http://localhost').searchParams;
  } catch {
    throw new InvalidStreamRequestError('The request URL cannot be parsed');
  }
  const asked = pathTaskId === undefined ? query.getAll('task_id') : [pathTaskId];
  if (asked.length === 0) {
    throw new InvalidStreamRequestError('Name at least one task: ?task_id=<id> (repeatable)');
  }
  for (const taskId of asked) {
    if (!TASK_ID_PATTERN.test(taskId)) {
      const shown = taskId.length > 32 ? `${taskId.slice(0, 32)}...` : taskId;
      throw new InvalidStreamRequestError(
        `task_id ${JSON.stringify(shown)} is not a task id: 1 to 128 of A-Z a-z 0-9 _ . : -`,
      );
    }
    if (taskId.startsWith(CANARY_TASK_PREFIX)) {
      throw new InvalidStreamRequestError(
        `task_id must not start with "${CANARY_TASK_PREFIX}" (reserved)`,
      );
    }
  }
  return {
    taskIds: [...new Set(asked)],
    resume: parseResumePositions(lastEventId ?? (query.get('last_event_id') || undefined)),
  };
}
