import { Inject, Injectable, Logger } from '@nestjs/common';
import type { TaskStatusData } from '@task-status/client/protocol';
import { WebSocket } from 'ws';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { GroupTaskIndex } from './group-task-index.js';
import { isNewer } from './is-newer.js';
import type { TaskSubscriber } from './event-stream-subscriber.js';
import { LiveUpdateRelay } from './live-update-relay.js';
import { ShardChannelSubscriptions } from './shard-channel-subscriptions.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { SlowConsumerGuard } from './slow-consumer-guard.js';
import { TaskSnapshotReader } from './task-snapshot-reader.js';
import { TaskStateTracker } from './task-state-tracker.js';
import { parseTaskUpdate, serializeStatusUpdate, type TaskUpdate } from './task-update.parser.js';
import { TASK_STATE_OPTIONS, type ResolvedTaskStateOptions } from './task-state-options.js';

const RESYNC_RETRY_MS = 1_000;
const COMMANDS_READY_TIMEOUT_MS = 5_000;

/**
 * Stored states, beside the live path (LiveUpdateRelay): the stored state to a client that just
 * subscribed, and the stored states of all watched tasks after the Redis subscription was lost.
 * Both go through the same tracker as live updates, so a client never gets an older state after
 * a newer one.
 */
@Injectable()
export class TaskUpdateDelivery {
  private readonly logger = new Logger(TaskUpdateDelivery.name);
  private resyncRunning: Promise<void> | undefined;
  private resyncAgain = false;

  constructor(
    @Inject(TASK_STATE_OPTIONS) private readonly options: ResolvedTaskStateOptions,
    private readonly registry: ConnectionRegistry<TaskSubscriber>,
    private readonly counters: DeliveryCounters,
    private readonly snapshots: TaskSnapshotReader,
    private readonly redisStatus: RedisSubscriptionStatus,
    private readonly slowConsumers: SlowConsumerGuard,
    private readonly tracker: TaskStateTracker,
    private readonly live: LiveUpdateRelay,
    private readonly shardChannels: ShardChannelSubscriptions,
    private readonly groupTasks: GroupTaskIndex,
    private readonly snapshotWriter: SnapshotWriter,
  ) {}

  /**
   * A client's subscription to the task was just recorded: in sharded mode the task's channel is
   * subscribed first (when this is its first watcher here), then the stored state is sent, so
   * that every state is either in the snapshot or arrives live. `seen`: a state the client had
   * already (a resumed event stream's position); the snapshot is sent only if newer than it.
   */
  async subscribed(client: TaskSubscriber, taskId: string, seen?: TaskStatusData): Promise<void> {
    await this.shardChannels.watch(taskId);
    await this.sendSnapshot(client, taskId, seen);
  }

  /**
   * Sends the stored state of a task to a client that just subscribed, marked `snapshot: true`,
   * unless a live update reached it while the read was in flight (that one is newer), or the
   * client had seen it (or a newer one) already.
   */
  async sendSnapshot(client: TaskSubscriber, taskId: string, seen?: TaskStatusData): Promise<void> {
    if (!this.snapshots.enabled) return;
    const seqBefore = this.tracker.seq(taskId);
    let raw: string | null;
    try {
      raw = await this.snapshots.read(taskId);
    } catch (error) {
      this.counters.snapshotReadErrors += 1;
      this.logger.debug(`Snapshot read for ${taskId} failed: ${String(error)}`);
      return;
    }
    if (raw === null) return;
    const update = this.storedUpdate(taskId, raw);
    if (!update) return;
    if (client.readyState !== WebSocket.OPEN || !this.registry.tasksOf(client).has(taskId)) return;
    if (seen !== undefined && !isNewer(update.data, seen)) return;
    if (this.tracker.seq(taskId) !== seqBefore) {
      this.counters.superseded.snapshot += 1;
      return;
    }
    this.snapshotWriter.write(client, update);
  }

  /**
   * Re-reads the stored state of every task watched here (MGET in batches, yielding to the event
   * loop between them) and delivers each one that differs from the last delivered. Runs after the
   * subscription to Redis was (re-)established; overlapping requests coalesce into one more run.
   */
  resync(): Promise<void> {
    if (!this.snapshots.enabled) return Promise.resolve();
    if (this.resyncRunning) {
      this.resyncAgain = true;
      return this.resyncRunning;
    }
    this.resyncRunning = this.runResync().finally(() => {
      this.resyncRunning = undefined;
      if (this.resyncAgain) {
        this.resyncAgain = false;
        void this.resync();
      }
    });
    return this.resyncRunning;
  }

