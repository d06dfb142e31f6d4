import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters, type DropReason } from '../connections/delivery-counters.js';
import { ThrottledLogger } from '../logging/throttled-logger.js';
import { CANARY_TASK_PREFIX, DataPathCanary } from './data-path-canary.js';
import { GroupTaskIndex } from './group-task-index.js';
import { EventStreamSubscriber, type TaskSubscriber } from './event-stream-subscriber.js';
import { LiveUpdateRun } from './live-update-run.js';
import { peekGroup } from './peek-group.js';
import { SlowConsumerGuard } from './slow-consumer-guard.js';
import { TaskStateTracker } from './task-state-tracker.js';
import {
  parseTaskUpdate,
  peekTaskId,
  peekTaskIdAt,
  serializeStatusUpdate,
  type TaskUpdate,
} from './task-update.parser.js';

/** A run is written once it holds this much: the cap of one write per socket. */
const MAX_RUN_BYTES = 64 * 1024;

export interface LiveUpdateRelayEvents {
  /**
   * An update went to its subscribers: how many, and the seconds from the message's arrival until
   * its frame was queued for them (the writes follow within the same event-loop turn, joined
   * with the task's next updates from the same read). Timed only while someone listens.
   */
  delivered: [taskId: string, recipients: number, seconds: number];
}

/**
 * The hot path, from the bytes of a Redis message to the socket write, in the order it runs:
 * 1. relay(): an update for a task nobody here watches is dropped by its task id, read from the
 *    raw bytes (unless it may name a group watched here, also read from the bytes); a watched one
 *    is parsed once (malformed ones dropped and counted), and goes to the task's subscribers and
 *    those of the group it names, each socket once;
 * 2. deliverLive(): the tracker drops what is older than what was delivered; the update is
 *    serialized and framed once and added to the current run of its task;
 * 3. flushLive(): at the end of the event-loop turn (or when another task's update comes), the
 *    run goes to every subscriber as one write each (SlowConsumerGuard.sendRun writes it to the
 *    TCP socket, or holds it back for a socket that stopped reading); a Server-Sent Events stream
 *    among them gets the run as event text, built once for all of them (sendEvents).
 * No Nest pipes, guards or interceptors run here, and nothing is allocated per socket.
 */
@Injectable()
export class LiveUpdateRelay {
  readonly events = new EventEmitter<LiveUpdateRelayEvents>();
  private readonly logger = new Logger(LiveUpdateRelay.name);
  private readonly dropLog = new ThrottledLogger(this.logger);
  private run: LiveUpdateRun | undefined;
  private flushQueued = false;
  private readonly flushQueuedRun = (): void => {
    this.flushQueued = false;
    this.flushLive();
  };

  constructor(
    private readonly registry: ConnectionRegistry<TaskSubscriber>,
    private readonly counters: DeliveryCounters,
    private readonly tracker: TaskStateTracker,
    private readonly slowConsumers: SlowConsumerGuard,
    private readonly canary: DataPathCanary,
    private readonly groupTasks: GroupTaskIndex,
  ) {}

  /**
   * Handles one raw message from the channel. In sharded mode, `copy` is the kind of shard
   * channel it came on: an update naming a group is published on both (the task's and the
   * group's), and an instance that holds both gets it twice, in no common order: the second copy
   * is dropped. `channelTaskId` is the task a task's shard channel names: a message of another
   * task on it is dropped, or a publisher could reach a task's watchers through any channel
   * subscribed here.
   */
  relay(raw: Buffer, copy?: 'task' | 'group', channelTaskId?: string): void {
    const counters = this.counters;
    // Most messages on a shared channel are for tasks watched elsewhere: drop those before parsing.
    const peeked = peekTaskId(raw);
    if (channelTaskId !== undefined && peeked !== undefined && peeked !== channelTaskId) {
      counters.messagesReceived += 1;
      this.drop('wrong_channel', raw.toString());
      return;
    }
    if (
      peeked !== undefined &&
      !this.registry.subscribersOf(peeked) &&
      !peeked.startsWith(CANARY_TASK_PREFIX) &&
      !this.mayReachGroup(raw)
    ) {
      counters.messagesReceived += 1;
      counters.updatesUnrouted += 1;
      return;
    }
    // Timed from here: what is dropped above is not delivered, and should not pay for the clock.
    const timed = this.events.listenerCount('delivered') > 0;
    const arrivedAt = timed ? performance.now() : 0;
    const payload = raw.toString();
    const update = parseTaskUpdate(payload);
    if (typeof update === 'string') {
      counters.messagesReceived += 1;
      this.drop(update, payload);
      return;
    }
    if (channelTaskId !== undefined && update.taskId !== channelTaskId) {
      counters.messagesReceived += 1;
      this.drop('wrong_channel', payload);
      return;
    }
    const subscribers = this.registry.subscribersOf(update.taskId);
    // Canary task ids cannot be subscribed to, so a canary never has subscribers. Canaries are
    // the gateways' own traffic and stay out of the counts and events.
    if (!subscribers && update.taskId.startsWith(CANARY_TASK_PREFIX)) {
      this.canary.receive(update.data, update.taskId);
      return;
    }
    counters.messagesReceived += 1;
    const recipients =
      this.registry.groupCount === 0 ? subscribers : this.recipientsOf(update, subscribers);
    if (!recipients) {
      counters.updatesUnrouted += 1;
      return;
    }
    counters.updatesRouted += 1;
    const delivered = this.deliverLive(
      update,
      recipients,
      false,
      copy !== undefined && typeof update.data.group === 'string',
    );
    if (timed) {
      const seconds = (performance.now() - arrivedAt) / 1000;
      this.events.emit('delivered', update.taskId, delivered, seconds);
    }
  }

