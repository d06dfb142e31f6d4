import type { TaskStatusData } from '@task-status/client/protocol';
import { UpdateOrder } from '@task-status/client/update-order';

export type Verdict = 'deliver' | 'stale' | 'after_terminal';

/** Frames kept per task whose updates come twice (sharded groups): the other copy's lead. */
const RECENT_COPIES = 4;

interface TaskState {
  /** Live deliveries so far; a read that started before a change sees a different number after. */
  seq: number;
  /** The client's own ordering rule, so that server and clients agree on what is stale. */
  order: UpdateOrder;
  terminal: boolean;
  /** The last frame delivered live, to tell whether a re-read state is news. */
  lastFrame: string | undefined;
  /**
   * The last frame, when a resync delivered it: its live copy may still be on its way (the key
   * and the message are written together, but come back on two connections) and is not news.
   */
  resyncedFrame: string | undefined;
  /**
   * The last frames delivered of a task whose updates arrive in two copies (its shard channel and
   * its group's, in no common order); undefined for every other task.
   */
  recent: string[] | undefined;
}

/**
 * The latest state this instance delivered per watched task, so that no client is handed an
 * older state after a newer one, whether the state comes live, from a snapshot or from a resync.
 * Order: UpdateOrder's rule (`version`, else `updated_at`, else arrival order), the one the
 * client applies too. After a terminal status only terminal ones pass.
 */
export class TaskStateTracker {
  private readonly states = new Map<string, TaskState>();

  constructor(private readonly terminalStatuses: ReadonlySet<string>) {}

  get size(): number {
    return this.states.size;
  }

  seq(taskId: string): number {
    return this.states.get(taskId)?.seq ?? 0;
  }

  lastFrame(taskId: string): string | undefined {
    return this.states.get(taskId)?.lastFrame;
  }

  isTerminal(status: unknown): boolean {
    return typeof status === 'string' && this.terminalStatuses.has(status);
  }

  judge(taskId: string, data: TaskStatusData): Verdict {
    const state = this.states.get(taskId);
    if (!state) return 'deliver';
    if (state.terminal && !this.isTerminal(data.status)) return 'after_terminal';
    return state.order.isOlder(data) ? 'stale' : 'deliver';
  }

  /**
   * A state was written to every subscriber of the task (`resynced`: re-read from its key;
   * `twoCopies`: its other copy may still come, see isCopy).
   */
  recordLive(
    taskId: string,
    data: TaskStatusData,
    frame: string,
    resynced = false,
    twoCopies = false,
  ): void {
    const state = this.advance(taskId, data);
    state.seq += 1;
    state.lastFrame = frame;
    state.resyncedFrame = resynced ? frame : undefined;
    if (!twoCopies) return;
    const recent = (state.recent ??= []);
    recent.push(frame);
    if (recent.length > RECENT_COPIES) recent.shift();
  }

  /**
   * Whether `frame` is the second copy of a state delivered already: in sharded mode an update
   * naming a group comes on the task's channel and on the group's, in no common order. The order
   * alone cannot tell (an equal state is not older), the exact frame can.
   */
  isCopy(taskId: string, frame: string): boolean {
    return this.states.get(taskId)?.recent?.includes(frame) ?? false;
  }

  /** Whether `frame` is the live copy of the state a resync just delivered. */
  isResyncEcho(taskId: string, frame: string): boolean {
    return this.states.get(taskId)?.resyncedFrame === frame;
  }

  /**
   * A stored state was written to one new subscriber. It moves the high-water mark (so nothing
   * older follows it) but is not "delivered to all": the live copy of it still goes to everyone.
   */
  recordSnapshot(taskId: string, data: TaskStatusData): void {
    this.advance(taskId, data);
  }

  /** The task has no subscriber here any more. */
  forget(taskId: string): void {
    this.states.delete(taskId);
  }

  private advance(taskId: string, data: TaskStatusData): TaskState {
    let state = this.states.get(taskId);
    if (!state) {
      state = {
        seq: 0,
        order: new UpdateOrder(),
        terminal: false,
        lastFrame: undefined,
        resyncedFrame: undefined,
        recent: undefined,
      };
      this.states.set(taskId, state);
    }
    state.order.accept(data);
    if (this.isTerminal(data.status)) state.terminal = true;
    return state;
  }
}
