import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from './latency-histogram.js';
import type { Dialect } from './lean-ws-client.js';
import type {
  ConnectResult,
  VerifyResult,
  WorkerCommand,
  WorkerMessage,
  WorkerSnapshot,
} from './load-worker-protocol.js';
import type { ProcessRegistry } from './process-registry.js';

const WORKER_PATH = fileURLToPath(new URL('./load-worker.js', import.meta.url));
const REQUEST_TIMEOUT_MS = 120_000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Request = DistributiveOmit<WorkerCommand, 'id'>;

export interface PoolSnapshot {
  frames: number;
  /** CPU used by all load workers together, µs. */
  cpuMicros: number;
  lastFrameAtMicros: number;
  unexpectedCloses: number;
}

export interface PoolVerifyResult extends Omit<VerifyResult, 'latency'> {
  latency: LatencyHistogram;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The coordinator's side of the load workers: forks them (they inherit this process's CPU
 * affinity), spreads connections over them, and adds up what they report.
 */
export class LoadWorkerPool {
  /** Frames received by all workers, as last pushed by their progress reports. */
  private readonly progress: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  onProgress: (() => void) | undefined;

  private constructor(private readonly workers: ChildProcess[]) {
    this.progress = workers.map(() => 0);
    workers.forEach((worker, index) => {
      worker.on('message', (message: WorkerMessage) => this.onMessage(index, message));
      worker.once('exit', (code, signal) => {
        for (const [id, pending] of this.pending) {
          clearTimeout(pending.timer);
          pending.reject(new Error(`load worker ${index} exited (${code ?? signal})`));
          this.pending.delete(id);
        }
      });
    });
  }

  static start(count: number, registry: ProcessRegistry): LoadWorkerPool {
    const workers = Array.from({ length: count }, () => {
      const worker = fork(WORKER_PATH, [], {
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      registry.track(worker);
      return worker;
    });
    return new LoadWorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Frames received so far, from the progress reports (at most one interval old). */
  get framesReported(): number {
    let total = 0;
    for (const frames of this.progress) total += frames;
    return total;
  }

  /**
   * Opens one connection per entry of `taskIds`, each subscribed to that task. `stall`: they
   * stop reading once subscribed, and are left out of frames, progress and verify.
   */
  async connect(
    host: string,
    port: number,
    dialect: Dialect,
    taskIds: string[],
    concurrency: number,
    timeoutMs: number,
    stall = false,
  ): Promise<ConnectResult> {
    const shares = this.workers.map((): string[] => []);
    taskIds.forEach((taskId, index) => shares[index % shares.length].push(taskId));
    const results = await Promise.all(
      shares.map(
        (share, index) =>
          this.request(index, {
            op: 'connect',
            host,
            port,
            dialect,
            taskIds: share,
            concurrency: Math.max(1, Math.ceil(concurrency / this.workers.length)),
            timeoutMs,
            stall,
          }) as Promise<ConnectResult>,
      ),
    );
    return results.reduce<ConnectResult>(
      (sum, result) => ({
        opened: sum.opened + result.opened,
        failed: sum.failed + result.failed,
        firstError: sum.firstError ?? result.firstError,
      }),
      { opened: 0, failed: 0 },
    );
  }

  async setProgressInterval(intervalMs: number): Promise<void> {
    this.progress.fill(0);
    await this.broadcast({ op: 'progress', intervalMs });
  }

  async snapshot(): Promise<PoolSnapshot> {
    const snapshots = (await this.broadcast({ op: 'snapshot' })) as WorkerSnapshot[];
    return snapshots.reduce<PoolSnapshot>(
      (sum, s) => ({
        frames: sum.frames + s.frames,
        cpuMicros: sum.cpuMicros + s.cpuMicros,
        lastFrameAtMicros: Math.max(sum.lastFrameAtMicros, s.lastFrameAtMicros),
        unexpectedCloses: sum.unexpectedCloses + s.unexpectedCloses,
      }),
      { frames: 0, cpuMicros: 0, lastFrameAtMicros: 0, unexpectedCloses: 0 },
    );
  }

  async resetLatency(): Promise<void> {
    await this.broadcast({ op: 'reset-latency' });
  }

  /** `onlyListed`: count only the connections of the tasks in `expected`. */
  async verify(expected: Record<string, number>, onlyListed = false): Promise<PoolVerifyResult> {
    const results = (await this.broadcast({
      op: 'verify',
      expected,
      onlyListed,
    })) as VerifyResult[];
    const latency = new LatencyHistogram();
    const total: PoolVerifyResult = {
      connections: 0,
      expectedFrames: 0,
      frames: 0,
      lost: 0,
      extra: 0,
      outOfOrder: 0,
      incomplete: 0,
      unexpectedCloses: 0,
      protocolErrors: 0,
      wrongTask: 0,
      latency,
    };
    for (const result of results) {
      total.connections += result.connections;
      total.expectedFrames += result.expectedFrames;
      total.frames += result.frames;
      total.lost += result.lost;
      total.extra += result.extra;
      total.outOfOrder += result.outOfOrder;
      total.incomplete += result.incomplete;
      total.unexpectedCloses += result.unexpectedCloses;
      total.protocolErrors += result.protocolErrors;
      total.wrongTask += result.wrongTask;
      latency.merge(result.latency);
    }
    return total;
  }

  /** Closes every connection (TCP reset); the workers stay up for the next scenario. */
  async closeAll(): Promise<void> {
    await this.broadcast({ op: 'close' });
    this.progress.fill(0);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (worker) => {
        if (worker.exitCode !== null || worker.signalCode !== null) return;
        const exited = once(worker, 'exit');
        worker.disconnect();
        const timer = setTimeout(() => worker.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private broadcast(request: Request): Promise<unknown[]> {
    return Promise.all(this.workers.map((_, index) => this.request(index, request)));
  }

  private request(index: number, request: Request): Promise<unknown> {
    const id = this.nextId;
    this.nextId += 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load worker ${index} did not answer ${request.op} in time`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.workers[index].send({ ...request, id });
    });
  }

  private onMessage(index: number, message: WorkerMessage): void {
    if (message.op === 'progress') {
      this.progress[index] = message.frames;
      this.onProgress?.();
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.op === 'reply') pending.resolve(message.result);
    else pending.reject(new Error(message.error));
  }
}
