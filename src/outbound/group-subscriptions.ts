import { Inject, Injectable, Logger } from '@nestjs/common';
import type { TaskStatusData } from '@task-status/client/protocol';
import { WebSocket } from 'ws';
import type { TaskSubscriber } from './event-stream-subscriber.js';
import {
  ConnectionRegistry,
  type GroupSubscribeResult,
} from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { GroupTaskIndex } from './group-task-index.js';
import { isNewer } from './is-newer.js';
import { ShardChannelSubscriptions } from './shard-channel-subscriptions.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { SlowConsumerGuard } from './slow-consumer-guard.js';
import { TaskSnapshotReader } from './task-snapshot-reader.js';
import { TaskStateTracker } from './task-state-tracker.js';
import { TASK_STATE_OPTIONS, type ResolvedTaskStateOptions } from './task-state-options.js';
import { parseTaskUpdate } from './task-update.parser.js';

/**
 * Subscriptions to a group (every task whose updates name it), for any transport: record one,
 * send the group's snapshots, end one, release a closed connection's. Authorization stays with
 * the transport, as for tasks. Live updates reach group subscribers through LiveUpdateRelay; in
 * sharded mode from the group's shard channel too, held while the group is watched here.
 */
@Injectable()
export class GroupSubscriptions {
  private readonly logger = new Logger(GroupSubscriptions.name);

  constructor(
    @Inject(TASK_STATE_OPTIONS) private readonly options: ResolvedTaskStateOptions,
    private readonly registry: ConnectionRegistry<TaskSubscriber>,
    private readonly counters: DeliveryCounters,
    private readonly snapshots: TaskSnapshotReader,
    private readonly tracker: TaskStateTracker,
    private readonly slowConsumers: SlowConsumerGuard,
    private readonly groupTasks: GroupTaskIndex,
    private readonly shardChannels: ShardChannelSubscriptions,
    private readonly snapshotWriter: SnapshotWriter,
  ) {}

  /**
   * Records the subscription. On `subscribed`, call subscribed() once the answer is written. In
   * sharded mode, a transport that promises every later update (the WebSocket answer) holds
   * the group's channel first: ShardChannelSubscriptions.reserveGroup().
   */
  subscribe(connection: TaskSubscriber, groupId: string): GroupSubscribeResult {
    return this.registry.subscribeGroup(connection, groupId);
  }

  /**
   * The subscription was just recorded: in sharded mode the group's channel is subscribed first
   * (when this is its first watcher here), then the snapshots are sent, so that every state of
   * its tasks is either in a snapshot or arrives live.
   */
  async subscribed(
    connection: TaskSubscriber,
    groupId: string,
    seen?: ReadonlyMap<string, TaskStatusData>,
  ): Promise<void> {
    await this.shardChannels.watchGroup(groupId);
    await this.sendSnapshots(connection, groupId, seen);
  }

  /**
   * Sends the latest stored state of the group's tasks (at most groupSnapshotMaxTasks, the most
   * recently published first), each as a `status_update` marked `snapshot: true`. Skipped per
   * task: no state, a state that names another group now, a task the connection holds on its own
   * (it had that snapshot), one a live update reached meanwhile, one older than what was delivered,
   * and one not newer than the state the client had seen (`seen`: a resumed event stream's
   * positions, per task).
   */
  async sendSnapshots(
    connection: TaskSubscriber,
    groupId: string,
    seen?: ReadonlyMap<string, TaskStatusData>,
  ): Promise<void> {
    if (!this.snapshots.groupsEnabled) return;
    let taskIds: string[];
    let raws: Array<string | null>;
    let seqs: number[];
    try {
      taskIds = await this.snapshots.readGroup(groupId, this.options.groupSnapshotMaxTasks);
      if (taskIds.length === 0) return;
      seqs = taskIds.map((taskId) => this.tracker.seq(taskId));
      raws = await this.snapshots.readMany(taskIds);
    } catch (error) {
      this.counters.snapshotReadErrors += 1;
      this.logger.debug(`Snapshot read for group ${groupId} failed: ${String(error)}`);
      return;
    }
    if (connection.readyState !== WebSocket.OPEN) return;
    if (!this.registry.groupsOf(connection).has(groupId)) return;
    const own = this.registry.tasksOf(connection);
    taskIds.forEach((taskId, index) => {
      const raw = raws[index];
      if (raw === null || raw === undefined || own.has(taskId)) return;
      const update = parseTaskUpdate(raw);
      if (typeof update === 'string' || update.taskId !== taskId) {
        this.counters.snapshotsInvalid += 1;
        return;
      }
      if (update.data.group !== groupId) return;
      const had = seen?.get(taskId);
      if (had !== undefined && !isNewer(update.data, had)) return;
      if (this.tracker.seq(taskId) !== seqs[index]) {
        this.counters.superseded.snapshot += 1;
        return;
      }
      if (!this.snapshotWriter.write(connection, update)) return;
      this.groupTasks.note(groupId, taskId);
      this.counters.groupSnapshotsDelivered += 1;
    });
  }

  /**
   * Ends the subscription; false when the connection did not hold it. What is held back for the
   * connection of the group's tasks is dropped (except tasks it holds on their own), so nothing
   * of the group follows the answer.
   */
  unsubscribe(connection: TaskSubscriber, groupId: string): boolean {
    if (!this.registry.unsubscribeGroup(connection, groupId)) return false;
    const own = this.registry.tasksOf(connection);
    for (const taskId of this.groupTasks.tasksOf(groupId)) {
      if (!own.has(taskId)) this.slowConsumers.forgetTask(connection, taskId);
    }
    this.forget(groupId);
    return true;
  }

  /** The groups a closed connection held, already removed from the registry. */
  released(groupIds: Iterable<string>): void {
    for (const groupId of groupIds) this.forget(groupId);
  }

  /** A subscriber of the group left; when it was the last one here, its tasks are forgotten. */
  private forget(groupId: string): void {
    if (this.registry.groupSubscribersOf(groupId)) return;
    this.shardChannels.unwatchGroup(groupId);
    for (const taskId of this.groupTasks.forgetGroup(groupId)) {
      if (!this.registry.subscribersOf(taskId)) this.tracker.forget(taskId);
    }
  }
}
