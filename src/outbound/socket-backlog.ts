export interface PendingFrame {
  frame: Buffer;
  terminal: boolean;
  /** A `status_update` (counted in the frame counters), not a snapshot. */
  update: boolean;
}

/** Frames held back for one slow socket: per task, the newest (terminal ones are all kept). */
export class SocketBacklog {
  readonly byTask = new Map<string, PendingFrame[]>();
  bytes = 0;
  /** The socket's buffered bytes after the last flush, and when they last went down. */
  lastBuffered: number;
  drainedAt: number;

  constructor(buffered: number, now: number) {
    this.lastBuffered = buffered;
    this.drainedAt = now;
  }

  /** Returns the older frame it replaced (coalesced), if any. */
  add(taskId: string, pending: PendingFrame): PendingFrame | undefined {
    const frames = this.byTask.get(taskId);
    this.bytes += pending.frame.length;
    if (!frames) {
      this.byTask.set(taskId, [pending]);
      return undefined;
    }
    const last = frames[frames.length - 1];
    if (!last.terminal) {
      this.bytes -= last.frame.length;
      frames[frames.length - 1] = pending;
      return last;
    }
    frames.push(pending);
    return undefined;
  }

  /** Takes out what is held for one task; returns how many `status_update` frames that was. */
  remove(taskId: string): number {
    const frames = this.byTask.get(taskId);
    if (!frames) return 0;
    this.byTask.delete(taskId);
    let updates = 0;
    for (const pending of frames) {
      this.bytes -= pending.frame.length;
      if (pending.update) updates += 1;
    }
    return updates;
  }

  /** `status_update` frames still held. */
  updateCount(): number {
    let count = 0;
    for (const frames of this.byTask.values()) {
      for (const pending of frames) if (pending.update) count += 1;
    }
    return count;
  }
}
