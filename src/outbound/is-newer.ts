import type { TaskStatusData } from '@task-status/client/protocol';
import { UpdateOrder } from '@task-status/client/update-order';

/**
 * Whether `data` is strictly newer than `seen` by the clients' own order (UpdateOrder); a state
 * the order cannot place against `seen` (no common `version` or `updated_at`) counts as newer.
 */
export function isNewer(data: TaskStatusData, seen: TaskStatusData): boolean {
  const order = new UpdateOrder();
  order.accept(data);
  if (order.isOlder(seen)) return true;
  const reverse = new UpdateOrder();
  reverse.accept(seen);
  // Neither is older: equal positions (not news), or positions the order cannot compare (news).
  return !reverse.isOlder(data) && !comparable(data, seen);
}

function comparable(a: TaskStatusData, b: TaskStatusData): boolean {
  const bothNumbers = (x: unknown, y: unknown) =>
    typeof x === 'number' && Number.isFinite(x) && typeof y === 'number' && Number.isFinite(y);
  const bothTimes = (x: unknown, y: unknown) =>
    !Number.isNaN(timeOf(x)) && !Number.isNaN(timeOf(y));
  return bothNumbers(a.version, b.version) || bothTimes(a.updated_at, b.updated_at);
}

function timeOf(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN;
  return typeof value === 'string' ? Date.parse(value) : Number.NaN;
}
