import { Injectable } from '@nestjs/common';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { EventStreamSubscriber, type TaskSubscriber } from './event-stream-subscriber.js';
import { SlowConsumerGuard } from './slow-consumer-guard.js';
import { encodeStatusEvent, eventIdOf } from './sse-event.js';
import { TaskStateTracker } from './task-state-tracker.js';
import { serializeSnapshot, type TaskUpdate } from './task-update.parser.js';

/**
 * Writes a stored state to one subscriber as a snapshot, for a task's subscribe and a group's
 * alike: past the version guard, recorded as delivered, encoded for the subscriber's transport
 * (a WebSocket frame or an SSE event), held back like any frame for a slow consumer, and counted.
 */
@Injectable()
export class SnapshotWriter {
  constructor(
    private readonly tracker: TaskStateTracker,
    private readonly slowConsumers: SlowConsumerGuard,
    private readonly counters: DeliveryCounters,
  ) {}

  /** False when the guard holds something as new or newer (counted as superseded). */
  write(client: TaskSubscriber, update: TaskUpdate): boolean {
    const { taskId, data } = update;
    const verdict = this.tracker.judge(taskId, data);
    if (verdict !== 'deliver') {
      this.counters.superseded[verdict] += 1;
      return false;
    }
    this.tracker.recordSnapshot(taskId, data);
    const json = serializeSnapshot(update);
    this.slowConsumers.send(
      client,
      taskId,
      client instanceof EventStreamSubscriber
        ? encodeStatusEvent(json, eventIdOf(taskId, data))
        : Buffer.from(json),
      this.tracker.isTerminal(data.status),
    );
    this.counters.snapshotsDelivered += 1;
    return true;
  }
}
