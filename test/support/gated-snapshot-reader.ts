import { TaskSnapshotReader } from '../../src/outbound/task-snapshot-reader.js';

/**
 * TaskSnapshotReader with a gate between reading Redis and answering, so that a test can decide
 * what happens while a snapshot read is in flight.
 */
export class GatedSnapshotReader extends TaskSnapshotReader {
  /** Each read, settled once it has answered (after the gate). */
  readonly reads: Array<Promise<string | null>> = [];
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => undefined;
  private readStartedWaiters: Array<() => void> = [];

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate();
    this.gate = Promise.resolve();
  }

  /** Resolves when the next read has fetched its value from Redis and waits at the gate. */
  nextReadWaiting(): Promise<void> {
    return new Promise((resolve) => this.readStartedWaiters.push(resolve));
  }

  override read(taskId: string): Promise<string | null> {
    const answer = (async () => {
      const value = await super.read(taskId);
      const waiters = this.readStartedWaiters;
      this.readStartedWaiters = [];
      for (const wake of waiters) wake();
      await this.gate;
      return value;
    })();
    this.reads.push(answer);
    return answer;
  }
}
