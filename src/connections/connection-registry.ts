export type SubscribeResult = 'subscribed' | 'already_subscribed' | 'limit_reached';
/** `group_limit_reached`: the connection holds its maximum of group subscriptions. */
export type GroupSubscribeResult = SubscribeResult | 'group_limit_reached';

export interface TaskSubscriberCount {
  taskId: string;
  connections: number;
}

/**
 * Who is subscribed to what, indexed both ways so that subscribe, unsubscribe and the cleanup
 * of a closed connection are O(1) per subscription. A plain data structure: the transport and
 * the framework stay outside, which keeps it cheap on the delivery path and easy to test.
 * Group subscriptions are kept beside the task ones, in maps of their own that stay empty (and
 * cost nothing) on an instance where no client subscribed to a group; both count against
 * maxSubscriptionsPerConnection.
 */
export class ConnectionRegistry<TConnection extends object = object> {
  private readonly tasksByConnection = new Map<TConnection, Set<string>>();
  private readonly connectionsByTask = new Map<string, Set<TConnection>>();
  private readonly groupsByConnection = new Map<TConnection, Set<string>>();
  private readonly connectionsByGroup = new Map<string, Set<TConnection>>();
  private subscriptions = 0;
  private groupSubscriptions = 0;

  constructor(
    private readonly maxSubscriptionsPerConnection = Number.POSITIVE_INFINITY,
    private readonly maxGroupsPerConnection = Number.POSITIVE_INFINITY,
  ) {}

  get connectionCount(): number {
    return this.tasksByConnection.size;
  }

  get subscriptionCount(): number {
    return this.subscriptions;
  }

  get taskCount(): number {
    return this.connectionsByTask.size;
  }

  /** Group subscriptions held, over all connections (not in subscriptionCount). */
  get groupSubscriptionCount(): number {
    return this.groupSubscriptions;
  }

  /** Groups with at least one subscriber; 0 lets the delivery path skip every group lookup. */
  get groupCount(): number {
    return this.connectionsByGroup.size;
  }

  addConnection(connection: TConnection): void {
    if (!this.tasksByConnection.has(connection)) {
      this.tasksByConnection.set(connection, new Set());
    }
  }

  hasConnection(connection: TConnection): boolean {
    return this.tasksByConnection.has(connection);
  }

  /** Forgets the connection and all its subscriptions; returns the task ids it was subscribed to. */
  removeConnection(connection: TConnection): string[] {
    const tasks = this.tasksByConnection.get(connection);
    if (!tasks) return [];
    this.tasksByConnection.delete(connection);
    const groups = this.groupsByConnection.get(connection);
    if (groups) {
      this.groupsByConnection.delete(connection);
      for (const groupId of groups) this.detachGroup(groupId, connection);
      this.groupSubscriptions -= groups.size;
    }
    for (const taskId of tasks) {
      this.detach(taskId, connection);
    }
    this.subscriptions -= tasks.size;
    return [...tasks];
  }

  subscribe(connection: TConnection, taskId: string): SubscribeResult {
    let tasks = this.tasksByConnection.get(connection);
    if (!tasks) {
      tasks = new Set();
      this.tasksByConnection.set(connection, tasks);
    }
    if (tasks.has(taskId)) return 'already_subscribed';
    if (tasks.size + this.groupCountOf(connection) >= this.maxSubscriptionsPerConnection) {
      return 'limit_reached';
    }

    tasks.add(taskId);
    let subscribers = this.connectionsByTask.get(taskId);
    if (!subscribers) {
      subscribers = new Set();
      this.connectionsByTask.set(taskId, subscribers);
    }
    subscribers.add(connection);
    this.subscriptions += 1;
    return 'subscribed';
  }

  /** Returns false when the connection was not subscribed to the task (which is harmless). */
  unsubscribe(connection: TConnection, taskId: string): boolean {
    const tasks = this.tasksByConnection.get(connection);
    if (!tasks?.delete(taskId)) return false;
    this.detach(taskId, connection);
    this.subscriptions -= 1;
    return true;
  }

