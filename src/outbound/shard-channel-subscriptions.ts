import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { CLOCK, type Clock, type ClockTimer } from '../clock/clock.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { REDIS_OPTIONS, type ResolvedRedisOptions } from '../redis/redis-options.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';

/** The part of the subscriber connection used here (an ioredis Redis has it); fakeable in units. */
export interface ShardSubscriber {
  ssubscribe(...channels: string[]): Promise<unknown>;
  sunsubscribe(...channels: string[]): Promise<unknown>;
}

/** Commands sent, for stats and tests. */
export interface ShardSubscriptionCounts {
  ssubscribeCommands: number;
  sunsubscribeCommands: number;
}

const NOTHING_PENDING = Promise.resolve();

/**
 * A group's entry among the tasks' ones: `#` never starts a task id, so a group and a task of the
 * same id stay apart. Kept in the same sets, a group's channel gets the tasks' batching, grace,
 * reattachment and topology handling unchanged.
 */
const GROUP_MARK = '#';

function groupEntry(groupId: string): string {
  return GROUP_MARK + groupId;
}

/**
 * In `sharded` mode, keeps the subscriber connection's shard channels equal to the tasks watched
 * here: SSUBSCRIBE when a task gets its first local watcher, SUNSUBSCRIBE when it loses its last.
 * Changes are collected and applied once per event-loop turn, as one command per partition (the
 * channels of one partition share a cluster slot), so a reconnect storm of clients costs a few
 * pipelined commands, not a round trip per client. What counts is the registry at that moment: a
 * task left and watched again within one turn sends nothing.
 *
 * A task that lost its last watcher keeps its channel for `unsubscribeGraceMs` (reloads and
 * reconnects come back within seconds); its updates meanwhile find no watcher and are dropped by
 * the relay. One clock timer serves all tasks in grace: the grace is the same for each, so they
 * fall due in the order they entered it.
 *
 * A watched group's shard channel (`{channel}:{g<p>}:group:{group}`, where publishers send a
 * second copy of each update of its tasks) is held the same way, through watchGroup(),
 * reserveGroup() and unwatchGroup(); its partition number is `partitions + p` (see partitionKeyOf).
 */
@Injectable()
export class ShardChannelSubscriptions implements OnApplicationShutdown {
  readonly counts: ShardSubscriptionCounts = { ssubscribeCommands: 0, sunsubscribeCommands: 0 };
  private readonly logger = new Logger(ShardChannelSubscriptions.name);
  private connection: ShardSubscriber | undefined;
  /** Tasks whose channel was SSUBSCRIBEd on the current connection and not SUNSUBSCRIBEd since. */
  private readonly held = new Set<string>();
  /** The SSUBSCRIBE in flight for a task, which its first watchers wait for. */
  private readonly confirmations = new Map<string, Promise<void>>();
  /** Tasks whose wanted state may differ from `held`, looked at by the next flush. */
  private readonly dirty = new Set<string>();
  private flushing: Promise<void> | undefined;
  /** Tasks that subscribes wait for before their client enters the registry, with how many wait. */
  private readonly reserved = new Map<string, number>();
  /** Held tasks nobody here watches, with the clock time their SUNSUBSCRIBE falls due, oldest first. */
  private readonly graceUntil = new Map<string, number>();
  private graceTimer: ClockTimer | undefined;
  private stopped = false;

  constructor(
    private readonly layout: TaskChannelLayout,
    private readonly registry: ConnectionRegistry<object>,
    @Inject(REDIS_OPTIONS) private readonly options: ResolvedRedisOptions,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.layout.sharded;
  }

  /** Task (and group) channels held on the current connection. */
  get channelCount(): number {
    return this.held.size;
  }

  /** Of those, the channels kept for the grace after their last watcher here left. */
  get graceCount(): number {
    return this.graceUntil.size;
  }

  /**
   * The task has a watcher here (already in the registry). Resolves once its channel is
   * subscribed (at once if it is), so that a snapshot read afterwards misses no update; also
   * resolves when the connection is down, for the resubscription and resync that follow.
   */
  watch(taskId: string): Promise<void> {
    if (!this.enabled) return NOTHING_PENDING;
    if (this.held.has(taskId) && !this.dirty.has(taskId)) {
      // Back within the grace: the channel never went away.
      this.graceUntil.delete(taskId);
      return this.confirmations.get(taskId) ?? NOTHING_PENDING;
    }
    this.dirty.add(taskId);
    return this.scheduleFlush().then(() => this.confirmations.get(taskId));
  }

