import { Injectable, Logger } from '@nestjs/common';
import { ConnectionRegistry } from '../connections/connection-registry.js';
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
 * In `sharded` mode, keeps the subscriber connection's shard channels equal to the tasks watched
 * here: SSUBSCRIBE when a task gets its first local watcher, SUNSUBSCRIBE when it loses its last.
 * Changes are collected and applied once per event-loop turn, as one command per partition (the
 * channels of one partition share a cluster slot), so a reconnect storm of clients costs a few
 * pipelined commands, not a round trip per client. What counts is the registry at that moment: a
 * task left and watched again within one turn sends nothing.
 */
@Injectable()
export class ShardChannelSubscriptions {
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

  constructor(
    private readonly layout: TaskChannelLayout,
    private readonly registry: ConnectionRegistry<object>,
  ) {}

  get enabled(): boolean {
    return this.layout.sharded;
  }

  /** Task channels held on the current connection. */
  get channelCount(): number {
    return this.held.size;
  }

  /**
   * The task has a watcher here (already in the registry). Resolves once its channel is
   * subscribed (at once if it is), so that a snapshot read afterwards misses no update; also
   * resolves when the connection is down, for the resubscription and resync that follow.
   */
  watch(taskId: string): Promise<void> {
    if (!this.enabled) return NOTHING_PENDING;
    if (this.held.has(taskId) && !this.dirty.has(taskId)) {
      return this.confirmations.get(taskId) ?? NOTHING_PENDING;
    }
    this.dirty.add(taskId);
    return this.scheduleFlush().then(() => this.confirmations.get(taskId));
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
    const taskIds = [...this.registry.taskIds()];
    for (const taskId of taskIds) this.held.add(taskId);
    const commands = fixedChannels.map((channel) => {
      this.counts.ssubscribeCommands += 1;
      return connection.ssubscribe(channel);
    });
    for (const batch of this.byPartition(taskIds)) {
      this.counts.ssubscribeCommands += 1;
      commands.push(connection.ssubscribe(...batch.map((id) => this.layout.channelOf(id))));
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
      byPartition.set(this.layout.partitionOf(batch[0]), this.channelsOf(batch));
    }
    return byPartition;
  }

  /** The connection was lost: Redis dropped its subscriptions with it. */
  detach(): void {
    this.connection = undefined;
    this.held.clear();
    this.confirmations.clear();
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
    for (const taskId of tasks) {
      const wanted = this.registry.subscribersOf(taskId) !== undefined;
      if (wanted === this.held.has(taskId)) continue;
      if (wanted) {
        this.held.add(taskId);
        subscribe.push(taskId);
      } else {
        this.held.delete(taskId);
        this.confirmations.delete(taskId);
        unsubscribe.push(taskId);
      }
    }
    // One connection: Redis applies the commands in the order sent, so the last one wins.
    for (const batch of this.byPartition(unsubscribe)) {
      this.counts.sunsubscribeCommands += 1;
      void this.send(connection.sunsubscribe(...this.channelsOf(batch)), 'SUNSUBSCRIBE');
    }
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

  /** Never rejects: a failed command means a lost connection, and attach() repairs that. */
  private send(command: Promise<unknown>, name: string): Promise<void> {
    return command.then(
      () => undefined,
      (error: unknown) => this.logger.debug(`${name} failed: ${String(error)}`),
    );
  }

  private channelsOf(taskIds: readonly string[]): string[] {
    return taskIds.map((taskId) => this.layout.channelOf(taskId));
  }

  private byPartition(taskIds: readonly string[]): IterableIterator<string[]> {
    const batches = new Map<number, string[]>();
    for (const taskId of taskIds) {
      const partition = this.layout.partitionOf(taskId);
      const batch = batches.get(partition);
      if (batch) batch.push(taskId);
      else batches.set(partition, [taskId]);
    }
    return batches.values();
  }
}