  /**
   * Subscribes the connection to every task of a group. Counts against the subscription limit
   * like a task, and against maxGroupsPerConnection.
   */
  subscribeGroup(connection: TConnection, groupId: string): GroupSubscribeResult {
    if (!this.tasksByConnection.has(connection)) this.tasksByConnection.set(connection, new Set());
    let groups = this.groupsByConnection.get(connection);
    if (groups?.has(groupId)) return 'already_subscribed';
    const held = groups?.size ?? 0;
    if (held + this.tasksOf(connection).size >= this.maxSubscriptionsPerConnection) {
      return 'limit_reached';
    }
    if (held >= this.maxGroupsPerConnection) return 'group_limit_reached';
    if (!groups) {
      groups = new Set();
      this.groupsByConnection.set(connection, groups);
    }
    groups.add(groupId);
    let subscribers = this.connectionsByGroup.get(groupId);
    if (!subscribers) {
      subscribers = new Set();
      this.connectionsByGroup.set(groupId, subscribers);
    }
    subscribers.add(connection);
    this.groupSubscriptions += 1;
    return 'subscribed';
  }

  /** Returns false when the connection was not subscribed to the group (which is harmless). */
  unsubscribeGroup(connection: TConnection, groupId: string): boolean {
    const groups = this.groupsByConnection.get(connection);
    if (!groups?.delete(groupId)) return false;
    if (groups.size === 0) this.groupsByConnection.delete(connection);
    this.detachGroup(groupId, connection);
    this.groupSubscriptions -= 1;
    return true;
  }

  /** The live set for a group, for the delivery loop; callers must not mutate it. */
  groupSubscribersOf(groupId: string): ReadonlySet<TConnection> | undefined {
    return this.connectionsByGroup.get(groupId);
  }

  groupsOf(connection: TConnection): ReadonlySet<string> {
    return this.groupsByConnection.get(connection) ?? EMPTY;
  }

  /** Every group that has at least one subscriber. */
  groupIds(): IterableIterator<string> {
    return this.connectionsByGroup.keys();
  }

  /** The live set for a task, for the delivery loop; callers must not mutate it. */
  subscribersOf(taskId: string): ReadonlySet<TConnection> | undefined {
    return this.connectionsByTask.get(taskId);
  }

  tasksOf(connection: TConnection): ReadonlySet<string> {
    return this.tasksByConnection.get(connection) ?? new Set();
  }

  /** Every task that has at least one subscriber. */
  taskIds(): IterableIterator<string> {
    return this.connectionsByTask.keys();
  }

  connections(): IterableIterator<TConnection> {
    return this.tasksByConnection.keys();
  }

  /**
   * The `limit` tasks with the most subscribers (ties by task id), without sorting every task:
   * a sorted window of `limit` entries is kept, so a stats call stays cheap with very many tasks.
   */
  topTasks(limit: number): TaskSubscriberCount[] {
    if (limit <= 0) return [];
    const top: TaskSubscriberCount[] = [];
    for (const [taskId, subscribers] of this.connectionsByTask) {
      const entry = { taskId, connections: subscribers.size };
      if (top.length === limit && !ranksBefore(entry, top[top.length - 1])) continue;
      let low = 0;
      let high = top.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (ranksBefore(entry, top[middle])) high = middle;
        else low = middle + 1;
      }
      top.splice(low, 0, entry);
      if (top.length > limit) top.pop();
    }
    return top;
  }

  private groupCountOf(connection: TConnection): number {
    return this.groupsByConnection.size === 0
      ? 0
      : (this.groupsByConnection.get(connection)?.size ?? 0);
  }

  private detachGroup(groupId: string, connection: TConnection): void {
    const subscribers = this.connectionsByGroup.get(groupId);
    if (!subscribers) return;
    subscribers.delete(connection);
    if (subscribers.size === 0) this.connectionsByGroup.delete(groupId);
  }

  private detach(taskId: string, connection: TConnection): void {
    const subscribers = this.connectionsByTask.get(taskId);
    if (!subscribers) return;
    subscribers.delete(connection);
    if (subscribers.size === 0) this.connectionsByTask.delete(taskId);
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function ranksBefore(a: TaskSubscriberCount, b: TaskSubscriberCount): boolean {
  return a.connections > b.connections || (a.connections === b.connections && a.taskId < b.taskId);
}
