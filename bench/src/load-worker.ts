/**
 * A load-generator process: holds thousands of lean WebSocket connections (or Server-Sent Events
 * streams, dialect `sse`), counts what they receive, and answers the coordinator's commands over
 * IPC (see load-worker-protocol.ts).
 */
import { LatencyHistogram } from './latency-histogram.js';
import { LeanSseConnection } from './lean-sse-client.js';
import { DeliveryTally, LeanConnection, type ConnectionTarget } from './lean-ws-client.js';
import type {
  ConnectResult,
  VerifyResult,
  WorkerCommand,
  WorkerMessage,
  WorkerSnapshot,
} from './load-worker-protocol.js';

/** What the worker counts and checks, whichever the transport. */
type LeanClient = LeanConnection | LeanSseConnection;

function client(target: ConnectionTarget, taskId: string, counts: DeliveryTally): LeanClient {
  return target.dialect === 'sse'
    ? new LeanSseConnection(target, taskId, counts)
    : new LeanConnection(target, taskId, counts);
}

let connections: LeanClient[] = [];
let tally = new DeliveryTally(new LatencyHistogram());
/** Connections that stopped reading: kept open, left out of every count and check. */
let stalled: LeanClient[] = [];
let stalledTally = new DeliveryTally(new LatencyHistogram());
let progressTimer: NodeJS.Timeout | undefined;

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function openAll(command: Extract<WorkerCommand, { op: 'connect' }>): Promise<ConnectResult> {
  const target = { host: command.host, port: command.port, dialect: command.dialect };
  const result: ConnectResult = { opened: 0, failed: 0 };
  const stall = command.stall === true;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < command.taskIds.length) {
      const connection = client(target, command.taskIds[next], stall ? stalledTally : tally);
      next += 1;
      try {
        await connection.open(command.timeoutMs);
        if (stall) {
          connection.stopReading();
          stalled.push(connection);
        } else {
          connections.push(connection);
        }
        result.opened += 1;
      } catch (error) {
        result.failed += 1;
        result.firstError ??= (error as Error).message;
      }
    }
  };
  const lanes = Math.max(1, Math.min(command.concurrency, command.taskIds.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return result;
}

function snapshot(): WorkerSnapshot {
  const cpu = process.cpuUsage();
  return {
    frames: tally.frames,
    cpuMicros: cpu.user + cpu.system,
    lastFrameAtMicros: tally.lastFrameAtMicros,
    unexpectedCloses: tally.unexpectedCloses,
  };
}

function verify(expected: Record<string, number>, onlyListed: boolean): VerifyResult {
  const result: VerifyResult = {
    connections: 0,
    expectedFrames: 0,
    frames: 0,
    lost: 0,
    extra: 0,
    outOfOrder: 0,
    incomplete: 0,
    unexpectedCloses: tally.unexpectedCloses,
    protocolErrors: tally.protocolErrors,
    wrongTask: tally.wrongTask,
    latency: tally.latency.toData(),
  };
  for (const connection of connections) {
    if (onlyListed && !(connection.taskId in expected)) continue;
    result.connections += 1;
    const published = expected[connection.taskId] ?? 0;
    const unique = connection.frames - connection.outOfOrder;
    result.expectedFrames += published;
    result.frames += connection.frames;
    result.outOfOrder += connection.outOfOrder;
    if (unique < published) result.lost += published - unique;
    if (unique > published) result.extra += unique - published;
    if (connection.lastSeq !== published) result.incomplete += 1;
  }
  return result;
}

function setProgress(intervalMs: number): void {
  clearInterval(progressTimer);
  progressTimer = undefined;
  if (intervalMs <= 0) return;
  let reported = -1;
  progressTimer = setInterval(() => {
    if (tally.frames === reported) return;
    reported = tally.frames;
    send({ op: 'progress', frames: reported });
  }, intervalMs);
}

function closeAll(): void {
  setProgress(0);
  for (const connection of connections) connection.close();
  for (const connection of stalled) connection.close();
  connections = [];
  stalled = [];
  tally = new DeliveryTally(new LatencyHistogram());
  stalledTally = new DeliveryTally(new LatencyHistogram());
}

async function handle(command: WorkerCommand): Promise<WorkerMessage> {
  switch (command.op) {
    case 'connect':
      return { op: 'reply', id: command.id, result: await openAll(command) };
    case 'progress':
      setProgress(command.intervalMs);
      return { op: 'reply', id: command.id, result: null };
    case 'snapshot':
      return { op: 'reply', id: command.id, result: snapshot() };
    case 'reset-latency':
      tally.latency.reset();
      return { op: 'reply', id: command.id, result: null };
    case 'verify':
      return {
        op: 'reply',
        id: command.id,
        result: verify(command.expected, command.onlyListed === true),
      };
    case 'close':
      closeAll();
      return { op: 'reply', id: command.id, result: null };
  }
}

process.on('message', (command: WorkerCommand) => {
  handle(command).then(send, (error: unknown) =>
    send({ op: 'failed', id: command.id, error: String(error) }),
  );
});
// The coordinator going away (crash, kill) must not leave this process behind.
process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});
