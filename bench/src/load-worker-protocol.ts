import type { HistogramData } from './latency-histogram.js';
import type { Dialect } from './lean-ws-client.js';

/** Messages from the coordinator to a load worker; each is answered with the same `id`. */
export type WorkerCommand = { id: number } & (
  | {
      op: 'connect';
      host: string;
      port: number;
      dialect: Dialect;
      taskIds: string[];
      /** Connections being opened at once. */
      concurrency: number;
      timeoutMs: number;
      /** Stop reading once subscribed (slow clients, S6); their frames are counted apart. */
      stall?: boolean;
    }
  /** Pushes `progress` every `intervalMs` while frames arrive; 0 stops it. */
  | { op: 'progress'; intervalMs: number }
  | { op: 'snapshot' }
  | { op: 'reset-latency' }
  /**
   * `expected[taskId]`: updates published for the task, each with a `seq` of 1..n. `onlyListed`:
   * connections of tasks not in `expected` are left out (S7 checks each instance's clients).
   */
  | { op: 'verify'; expected: Record<string, number>; onlyListed?: boolean }
  | { op: 'close' }
);

export interface ConnectResult {
  opened: number;
  failed: number;
  firstError?: string;
}

export interface WorkerSnapshot {
  frames: number;
  /** process.cpuUsage() of the worker, user + system, µs. */
  cpuMicros: number;
  lastFrameAtMicros: number;
  unexpectedCloses: number;
}

export interface VerifyResult {
  connections: number;
  expectedFrames: number;
  frames: number;
  /** Updates never received (expected minus unique received, summed over connections). */
  lost: number;
  /** Updates received beyond those published for the task. */
  extra: number;
  outOfOrder: number;
  /** Connections whose last `seq` is not the last one published for their task. */
  incomplete: number;
  unexpectedCloses: number;
  protocolErrors: number;
  /** Update frames for another task than their connection's (not counted in `frames`). */
  wrongTask: number;
  latency: HistogramData;
}

/** Messages from a load worker to the coordinator. */
export type WorkerMessage =
  | { op: 'progress'; frames: number }
  | { op: 'reply'; id: number; result: ConnectResult | WorkerSnapshot | VerifyResult | null }
  | { op: 'failed'; id: number; error: string };
