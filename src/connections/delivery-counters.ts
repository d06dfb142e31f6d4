export const DROP_REASONS = [
  'invalid_json',
  'not_an_object',
  'missing_task_id',
  'invalid_task_id',
  // Sharded mode: a task's shard channel carried another task's update.
  'wrong_channel',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * Monotonic counters of the Redis -> sockets path, read by stats. Plain fields so that counting
 * on the delivery path is an increment, nothing more.
 */
export class DeliveryCounters {
  readonly startedAt = Date.now();
  /** Messages received on the Redis channel, well-formed or not. */
  messagesReceived = 0;
  /** Well-formed updates for a task that had at least one subscriber here. */
  updatesRouted = 0;
  /** Well-formed updates for a task nobody on this instance watches (normal with many instances). */
  updatesUnrouted = 0;
  /**
   * `status_update` frames written to a socket: at once, or later when held back. With
   * framesCoalesced and framesDropped, every frame offered to a socket is counted once.
   */
  framesDelivered = 0;
  /** The part of framesDelivered written to Server-Sent Events streams. */
  eventStreamFramesDelivered = 0;
  readonly dropped: Record<DropReason, number> = {
    invalid_json: 0,
    not_an_object: 0,
    missing_task_id: 0,
    invalid_task_id: 0,
    wrong_channel: 0,
  };
  /** Updates not delivered because a newer (or terminal) state was already delivered. */
  readonly superseded = { stale: 0, after_terminal: 0, snapshot: 0 };
  /** Stored states sent to a client right after it subscribed. */
  snapshotsDelivered = 0;
  /** Of those, the ones sent after a group subscribe (one per task of the group). */
  groupSnapshotsDelivered = 0;
  /** Stored states that could not be read (Redis unreachable) or were malformed. */
  snapshotReadErrors = 0;
  snapshotsInvalid = 0;
  /** Completed resyncs after the subscription was re-established, and the updates they delivered. */
  resyncs = 0;
  resyncedUpdates = 0;
  /** Sockets that fell behind (send buffer above WS_BACKPRESSURE_BYTES) and had frames held back. */
  slowConsumers = 0;
  /** Held-back `status_update` frames replaced by a newer state of the same task. */
  framesCoalesced = 0;
  /** Held-back `status_update` frames never written: their socket closed, or its subscription ended. */
  framesDropped = 0;
  /** Slow sockets closed with 1013 past WS_SLOW_CLIENT_MAX_BYTES. */
  slowConsumerCloses = 0;
  /** Connections terminated because they missed a heartbeat pong. */
  heartbeatTerminations = 0;

  get messagesDropped(): number {
    let total = 0;
    for (const reason of DROP_REASONS) total += this.dropped[reason];
    return total;
  }
}