  /**
   * relay()'s first check, for a payload still inside the chunk read from Redis (see
   * SubscriberPushReader): drops and counts an update whose task nobody here watches, as relay()
   * would, and returns true; false hands it to relay(). With a group watched here it leaves every
   * update to relay(), which reads the group too.
   */
  dropUnwatched(bytes: Buffer, start: number, end: number): boolean {
    if (this.registry.groupCount !== 0) return false;
    const peeked = peekTaskIdAt(bytes, start, end);
    if (
      peeked === undefined ||
      this.registry.subscribersOf(peeked) !== undefined ||
      peeked.startsWith(CANARY_TASK_PREFIX)
    ) {
      return false;
    }
    this.counters.messagesReceived += 1;
    this.counters.updatesUnrouted += 1;
    return true;
  }

  /**
   * Whether an update of a task nobody here watches may still go to a group watched here. Free
   * on an instance where no group is watched; else the group is read from the bytes, and only
   * an update that may name a watched one is parsed.
   */
  private mayReachGroup(raw: Buffer): boolean {
    if (this.registry.groupCount === 0) return false;
    const group = peekGroup(raw);
    if (group === null) return false;
    return group === undefined || this.registry.groupSubscribersOf(group) !== undefined;
  }

  /**
   * Who an update goes to: the task's subscribers and those of the group the update names, each
   * socket once (a copy of both sets only when both have subscribers). A task delivered to a
   * group's subscribers is recorded in the GroupTaskIndex, so that its ordering state lives as
   * long as the group is watched here.
   */
  recipientsOf(
    update: TaskUpdate,
    subscribers: ReadonlySet<TaskSubscriber> | undefined = this.registry.subscribersOf(
      update.taskId,
    ),
  ): ReadonlySet<TaskSubscriber> | undefined {
    const group = update.data.group;
    if (typeof group !== 'string') return subscribers;
    const members = this.registry.groupSubscribersOf(group);
    if (!members) return subscribers;
    this.groupTasks.note(group, update.taskId);
    if (!subscribers) return members;
    const union = new Set(subscribers);
    for (const socket of members) union.add(socket);
    return union;
  }

  /**
   * Serializes the update once and adds it to the current run, which is written when an update
   * of another task comes, when it reaches MAX_RUN_BYTES, or at the end of this event-loop turn
   * (a microtask: before any other I/O is handled). Returns the number of subscribers it goes to.
   */
  deliverLive(
    update: TaskUpdate,
    subscribers: ReadonlySet<TaskSubscriber>,
    resynced = false,
    twoCopies = false,
  ): number {
    const verdict = this.tracker.judge(update.taskId, update.data);
    if (verdict !== 'deliver') {
      this.counters.superseded[verdict] += 1;
      return 0;
    }
    const serialized = serializeStatusUpdate(update);
    // A resync may read a key before the message written with it arrives: not a second delivery.
    if (!resynced && this.tracker.isResyncEcho(update.taskId, serialized)) {
      this.counters.superseded.stale += 1;
      return 0;
    }
    if (twoCopies && this.tracker.isCopy(update.taskId, serialized)) {
      this.counters.superseded.stale += 1;
      return 0;
    }
    this.tracker.recordLive(update.taskId, update.data, serialized, resynced, twoCopies);
    let run = this.run;
    // Other recipients (a group's update after a task-only one) start a run of their own.
    if (
      run !== undefined &&
      (run.taskId !== update.taskId ||
        run.bytes >= MAX_RUN_BYTES ||
        run.subscribers !== subscribers)
    ) {
      this.flushLive();
      run = undefined;
    }
    if (run === undefined) {
      run = this.run = new LiveUpdateRun(update.taskId, subscribers);
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(this.flushQueuedRun);
      }
    }
    run.add(Buffer.from(serialized), this.tracker.isTerminal(update.data.status), update.data);
    return subscribers.size;
  }

  /** Writes the current run to its subscribers now. */
  flushLive(): void {
    const run = this.run;
    if (run === undefined) return;
    this.run = undefined;
    const wire = run.wire();
    const guard = this.slowConsumers;
    // The guard counts the frames: written now, or held back and later written, coalesced or dropped.
    // Event streams (SSE) share the run; their event text is built only when one is met.
    for (const socket of run.subscribers) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      if (socket instanceof EventStreamSubscriber) guard.sendEvents(socket, run);
      else guard.sendRun(socket, run, wire);
    }
  }

  private drop(reason: DropReason, payload: string): void {
    this.counters.dropped[reason] += 1;
    const sample = payload.length > 120 ? `${payload.slice(0, 120)}...` : payload;
    this.dropLog.warn(`Dropped a Redis message (${reason}): ${sample}`);
  }
}