  /**
   * A client is about to watch the task and is not in the registry yet: resolves once the task's
   * channel is subscribed (as watch()), so that the client's `subscribed` answer comes after it
   * and every update published later reaches it. Call release() once the client is in the
   * registry, or will not be.
   */
  reserve(taskId: string): Promise<void> {
    if (!this.enabled) return NOTHING_PENDING;
    this.reserved.set(taskId, (this.reserved.get(taskId) ?? 0) + 1);
    return this.watch(taskId);
  }

  /** The group has a watcher here (already in the registry); as watch(), for its shard channel. */
  watchGroup(groupId: string): Promise<void> {
    return this.watch(groupEntry(groupId));
  }

  /** A client is about to watch the group (as reserve()); call releaseGroup() after. */
  reserveGroup(groupId: string): Promise<void> {
    return this.reserve(groupEntry(groupId));
  }

  releaseGroup(groupId: string): void {
    this.release(groupEntry(groupId));
  }

  /** The group may have lost its last watcher here (its channel then keeps the grace). */
  unwatchGroup(groupId: string): void {
    this.unwatch(groupEntry(groupId));
  }

  /** Ends a reserve(); the registry decides from then on. */
  release(taskId: string): void {
    const waiting = this.reserved.get(taskId);
    if (waiting === undefined) return;
    if (waiting > 1) {
      this.reserved.set(taskId, waiting - 1);
      return;
    }
    this.reserved.delete(taskId);
    this.unwatch(taskId);
  }

  /** The task may have lost its last watcher here (the registry decides at the flush). */
  unwatch(taskId: string): void {
    if (!this.enabled) return;
    this.dirty.add(taskId);
    void this.scheduleFlush();
  }

  /**
   * The connection is (again) ready: subscribes `fixedChannels` (each in a command of its own)
   * and the channel of every task watched here. Rejects when a command failed (the connection
   * dropped meanwhile); the next attach tries again.
   */
  async attach(connection: ShardSubscriber, fixedChannels: readonly string[] = []): Promise<void> {
    this.connection = connection;
    this.held.clear();
    this.confirmations.clear();
    this.clearGrace();
    const taskIds = [
      ...new Set([
        ...this.registry.taskIds(),
        ...Array.from(this.registry.groupIds(), groupEntry),
        ...this.reserved.keys(),
      ]),
    ];
    for (const taskId of taskIds) this.held.add(taskId);
    const commands = fixedChannels.map((channel) => {
      this.counts.ssubscribeCommands += 1;
      return connection.ssubscribe(channel);
    });
    for (const batch of this.byPartition(taskIds)) {
      this.counts.ssubscribeCommands += 1;
      commands.push(connection.ssubscribe(...this.channelsOf(batch)));
    }
    await Promise.all(commands);
  }

  /**
   * The channels held on the current connection, by partition: what a topology change (a slot
   * that moved, a primary that failed over) has to subscribe again, one command per partition.
   */
  heldByPartition(): Map<number, string[]> {
    const byPartition = new Map<number, string[]>();
    for (const batch of this.byPartition([...this.held])) {
      byPartition.set(this.partitionKeyOf(batch[0]), this.channelsOf(batch));
    }
    return byPartition;
  }

  /** The connection was lost: Redis dropped its subscriptions with it. */
  detach(): void {
    this.connection = undefined;
    this.held.clear();
    this.confirmations.clear();
    this.clearGrace();
  }

  /** Nothing stays pending: the connection is closing, and Redis drops its subscriptions with it. */
  onApplicationShutdown(): void {
    this.stopped = true;
    this.clearGrace();
  }

  private scheduleFlush(): Promise<void> {
    this.flushing ??= new Promise((resolve) =>
      setImmediate(() => {
        this.flushing = undefined;
        this.flush();
        resolve();
      }),
    );
    return this.flushing;
  }

