import { TASK_ID_PATTERN, type TaskStatusData } from '@task-status/client/protocol';

/** More entries than this in one Last-Event-ID are ignored (the header is bounded anyway). */
const MAX_ENTRIES = 1000;

/**
 * What a reconnecting client had seen, per task, from `Last-Event-ID` (or `?last_event_id=`):
 * one event id `<task_id>:<position>` as an EventSource sends it, or several joined by `,` (a
 * client that tracks every task's last id). A position is `v<version>` or `t<epoch ms>` (see
 * sse-event.ts); each comes back as the state it stands for, for the version guard. Malformed
 * entries and `-` positions are ignored: a resume never fails, it only sends more.
 */
export function parseResumePositions(value: string | undefined): Map<string, TaskStatusData> {
  const positions = new Map<string, TaskStatusData>();
  if (!value) return positions;
  for (const entry of value.split(',').slice(0, MAX_ENTRIES)) {
    const trimmed = entry.trim();
    const separator = trimmed.lastIndexOf(':');
    if (separator <= 0) continue;
    const taskId = trimmed.slice(0, separator);
    const position = trimmed.slice(separator + 1);
    if (!TASK_ID_PATTERN.test(taskId)) continue;
    const number = /^[vt]-?\d+(\.\d+)?$/.test(position) ? Number(position.slice(1)) : Number.NaN;
    if (!Number.isFinite(number)) continue;
    positions.set(taskId, position[0] === 'v' ? { version: number } : { updated_at: number });
  }
  return positions;
}
