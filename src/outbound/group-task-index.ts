/**
 * The tasks this instance delivered (live or as a snapshot) to the subscribers of each watched
 * group, so that their ordering state (TaskStateTracker) lives as long as the group is watched
 * here, and is forgotten with it. A task belongs to the group its latest update named. A plain
 * data structure; it stays empty while no group is watched.
 */
export class GroupTaskIndex {
  private readonly tasksByGroup = new Map<string, Set<string>>();
  private readonly groupByTask = new Map<string, string>();

  /** Tasks recorded, over all groups. */
  get size(): number {
    return this.groupByTask.size;
  }

  /** The task's latest update named the group, and went (or goes) to its subscribers. */
  note(groupId: string, taskId: string): void {
    const previous = this.groupByTask.get(taskId);
    if (previous === groupId) return;
    if (previous !== undefined) this.removeFrom(previous, taskId);
    this.groupByTask.set(taskId, groupId);
    let tasks = this.tasksByGroup.get(groupId);
    if (!tasks) {
      tasks = new Set();
      this.tasksByGroup.set(groupId, tasks);
    }
    tasks.add(taskId);
  }

  groupOf(taskId: string): string | undefined {
    return this.groupByTask.get(taskId);
  }

  has(taskId: string): boolean {
    return this.groupByTask.has(taskId);
  }

  tasksOf(groupId: string): ReadonlySet<string> {
    return this.tasksByGroup.get(groupId) ?? EMPTY;
  }

  /** The group lost its last subscriber here: returns the tasks it held. */
  forgetGroup(groupId: string): string[] {
    const tasks = this.tasksByGroup.get(groupId);
    if (!tasks) return [];
    this.tasksByGroup.delete(groupId);
    for (const taskId of tasks) this.groupByTask.delete(taskId);
    return [...tasks];
  }

  private removeFrom(groupId: string, taskId: string): void {
    const tasks = this.tasksByGroup.get(groupId);
    if (!tasks) return;
    tasks.delete(taskId);
    if (tasks.size === 0) this.tasksByGroup.delete(groupId);
  }
}

const EMPTY: ReadonlySet<string> = new Set();