  /** One socket's subscription to the task ended while the socket stays open. */
  unsubscribed(socket: TaskSubscriber, taskId: string): void {
    // Still watched through one of the socket's groups: what is held back for it stays.
    if (!this.watchesThroughGroup(socket, taskId)) this.slowConsumers.forgetTask(socket, taskId);
    this.forget(taskId);
  }

  /** A subscriber of the task left; when it was the last one here, the task is forgotten. */
  forget(taskId: string): void {
    if (this.registry.subscribersOf(taskId)) return;
    // A task of a watched group keeps its ordering state while the group is watched here.
    if (!this.groupTasks.has(taskId)) this.tracker.forget(taskId);
    this.shardChannels.unwatch(taskId);
  }

  private watchesThroughGroup(socket: TaskSubscriber, taskId: string): boolean {
    if (this.registry.groupCount === 0) return false;
    const groupId = this.groupTasks.groupOf(taskId);
    return groupId !== undefined && this.registry.groupsOf(socket).has(groupId);
  }

  /**
   * The tasks to re-read: those with subscribers, and those of every watched group (the ones
   * delivered here, and the newest of its index, which may hold tasks first published while the
   * subscription was down).
   */
  private async watchedTaskIds(): Promise<string[]> {
    if (this.registry.groupCount === 0) return [...this.registry.taskIds()];
    const taskIds = new Set(this.registry.taskIds());
    for (const groupId of [...this.registry.groupIds()]) {
      for (const taskId of this.groupTasks.tasksOf(groupId)) taskIds.add(taskId);
      if (!this.snapshots.groupsEnabled) continue;
      try {
        const indexed = await this.snapshots.readGroup(groupId, this.options.groupSnapshotMaxTasks);
        for (const taskId of indexed) taskIds.add(taskId);
      } catch (error) {
        this.logger.debug(`Group index read for ${groupId} failed: ${String(error)}`);
      }
    }
    return [...taskIds];
  }

  private async runResync(): Promise<void> {
    if (this.registry.taskCount === 0 && this.registry.groupCount === 0) return;
    try {
      await this.snapshots.whenReady(COMMANDS_READY_TIMEOUT_MS);
    } catch {
      this.retryResync('the Redis command connection is not ready');
      return;
    }
    const taskIds = await this.watchedTaskIds();
    const started = Date.now();
    let delivered = 0;
    for (let start = 0; start < taskIds.length; start += this.options.resyncBatchSize) {
      const batch = taskIds.slice(start, start + this.options.resyncBatchSize);
      const seqs = batch.map((taskId) => this.tracker.seq(taskId));
      let raws: Array<string | null>;
      try {
        raws = await this.snapshots.readMany(batch);
      } catch (error) {
        this.retryResync(String(error));
        return;
      }
      batch.forEach((taskId, index) => {
        const raw = raws[index];
        if (raw === null || raw === undefined || this.tracker.seq(taskId) !== seqs[index]) return;
        const update = this.storedUpdate(taskId, raw);
        // The task's subscribers and those of its group.
        const subscribers = update && this.live.recipientsOf(update);
        if (!update || !subscribers) return;
        if (this.tracker.lastFrame(taskId) === serializeStatusUpdate(update)) return;
        if (this.live.deliverLive(update, subscribers, true) > 0) delivered += 1;
      });
      // Written before the await: a client's unsubscribe handled meanwhile must see no more frames.
      this.live.flushLive();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.counters.resyncs += 1;
    this.counters.resyncedUpdates += delivered;
    this.logger.log(
      `Resynced ${taskIds.length} watched task(s) in ${Date.now() - started} ms; ${delivered} had changed`,
    );
  }

  /** Tries again later while the subscription holds; a lost one resyncs when it comes back. */
  private retryResync(reason: string): void {
    this.logger.warn(`Resync interrupted (${reason}); retrying in ${RESYNC_RETRY_MS} ms`);
    setTimeout(() => {
      if (this.redisStatus.isUp) void this.resync();
    }, RESYNC_RETRY_MS).unref();
  }

  private storedUpdate(taskId: string, raw: string): TaskUpdate | undefined {
    const update = parseTaskUpdate(raw);
    if (typeof update === 'string' || update.taskId !== taskId) {
      this.counters.snapshotsInvalid += 1;
      return undefined;
    }
    return update;
  }
}
