import {
  GROUP_ID_PATTERN,
  TASK_ID_PATTERN,
  type TaskStatusData,
} from '@task-status/client/protocol';
import { CANARY_TASK_PREFIX } from '../outbound/data-path-canary.js';
import { parseResumePositions } from './resume-positions.js';

/** What a stream request asks for, validated. */
export interface EventStreamRequest {
  /** Each task once, in the order asked. */
  taskIds: string[];
  /** Each group once, in the order asked (`?group=`). */
  groupIds: string[];
  /** Per task, the state the client had seen (see parseResumePositions). */
  resume: Map<string, TaskStatusData>;
}

/** A request that cannot be served: answered 400 with this message. */
export class InvalidStreamRequestError extends Error {
  override readonly name = 'InvalidStreamRequestError';
}

/**
 * Reads `?task_id=a&task_id=b` (or the task of `/tasks/{task_id}/events`), `?group=g` (also
 * repeatable) and the resume position from `Last-Event-ID`, else `?last_event_id=`. Throws
 * InvalidStreamRequestError for a request with neither a task nor a group, or with an id the
 * WebSocket protocol would refuse too.
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
  const groups = query.getAll('group');
  if (asked.length === 0 && groups.length === 0) {
    throw new InvalidStreamRequestError(
      'Name at least one task or group: ?task_id=<id> or ?group=<id> (both repeatable)',
    );
  }
  for (const taskId of asked) {
    if (!TASK_ID_PATTERN.test(taskId)) {
      throw new InvalidStreamRequestError(
        `task_id ${JSON.stringify(shorten(taskId))} is not a task id: 1 to 128 of A-Z a-z 0-9 _ . : -`,
      );
    }
    if (taskId.startsWith(CANARY_TASK_PREFIX)) {
      throw new InvalidStreamRequestError(
        `task_id must not start with "${CANARY_TASK_PREFIX}" (reserved)`,
      );
    }
  }
  for (const groupId of groups) {
    if (!GROUP_ID_PATTERN.test(groupId)) {
      throw new InvalidStreamRequestError(
        `group ${JSON.stringify(shorten(groupId))} is not a group id: 1 to 128 of A-Z a-z 0-9 _ . : -`,
      );
    }
  }
  return {
    taskIds: [...new Set(asked)],
    groupIds: [...new Set(groups)],
    resume: parseResumePositions(lastEventId ?? (query.get('last_event_id') || undefined)),
  };
}

function shorten(id: string): string {
  return id.length > 32 ? `${id.slice(0, 32)}...` : id;
}
