import type { TaskStatusData } from './protocol.js';

function versionOf(data: TaskStatusData): number | undefined {
  const version = data.version;
  return typeof version === 'number' && Number.isFinite(version) ? version : undefined;
}

function updatedAtOf(data: TaskStatusData): number | undefined {
  const updatedAt = data.updated_at;
  if (typeof updatedAt === 'number' && Number.isFinite(updatedAt)) return updatedAt;
  if (typeof updatedAt !== 'string') return undefined;
  const time = Date.parse(updatedAt);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * The order of one task's states, by the fields publishers may stamp: `version` (a number) when
 * both the new state and an earlier one carry it, otherwise `updated_at` (ISO 8601, or epoch
 * milliseconds) when both carry it, otherwise arrival order. It keeps the highest of each seen so
 * far; a state equal to it is not older. The one definition of the rule: the gateway imports it
 * (`@task-status/client/update-order`), so server and client never disagree on what is stale.
 */
export class UpdateOrder {
  private version: number | undefined;
  private updatedAt: number | undefined;

  /** Whether `data` is older than a state already accepted. */
  isOlder(data: TaskStatusData): boolean {
    const version = versionOf(data);
    if (version !== undefined && this.version !== undefined) return version < this.version;
    const updatedAt = updatedAtOf(data);
    if (updatedAt !== undefined && this.updatedAt !== undefined) return updatedAt < this.updatedAt;
    return false;
  }

  /** Records an accepted state. */
  accept(data: TaskStatusData): void {
    const version = versionOf(data);
    if (version !== undefined && (this.version === undefined || version > this.version)) {
      this.version = version;
    }
    const updatedAt = updatedAtOf(data);
    if (updatedAt !== undefined && (this.updatedAt === undefined || updatedAt > this.updatedAt)) {
      this.updatedAt = updatedAt;
    }
  }
}
