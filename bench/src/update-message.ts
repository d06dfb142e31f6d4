/**
 * The updates the bench publishes, in the shape publishers use
 * (`{"task_id":…,"status":…,"progress":…,"message":…}`), with two fields of its own that every
 * target passes through in `data`: `seq`, 1, 2, 3… per task, to count losses and check order, and
 * `sent_at_us`, the CLOCK_MONOTONIC microsecond at which it was written to Redis, for latency.
 */
export class UpdateMessages {
  private readonly padding: string;

  /** `payloadBytes`: the size of a typical message (the `message` field is padded to reach it). */
  constructor(payloadBytes: number) {
    const bare = UpdateMessages.format('task-000000', 1000, 1_000_000_000_000, '');
    this.padding = 'x'.repeat(Math.max(0, payloadBytes - bare.length));
  }

  build(taskId: string, seq: number, sentAtMicros: number): string {
    return UpdateMessages.format(taskId, seq, sentAtMicros, this.padding);
  }

  private static format(taskId: string, seq: number, sentAt: number, text: string): string {
    return (
      `{"task_id":"${taskId}","seq":${seq},"sent_at_us":${sentAt},` +
      `"status":"processing","progress":${seq % 101},"message":"${text}"}`
    );
  }
}
