import type { TaskStatusData } from '@task-status/client/protocol';

const EVENT_HEAD = Buffer.from('event: status_update\nid: ');

/**
 * The position of a state in its task's order, as it goes into an event id: `v<version>` when the
 * state carries a numeric `version`, else `t<epoch ms>` for a valid `updated_at`, else `-` (no
 * position: a resume cannot guard such a task). Never holds `:`, so the id's last `:` separates it
 * from the task id (which may hold `:`).
 */
export function positionOf(data: TaskStatusData): string {
  const version = data.version;
  if (typeof version === 'number' && Number.isFinite(version)) return `v${version}`;
  const updatedAt = data.updated_at;
  const time =
    typeof updatedAt === 'number'
      ? updatedAt
      : typeof updatedAt === 'string'
        ? Date.parse(updatedAt)
        : Number.NaN;
  return Number.isFinite(time) ? `t${time}` : '-';
}

/** `<task_id>:<position>`, the `id:` of a `status_update` event. */
export function eventIdOf(taskId: string, data: TaskStatusData): string {
  return `${taskId}:${positionOf(data)}`;
}

/**
 * One `status_update` event: the JSON is the WebSocket frame's, unchanged (serialized JSON holds
 * no raw line break, so one `data:` line carries it).
 */
export function encodeStatusEvent(json: string, id: string): Buffer {
  return Buffer.concat([EVENT_HEAD, Buffer.from(`${id}\ndata: ${json}\n\n`)]);
}