  private flush(): void {
    const connection = this.connection;
    const tasks = [...this.dirty];
    this.dirty.clear();
    // Without a connection there is nothing to change: attach() subscribes what is watched then.
    if (!connection) return;
    const subscribe: string[] = [];
    const unsubscribe: string[] = [];
    const graceMs = this.options.unsubscribeGraceMs;
    const due = this.clock.now() + graceMs;
    for (const taskId of tasks) {
      const wanted = this.isWanted(taskId);
      if (wanted) this.graceUntil.delete(taskId);
      if (wanted === this.held.has(taskId)) continue;
      if (wanted) {
        this.held.add(taskId);
        subscribe.push(taskId);
      } else if (graceMs === 0) {
        this.letGo(taskId);
        unsubscribe.push(taskId);
      } else if (!this.graceUntil.has(taskId)) {
        this.graceUntil.set(taskId, due);
      }
    }
    if (this.graceUntil.size > 0) this.armGraceTimer();
    this.unsubscribe(connection, unsubscribe);
    for (const batch of this.byPartition(subscribe)) {
      this.counts.ssubscribeCommands += 1;
      const confirmed = this.send(connection.ssubscribe(...this.channelsOf(batch)), 'SSUBSCRIBE');
      for (const taskId of batch) this.confirmations.set(taskId, confirmed);
      void confirmed.then(() => {
        for (const taskId of batch) {
          if (this.confirmations.get(taskId) === confirmed) this.confirmations.delete(taskId);
        }
      });
    }
  }

  private isWanted(taskId: string): boolean {
    if (this.reserved.has(taskId)) return true;
    return taskId.startsWith(GROUP_MARK)
      ? this.registry.groupSubscribersOf(taskId.slice(1)) !== undefined
      : this.registry.subscribersOf(taskId) !== undefined;
  }

  /** One SUNSUBSCRIBE per partition. */
  private unsubscribe(connection: ShardSubscriber, taskIds: readonly string[]): void {
    // One connection: Redis applies the commands in the order sent, so the last one wins.
    for (const batch of this.byPartition(taskIds)) {
      this.counts.sunsubscribeCommands += 1;
      void this.send(connection.sunsubscribe(...this.channelsOf(batch)), 'SUNSUBSCRIBE');
    }
  }

  private letGo(taskId: string): void {
    this.held.delete(taskId);
    this.confirmations.delete(taskId);
  }

  /** Sets the one timer for the oldest task in grace, unless it is set. */
  private armGraceTimer(): void {
    // A client that left during shutdown: its channel goes with the connection.
    if (this.graceTimer || this.stopped) return;
    const [first] = this.graceUntil.values();
    if (first === undefined) return;
    const timer = this.clock.setTimeout(
      () => {
        if (this.graceTimer === timer) this.graceTimer = undefined;
        this.endGraces();
      },
      Math.max(0, first - this.clock.now()),
    );
    timer.unref();
    this.graceTimer = timer;
  }

  /** Unsubscribes every task whose grace is over and that nobody came back to; re-arms the timer. */
  private endGraces(): void {
    const connection = this.connection;
    if (!connection) return;
    const now = this.clock.now();
    const unsubscribe: string[] = [];
    for (const [taskId, due] of this.graceUntil) {
      if (due > now) break;
      this.graceUntil.delete(taskId);
      if (this.isWanted(taskId) || !this.held.has(taskId)) continue;
      this.letGo(taskId);
      unsubscribe.push(taskId);
    }
    this.unsubscribe(connection, unsubscribe);
    this.armGraceTimer();
  }

  private clearGrace(): void {
    this.graceUntil.clear();
    this.clock.clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }

  /** Never rejects: a failed command means a lost connection, and attach() repairs that. */
  private send(command: Promise<unknown>, name: string): Promise<void> {
    return command.then(
      () => undefined,
      (error: unknown) => this.logger.debug(`${name} failed: ${String(error)}`),
    );
  }

  private channelsOf(taskIds: readonly string[]): string[] {
    return taskIds.map((taskId) =>
      taskId.startsWith(GROUP_MARK)
        ? this.layout.groupChannelOf(taskId.slice(1))
        : this.layout.channelOf(taskId),
    );
  }

  /**
   * A task's partition p, or `partitions + p` for a group's (hash tag `{g<p>}`: another slot
   * than partition p's `{p}`), so that each batch shares one slot.
   */
  private partitionKeyOf(taskId: string): number {
    return taskId.startsWith(GROUP_MARK)
      ? this.layout.partitions + this.layout.partitionOf(taskId.slice(1))
      : this.layout.partitionOf(taskId);
  }

  private byPartition(taskIds: readonly string[]): IterableIterator<string[]> {
    const batches = new Map<number, string[]>();
    for (const taskId of taskIds) {
      const partition = this.partitionKeyOf(taskId);
      const batch = batches.get(partition);
      if (batch) batch.push(taskId);
      else batches.set(partition, [taskId]);
    }
    return batches.values();
  }
}
