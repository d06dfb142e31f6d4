import { publishTaskStatus, type PublishTaskStatusOptions } from '@task-status/client/publisher';
import { monotonicMicros } from './clock.js';
import type { RespTransactionClient } from './resp-transaction-client.js';
import { withTimeout } from './timeouts.js';

const PUBLISH_TICK_MS = 5;
/** How far the publisher may fall behind its schedule before it skips ahead. */
const MAX_BEHIND_MS = 50;

/**
 * The updates of every watched task, round-robin with the instances interleaved, published with
 * the client package's publishTaskStatus (MULTI SET + PUBLISH / SPUBLISH) at a steady rate.
 */
export class FanOutPublisher {
  published = 0;
  settled = 0;
  errors = 0;
  receivers = 0;
  firstError: string | undefined;
  private readonly seq: Uint32Array;
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly client: RespTransactionClient,
    private readonly publishOptions: PublishTaskStatusOptions,
    private readonly taskIds: string[],
    private readonly padding: string,
  ) {
    this.seq = new Uint32Array(taskIds.length);
  }

  start(rate: number): void {
    const startedAt = monotonicMicros();
    let sent = 0;
    const maxBurst = Math.max(1, Math.ceil((rate * MAX_BEHIND_MS) / 1000));
    this.timer = setInterval(() => {
      const now = monotonicMicros();
      const due = Math.floor(((now - startedAt) * rate) / 1e6);
      // A publisher starved of CPU gives up the schedule rather than catch up in ever larger
      // bursts, which would starve its own event loop further: it offers what it can.
      if (due - sent > maxBurst) sent = due - maxBurst;
      const date = new Date();
      const options = { ...this.publishOptions, now: () => date };
      while (sent < due) {
        this.publishNext(now, options);
        sent += 1;
      }
      this.client.flush();
    }, PUBLISH_TICK_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.client.flush();
  }

  /** Resolves once Redis has answered every transaction written. */
  async allSettled(timeoutMs: number): Promise<void> {
    if (this.settled >= this.published) return;
    await withTimeout(
      new Promise<void>((resolve) => this.waiters.push(resolve)),
      timeoutMs,
      'Redis to answer every MULTI/EXEC',
    );
  }

  expected(): Record<string, number> {
    const expected: Record<string, number> = {};
    this.taskIds.forEach((taskId, index) => (expected[taskId] = this.seq[index]));
    return expected;
  }

  private publishNext(now: number, options: PublishTaskStatusOptions): void {
    const index = this.cursor;
    this.cursor = index + 1 === this.taskIds.length ? 0 : index + 1;
    const seq = (this.seq[index] += 1);
    this.published += 1;
    // seq and sent_at_us are read by the load generator (lean-ws-client.ts), after the task id.
    publishTaskStatus(
      this.client,
      {
        task_id: this.taskIds[index],
        status: 'processing',
        progress: seq % 101,
        message: this.padding,
        seq,
        sent_at_us: now,
      },
      options,
    ).then(
      (result) => {
        this.receivers += result.receivers;
        this.onSettled();
      },
      (error: unknown) => {
        this.errors += 1;
        this.firstError ??= String(error);
        this.onSettled();
      },
    );
  }

  private onSettled(): void {
    this.settled += 1;
    if (this.settled >= this.published && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
  }
}
