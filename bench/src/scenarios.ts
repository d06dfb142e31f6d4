import type { BenchOptions, TargetScenarioId } from './bench-options.js';
import type { FanOutRecord } from './fan-out-scenario.js';
import { monotonicMicros, sleep } from './clock.js';
import { readGatewayCounters, type GatewayCounters } from './gateway-counters.js';
import type { LatencyHistogram } from './latency-histogram.js';
import type { LoadWorkerPool, PoolSnapshot } from './load-worker-pool.js';
import { MemorySampler } from './memory-sampler.js';
import {
  busyCores,
  cpuTimes,
  kernelTcpMemory,
  openFileCount,
  processCpuSeconds,
} from './proc-stats.js';
import type { RedisServerProcess } from './redis-server-process.js';
import type { TargetProcess } from './target-process.js';
import { UpdateMessages } from './update-message.js';
import { connectPublisher, type UpdatePublisher } from './update-publisher.js';

export interface ScenarioContext {
  options: BenchOptions;
  target: TargetProcess;
  pool: LoadWorkerPool;
  redis: RedisServerProcess;
  /** Prefix of every task id of this scenario run, so that no run sees another's updates. */
  runId: string;
  /** CPUs the load generator, the publisher and Redis share (all of them when not pinned). */
  clientCpus: number[];
  /** The CPUs the target is pinned to, if it is. */
  serverCpus: number[] | undefined;
  messages: UpdateMessages;
  /** This repetition's cost of one JSON.parse of an update, ns (S5's yardstick). */
  jsonParseNs: number;
}

/** Every update counted at the receiving end. */
export interface DeliveryCheck {
  expected: number;
  delivered: number;
  lost: number;
  /**
   * Updates never received that the target itself counted as coalesced under backpressure (by
   * design, S4 only): at most the target's own count, so that a gap it did not count stays a loss.
   */
  skipped: number;
  /**
   * S4: frames the target says it coalesced (the gateway's `slow_consumers.frames_coalesced`
   * over the scenario); absent for a target that counts none, where every gap is a loss.
   */
  coalescedByTarget?: number;
  /** S4: held-back frames the target says it dropped at a close (`frames_dropped`): losses. */
  droppedByTarget?: number;
  extra: number;
  outOfOrder: number;
  /** Connections whose last update was not the last one published for their task. */
  incomplete: number;
  unexpectedCloses: number;
  protocolErrors: number;
  /** Update frames whose `task_id` was not their connection's task (each checked on arrival). */
  wrongTask: number;
  /** All expected frames arrived before the drain timeout (or delivery stalled). */
  drained: boolean;
}

/** CPU of the processes on the client CPUs during a scenario's measured window. */
export interface LoadGeneratorUsage {
  /** Cores busy, each process. */
  workers: number;
  coordinator: number;
  redis: number;
  /** Fraction of the client CPUs the load generator, publisher and Redis kept busy. */
  share: number;
  /** CPU the load workers spent per frame received, µs (reads, parsing, counting). */
  workerMicrosPerFrame: number;
  /** Fraction of the client CPUs busy, whoever used them (other processes of the machine too). */
  clientCpusBusy: number;
  /** Cores' worth of CPU time on the target's CPUs not used by the target: other processes, interrupts. */
  othersOnTargetCpus: number;
  /**
   * The load generator was near its limit, or its CPUs were full: the figures may show the
   * client side's speed rather than the target's.
   */
  saturated: boolean;
}

export interface ScenarioMeasurement {
  metrics: Record<string, number>;
  delivery?: DeliveryCheck;
  loadGenerator: LoadGeneratorUsage;
  problems: string[];
  notes: string[];
  /** S7 only: every step, mode and instance. */
  fanOut?: FanOutRecord;
}

const SATURATION = 0.9;
const CLIENT_CPUS_FULL = 0.95;
const PROGRESS_INTERVAL_MS = 10;
const PUBLISH_TICK_MS = 5;

/** The updates of a set of tasks, round-robin, each task numbering its own from 1. */
class TaskSequencer {
  private readonly seq: Uint32Array;
  private cursor = 0;

  constructor(
    readonly taskIds: string[],
    private readonly messages: UpdateMessages,
  ) {
    this.seq = new Uint32Array(taskIds.length);
  }

  next(now: number): string {
    const index = this.cursor;
    this.cursor = index + 1 === this.taskIds.length ? 0 : index + 1;
    this.seq[index] += 1;
    return this.messages.build(this.taskIds[index], this.seq[index], now);
  }

  /** Updates published per task, which is also the last `seq` of each. */
  expected(): Record<string, number> {
    const expected: Record<string, number> = {};
    this.taskIds.forEach((taskId, index) => (expected[taskId] = this.seq[index]));
    return expected;
  }
}

interface WindowUsage {
  seconds: number;
  frames: number;
  serverCpu: number;
  published: number;
  loadGenerator: LoadGeneratorUsage;
}

/** CPU and frame counters at the start of a measured window, subtracted at its end. */
class UsageWindow {
  private constructor(
    private readonly ctx: ScenarioContext,
    private readonly publisher: UpdatePublisher | undefined,
    private readonly startedAt: number,
    private readonly pool: PoolSnapshot,
    private readonly coordinator: NodeJS.CpuUsage,
    private readonly server: number,
    private readonly redis: number,
    private readonly published: number,
    private readonly cpus: ReturnType<typeof cpuTimes>,
  ) {}

  static async open(ctx: ScenarioContext, publisher?: UpdatePublisher): Promise<UsageWindow> {
    const pool = await ctx.pool.snapshot();
    return new UsageWindow(
      ctx,
      publisher,
      monotonicMicros(),
      pool,
      process.cpuUsage(),
      ctx.target.cpuSeconds(),
      processCpuSeconds(ctx.redis.pid),
      publisher?.published ?? 0,
      cpuTimes(),
    );
  }

  async close(): Promise<WindowUsage> {
    const pool = await this.ctx.pool.snapshot();
    const seconds = (monotonicMicros() - this.startedAt) / 1e6;
    const coordinatorCpu = process.cpuUsage(this.coordinator);
    const workers = (pool.cpuMicros - this.pool.cpuMicros) / 1e6 / seconds;
    const coordinator = (coordinatorCpu.user + coordinatorCpu.system) / 1e6 / seconds;
    const redis = (processCpuSeconds(this.ctx.redis.pid) - this.redis) / seconds;
    const { clientCpus, serverCpus } = this.ctx;
    const share = (workers + coordinator + redis) / clientCpus.length;
    const perWorker = workers / this.ctx.pool.size;
    const cpus = cpuTimes();
    const clientCpusBusy = busyCores(this.cpus, cpus, clientCpus) / clientCpus.length;
    const serverCpu = this.ctx.target.cpuSeconds() - this.server;
    const othersOnTargetCpus = serverCpus
      ? Math.max(0, busyCores(this.cpus, cpus, serverCpus) - serverCpu / seconds)
      : Number.NaN;
    return {
      seconds,
      frames: pool.frames - this.pool.frames,
      serverCpu,
      published: (this.publisher?.published ?? 0) - this.published,
      loadGenerator: {
        workers,
        coordinator,
        redis,
        share,
        workerMicrosPerFrame:
          pool.frames > this.pool.frames
            ? (pool.cpuMicros - this.pool.cpuMicros) / (pool.frames - this.pool.frames)
            : Number.NaN,
        clientCpusBusy,
        othersOnTargetCpus,
        saturated:
          share >= SATURATION || perWorker >= SATURATION || clientCpusBusy >= CLIENT_CPUS_FULL,
      },
    };
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

/**
 * Opens one connection per entry of `taskIds`; returns how many opened, and in how long.
 * `stall`: they stop reading once subscribed (S6's slow clients).
 */
async function connect(
  ctx: ScenarioContext,
  taskIds: string[],
  problems: string[],
  stall = false,
): Promise<{ opened: number; seconds: number }> {
  const { sizes } = ctx.options;
  const started = monotonicMicros();
  const result = await ctx.pool.connect(
    '127.0.0.1',
    ctx.target.port,
    ctx.target.definition.dialect,
    taskIds,
    sizes['connect-concurrency'],
    Math.max(30_000, taskIds.length * 10),
    stall,
  );
  if (result.failed > 0) {
    problems.push(
      `${result.failed} of ${taskIds.length} connections failed (first: ${result.firstError ?? '?'})`,
    );
  }
  return { opened: result.opened, seconds: (monotonicMicros() - started) / 1e6 };
}

/** Publishes `next()` at `rate` per second from a timer until stopped. */
function publishAtRate(
  publisher: UpdatePublisher,
  rate: number,
  next: (now: number) => string,
): { stop: () => void; startedAt: number } {
  const startedAt = monotonicMicros();
  let sent = 0;
  const timer = setInterval(() => {
    const now = monotonicMicros();
    const due = Math.floor(((now - startedAt) * rate) / 1e6);
    while (sent < due) {
      publisher.publish(next(now));
      sent += 1;
    }
    publisher.flush();
  }, PUBLISH_TICK_MS);
  return { stop: () => clearInterval(timer), startedAt };
}

/**
 * Waits until the workers have received `expectedFrames`, the timeout passes, or nothing has
 * arrived for `stallMs` (lost frames would otherwise hold every run for the whole timeout).
 */
async function waitForDelivery(
  ctx: ScenarioContext,
  expectedFrames: number,
  stallMs = 5_000,
): Promise<boolean> {
  const deadline = Date.now() + ctx.options.sizes['drain-timeout-s'] * 1000;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const frames = ctx.pool.framesReported;
    if (frames >= expectedFrames) return true;
    if (frames !== last) {
      last = frames;
      lastChange = Date.now();
    }
    if (Date.now() > deadline || Date.now() - lastChange > stallMs) return false;
    await sleep(20);
  }
}

/**
 * The gateway's own counts of frames it held back and then coalesced or dropped; undefined for
 * the other targets, which count none, or when they could not be read (said in `notes`).
 */
async function targetCounters(
  ctx: ScenarioContext,
  notes: string[],
): Promise<GatewayCounters | undefined> {
  if (ctx.target.definition.name !== 'gateway' || !ctx.target.running) return undefined;
  try {
    return await readGatewayCounters(ctx.target.port);
  } catch (error) {
    notes.push(`gateway counters not read: ${String(error)}`);
    return undefined;
  }
}

/** What a target counted between two readings of its counters, if it has any. */
function countedBetween(
  before: GatewayCounters | undefined,
  after: GatewayCounters | undefined,
): { coalesced: number; dropped: number } | undefined {
  if (!before || !after) return undefined;
  return {
    coalesced: after.framesCoalesced - before.framesCoalesced,
    dropped: after.framesDropped - before.framesDropped,
  };
}

/**
 * Checks every connection's updates. `overload` (S4), where a target may coalesce by design: what
 * it counted itself, or undefined when it counts nothing. Only as many missing frames as it counted
 * coalesced are excused; any other gap is a loss, even when every connection ended on the last
 * update. Elsewhere every gap is a loss.
 */
async function verify(
  ctx: ScenarioContext,
  expected: Record<string, number>,
  drained: boolean,
  problems: string[],
  overload?: { counted: { coalesced: number; dropped: number } | undefined },
): Promise<{ check: DeliveryCheck; latency: LatencyHistogram }> {
  const result = await ctx.pool.verify(expected);
  const counted = overload?.counted;
  const skipped = counted ? Math.min(result.lost, Math.max(0, counted.coalesced)) : 0;
  // Every connection ended on its task's last update: delivery is over, whatever is missing.
  const finalStateReached = overload !== undefined && result.incomplete === 0;
  const check: DeliveryCheck = {
    expected: result.expectedFrames,
    delivered: result.frames,
    lost: result.lost - skipped,
    skipped,
    ...(counted ? { coalescedByTarget: counted.coalesced, droppedByTarget: counted.dropped } : {}),
    extra: result.extra,
    outOfOrder: result.outOfOrder,
    incomplete: result.incomplete,
    unexpectedCloses: result.unexpectedCloses,
    protocolErrors: result.protocolErrors,
    wrongTask: result.wrongTask,
    drained: drained || finalStateReached,
  };
  if (!check.drained) {
    problems.push(
      `not drained: ${check.expected - check.delivered} of ${check.expected} frames missing ` +
        `when delivery stopped or ${ctx.options.sizes['drain-timeout-s']} s passed`,
    );
  } else if (check.lost > 0) {
    problems.push(
      `${check.lost} frames lost` +
        (overload === undefined
          ? ''
          : counted
            ? ` beyond the ${counted.coalesced} the target counted as coalesced`
            : ' (the target counts no coalescing: every gap is a loss)'),
    );
  }
  if (check.extra > 0) problems.push(`${check.extra} frames beyond those published`);
  if (check.outOfOrder > 0) problems.push(`${check.outOfOrder} frames duplicated or out of order`);
  if (check.unexpectedCloses > 0)
    problems.push(`${check.unexpectedCloses} connections closed by the server`);
  if (check.protocolErrors > 0) problems.push(`${check.protocolErrors} frames not understood`);
  if (check.wrongTask > 0) {
    problems.push(`${check.wrongTask} frames carried another task_id than their subscription's`);
  }
  return { check, latency: result.latency };
}

function latencyMetrics(histogram: LatencyHistogram): Record<string, number> {
  if (histogram.count === 0) return {};
  return {
    latencyP50Ms: histogram.quantile(0.5) / 1000,
    latencyP99Ms: histogram.quantile(0.99) / 1000,
    latencyMaxMs: histogram.max / 1000,
  };
}

/** S1: N connections, each subscribed to a task of its own: connect rate and RSS per connection. */
async function s1Idle(ctx: ScenarioContext): Promise<ScenarioMeasurement> {
  const { sizes } = ctx.options;
  const problems: string[] = [];
  const taskIds = range(sizes['s1-connections']).map((i) => `${ctx.runId}-t${i}`);
  await sleep(sizes['settle-ms']);
  const before = ctx.target.memory();
  const window = await UsageWindow.open(ctx);
  const { opened, seconds } = await connect(ctx, taskIds, problems);
  const usage = await window.close();
  await sleep(sizes['settle-ms']);
  const after = ctx.target.memory();
  const { check } = await verify(ctx, {}, true, problems);
  return {
    metrics: {
      connections: opened,
      connectPerSec: opened / seconds,
      rssBeforeMiB: before.rss / 2 ** 20,
      rssAfterMiB: after.rss / 2 ** 20,
      rssPerConnectionKiB: (after.rss - before.rss) / opened / 1024,
      serverCpuPerConnectionUs: (usage.serverCpu * 1e6) / opened,
    },
    delivery: check,
    loadGenerator: usage.loadGenerator,
    problems,
    notes: [],
  };
}

/** S2: tasks x subscribers, published in a closed loop as fast as the target delivers. */
async function s2FanOut(ctx: ScenarioContext): Promise<ScenarioMeasurement> {
  const { sizes } = ctx.options;
  const problems: string[] = [];
  const subscribers = sizes['s2-subscribers'];
  const tasks = new TaskSequencer(
    range(sizes['s2-tasks']).map((i) => `${ctx.runId}-t${i}`),
    ctx.messages,
  );
  const connections = range(sizes['s2-tasks'] * subscribers).map(
    (i) => tasks.taskIds[i % tasks.taskIds.length],
  );
  await connect(ctx, connections, problems);
  const publisher = await connectPublisher(ctx);
  await ctx.pool.setProgressInterval(PROGRESS_INTERVAL_MS);

  // Closed loop: at most `s2-window` updates in flight (published, not yet received by all).
  const windowFrames = sizes['s2-window'] * subscribers;
  let publishing = true;
  const topUp = (): void => {
    if (!publishing) return;
    const inFlight = publisher.published * subscribers - ctx.pool.framesReported;
    let budget = Math.floor((windowFrames - inFlight) / subscribers);
    if (budget <= 0) return;
    const now = monotonicMicros();
    while (budget > 0) {
      publisher.publish(tasks.next(now));
      budget -= 1;
    }
    publisher.flush();
  };
  ctx.pool.onProgress = topUp;
  const ticker = setInterval(topUp, PUBLISH_TICK_MS);
  topUp();
  await sleep(sizes['warmup-s'] * 1000);
  await ctx.pool.resetLatency();
  const window = await UsageWindow.open(ctx, publisher);
  await sleep(sizes['s2-duration-s'] * 1000);
  const usage = await window.close();
  publishing = false;
  clearInterval(ticker);
  ctx.pool.onProgress = undefined;

  await publisher.settled(10_000);
  const drained = await waitForDelivery(ctx, publisher.published * subscribers);
  const { check, latency } = await verify(ctx, tasks.expected(), drained, problems);
  publisher.close();
  return {
    metrics: {
      deliveredPerSec: usage.frames / usage.seconds,
      serverCpuMsPer1kFrames: (usage.serverCpu * 1000) / (usage.frames / 1000),
      serverCpuCores: usage.serverCpu / usage.seconds,
      updatesPerSec: usage.published / usage.seconds,
      ...latencyMetrics(latency),
    },
    delivery: check,
    loadGenerator: usage.loadGenerator,
    problems,
    notes: [],
  };
}

/** S3: many connections, a steady publish rate: publish-to-receive latency. */
async function s3Latency(ctx: ScenarioContext): Promise<ScenarioMeasurement> {
  const { sizes } = ctx.options;
  const problems: string[] = [];
  const tasks = new TaskSequencer(
    range(sizes['s3-tasks']).map((i) => `${ctx.runId}-t${i}`),
    ctx.messages,
  );
  const connections = range(sizes['s3-connections']).map(
    (i) => tasks.taskIds[i % tasks.taskIds.length],
  );
  await connect(ctx, connections, problems);
  const publisher = await connectPublisher(ctx);
  await ctx.pool.setProgressInterval(PROGRESS_INTERVAL_MS);

  const publishing = publishAtRate(publisher, sizes['s3-rate'], (now) => tasks.next(now));
  await sleep(sizes['warmup-s'] * 1000);
  await ctx.pool.resetLatency();
  const window = await UsageWindow.open(ctx, publisher);
  await sleep(sizes['s3-duration-s'] * 1000);
  const usage = await window.close();
  publishing.stop();

  await publisher.settled(10_000);
  const expected = tasks.expected();
  const expectedFrames = connections.reduce((sum, taskId) => sum + expected[taskId], 0);
  const drained = await waitForDelivery(ctx, expectedFrames);
  const { check, latency } = await verify(ctx, tasks.expected(), drained, problems);
  publisher.close();
  return {
    metrics: {
      ...latencyMetrics(latency),
      deliveredPerSec: usage.frames / usage.seconds,
      updatesPerSec: usage.published / usage.seconds,
      serverCpuCores: usage.serverCpu / usage.seconds,
    },
    delivery: check,
    loadGenerator: usage.loadGenerator,
    problems,
    notes: [],
  };
}

/** S4: one task with many subscribers, offered more than any target delivers: overload. */
async function s4HotTask(ctx: ScenarioContext): Promise<ScenarioMeasurement> {
  const { sizes } = ctx.options;
  const problems: string[] = [];
  const subscribers = sizes['s4-subscribers'];
  const notes: string[] = [];
  const tasks = new TaskSequencer([`${ctx.runId}-hot`], ctx.messages);
  await connect(
    ctx,
    range(subscribers).map(() => tasks.taskIds[0]),
    problems,
  );
  const countersBefore = await targetCounters(ctx, notes);
  const publisher = await connectPublisher(ctx);
  await ctx.pool.setProgressInterval(PROGRESS_INTERVAL_MS);

  let peakRss = ctx.target.memory().rss;
  const sampler = setInterval(() => {
    if (ctx.target.running) peakRss = Math.max(peakRss, ctx.target.memory().rss);
  }, 100);
  const window = await UsageWindow.open(ctx, publisher);
  const publishing = publishAtRate(publisher, sizes['s4-rate'], (now) => tasks.next(now));
  await sleep(sizes['s4-duration-s'] * 1000);
  publishing.stop();
  const usage = await window.close();

  // Part of the drain: in overload nchan answers a POST only once it has fanned the update out.
  const drainStarted = monotonicMicros();
  await publisher.settled(sizes['drain-timeout-s'] * 1000);
  const drained = await waitForDelivery(ctx, publisher.published * subscribers);
  clearInterval(sampler);
  const snapshot = await ctx.pool.snapshot();
  const memory = ctx.target.running ? ctx.target.memory() : undefined;
  const counted = countedBetween(countersBefore, await targetCounters(ctx, notes));
  const { check, latency } = await verify(ctx, tasks.expected(), drained, problems, { counted });
  publisher.close();
  const lastFrameSeconds = (snapshot.lastFrameAtMicros - publishing.startedAt) / 1e6;
  return {
    metrics: {
      deliveredPerSec: snapshot.frames / lastFrameSeconds,
      deliveredPerSecWhilePublishing: usage.frames / usage.seconds,
      offeredPerSec: (usage.published * subscribers) / usage.seconds,
      drainSeconds: (monotonicMicros() - drainStarted) / 1e6,
      peakRssMiB: Math.max(peakRss, memory?.peakRss ?? 0) / 2 ** 20,
      serverCpuCores: usage.serverCpu / usage.seconds,
      ...latencyMetrics(latency),
    },
    delivery: check,
    loadGenerator: usage.loadGenerator,
    problems,
    notes,
  };
}

/**
 * S5: a high rate of updates for tasks nobody here watches, as every instance sees when many
 * share the one channel: the target's CPU per update, against one JSON.parse of it.
 */
async function s5Irrelevant(ctx: ScenarioContext): Promise<ScenarioMeasurement> {
  const { sizes } = ctx.options;
  const problems: string[] = [];
  const notes: string[] = [];
  const watched = range(sizes['s5-watchers']).map((i) => `${ctx.runId}-w${i}`);
  await connect(ctx, watched, problems);
  const irrelevant = new TaskSequencer(
    range(Math.min(50_000, sizes['s5-rate'])).map((i) => `${ctx.runId}-x${i}`),
    ctx.messages,
  );
  const publisher = await connectPublisher(ctx);
  // The same instance with no traffic: what it spends anyway (timers, its connections), so that
  // the CPU an update adds can be told from it.
  const idleWindow = await UsageWindow.open(ctx, publisher);
  await sleep(sizes['s5-duration-s'] * 500);
  const idle = await idleWindow.close();
  const idleCores = idle.serverCpu / idle.seconds;

  const publishing = publishAtRate(publisher, sizes['s5-rate'], (now) => irrelevant.next(now));
  await sleep(sizes['warmup-s'] * 1000);
  const window = await UsageWindow.open(ctx, publisher);
  await sleep(sizes['s5-duration-s'] * 1000);
  const usage = await window.close();
  publishing.stop();
  await publisher.settled(10_000);
  publisher.close();
  if (publisher.unheard > 0 || publisher.errors > 0) {
    problems.push(
      `${publisher.unheard} updates reached no subscriber, ${publisher.errors} PUBLISH errors`,
    );
  }
  const { check } = await verify(ctx, {}, true, problems);
  const serverCpuCores = usage.serverCpu / usage.seconds;
  if (serverCpuCores > 0.95) {
    notes.push('target CPU saturated: it fell behind the offered rate; CPU per update is a floor');
  }
  const cpuPerUpdateUs = (usage.serverCpu * 1e6) / usage.published;
  const addedCpu = Math.max(0, usage.serverCpu - idleCores * usage.seconds);
  const cpuAddedPerUpdateUs = (addedCpu * 1e6) / usage.published;
  return {
    metrics: {
      cpuPerUpdateUs,
      jsonParseUs: ctx.jsonParseNs / 1000,
      cpuPerUpdateOverJsonParse: cpuPerUpdateUs / (ctx.jsonParseNs / 1000),
      cpuAddedPerUpdateUs,
      cpuAddedPerUpdateOverJsonParse: cpuAddedPerUpdateUs / (ctx.jsonParseNs / 1000),
      idleCpuCores: idleCores,
      serverCpuCores,
      updatesPerSec: usage.published / usage.seconds,
    },
    delivery: check,
    loadGenerator: usage.loadGenerator,
    problems,
    notes,
  };
}

/** The gateway's default WS_SLOW_CLIENT_MAX_BYTES: what one slow client may hold before 1013. */
const GATEWAY_SLOW_CLIENT_MAX_BYTES = 2 * 1024 * 1024;
const MIB = 2 ** 20;

/** Sleeps `ms`, or less once `stop()` turns true (checked every 100 ms). */
async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const deadline = performance.now() + ms;
  while (!stop()) {
    const left = deadline - performance.now();
    if (left <= 0) return;
    await sleep(Math.min(100, left));
  }
}

/** Both phases' load generator figures as one: the higher use, saturated if either was. */
function mergeUsage(a: LoadGeneratorUsage, b: LoadGeneratorUsage): LoadGeneratorUsage {
  return {
    ...b,
    share: Math.max(a.share, b.share),
    clientCpusBusy: Math.max(a.clientCpusBusy, b.clientCpusBusy),
    othersOnTargetCpus: Math.max(a.othersOnTargetCpus, b.othersOnTargetCpus),
    saturated: a.saturated || b.saturated,
  };
}

function quantileMs(histogram: LatencyHistogram, q: number): number {
  return histogram.count > 0 ? histogram.quantile(q) / 1000 : Number.NaN;
}

/**
 * S6 (issue 4): readers beside clients that subscribe to the same tasks and never read, against
 * one target process. Phase A: the readers alone. Phase B: the slow clients connect, publishing
 * at the same rate fills their kernel buffers (`s6-fill-s`), then the same window as A is
 * measured. The readers' latency in both, the target's RSS against the bound (RSS before the slow
 * clients + slow clients x WS_SLOW_CLIENT_MAX_BYTES), and for the gateway its counters.
 */
async function s6SlowConsumers(ctx: ScenarioContext): Promise<ScenarioMeasurement> {
  const { sizes } = ctx.options;
  const problems: string[] = [];
  const notes: string[] = [];
  const tasks = new TaskSequencer(
    range(sizes['s6-tasks']).map((i) => `${ctx.runId}-t${i}`),
    new UpdateMessages(sizes['s6-payload-bytes']),
  );
  const taskOf = (i: number): string => tasks.taskIds[i % tasks.taskIds.length];
  const readers = range(sizes['s6-readers']).map(taskOf);
  const counters = (): Promise<GatewayCounters | undefined> => targetCounters(ctx, notes);
  await connect(ctx, readers, problems);
  const publisher = await connectPublisher(ctx);
  await ctx.pool.setProgressInterval(PROGRESS_INTERVAL_MS);

  let publishing: { stop: () => void } | undefined;
  const limitMiB = sizes['s6-rss-limit-mib'];
  const memory = new MemorySampler(ctx.target, limitMiB * MIB, () => publishing?.stop());
  const overLimit = (): boolean => memory.overLimitAt !== undefined;

  /**
   * Publishes for `settleMs` (A: the warm-up; B: the fill), then for the measured window, then
   * waits for the readers' frames. `atWindow` runs between the two.
   */
  const phase = async (settleMs: number, atWindow: () => Promise<void>) => {
    publishing = publishAtRate(publisher, sizes['s6-rate'], (now) => tasks.next(now));
    await ctx.pool.resetLatency();
    await sleepUnless(settleMs, overLimit);
    const settling = (await ctx.pool.verify({})).latency;
    await atWindow();
    await ctx.pool.resetLatency();
    const window = await UsageWindow.open(ctx, publisher);
    const halfMs = (sizes['s6-duration-s'] * 1000) / 2;
    await sleepUnless(halfMs, overLimit);
    const midRss = memory.sample();
    const midAt = performance.now();
    await sleepUnless(halfMs, overLimit);
    // Over the window's second half: near 0 once a target holds a bounded amount (garbage not
    // yet collected shows here too).
    const growth = (memory.sample() - midRss) / MIB / ((performance.now() - midAt) / 1000);
    const usage = await window.close();
    publishing.stop();
    await publisher.settled(10_000);
    const expected = tasks.expected();
    const expectedFrames = readers.reduce((sum, taskId) => sum + expected[taskId], 0);
    const drained = await waitForDelivery(ctx, expectedFrames);
    const { latency } = await ctx.pool.verify(expected);
    return { usage, drained, growth, settling, latency };
  };

  try {
    const atStart = await counters();
    memory.resetPeaks();
    const a = await phase(sizes['warmup-s'] * 1000, () => Promise.resolve());
    if (!a.drained) problems.push('phase A (readers alone) did not drain');
    const peakA = memory.peakRss;
    const afterA = await counters();

    const rssBeforeSlow = memory.resetPeaks();
    const tcpBefore = kernelTcpMemory();
    const slow = range(sizes['s6-slow']).map(taskOf);
    const { opened: slowOpened } = await connect(ctx, slow, problems, true);
    const rssSlowIdle = memory.sample();
    const descriptors = (): number => (ctx.target.running ? openFileCount(ctx.target.pid) : 0);
    const descriptorsBefore = descriptors();
    let countersAtWindow: GatewayCounters | undefined;
    const b = await phase(sizes['s6-fill-s'] * 1000, async () => {
      countersAtWindow = await counters();
    });
    const descriptorsAfter = descriptors();
    const afterB = await counters();
    const tcpAfter = kernelTcpMemory();
    // Problems are reported once, by this check, which counts both phases.
    const { check } = await verify(ctx, tasks.expected(), b.drained, problems);

    if (memory.overLimitAt !== undefined) {
      notes.push(
        `the target's RSS passed ${limitMiB} MiB (--s6-rss-limit-mib): publishing stopped early`,
      );
    }
    if (atStart && afterA && afterA.slowConsumers > atStart.slowConsumers) {
      notes.push(
        `phase A: the gateway held back ${afterA.slowConsumers - atStart.slowConsumers} ` +
          'readers (over WS_BACKPRESSURE_BYTES): the load generator fell behind',
      );
    }
    const pressures = tcpAfter.pressures - tcpBefore.pressures;
    if (pressures > 0 || memory.peakTcp >= tcpBefore.pressureBytes) {
      notes.push(
        `the kernel's TCP memory reached its pressure threshold (tcp_mem[1], ` +
          `${Math.round(tcpBefore.pressureBytes / MIB)} MiB) with the slow clients: in pressure ` +
          "it throttles every TCP socket of the machine, the target's Redis connection included, " +
          "so the readers' latency shows the kernel as much as the target (docs/benchmarks.md, S6)",
      );
    }
    const slowClientMaxBytes = Number(
      ctx.target.definition.env.WS_SLOW_CLIENT_MAX_BYTES ?? GATEWAY_SLOW_CLIENT_MAX_BYTES,
    );
    const peakB = memory.peakRss;
    const bound = rssBeforeSlow + slowOpened * slowClientMaxBytes;
    const a99 = quantileMs(a.latency, 0.99);
    const b99 = quantileMs(b.latency, 0.99);
    const gatewayMetrics: Record<string, number> =
      afterA && countersAtWindow && afterB
        ? {
            gatewaySlowHeldAtWindow: countersAtWindow.slowConsumers - afterA.slowConsumers,
            gatewaySlowConsumers: afterB.slowConsumers - afterA.slowConsumers,
            gatewayFramesCoalesced: afterB.framesCoalesced - afterA.framesCoalesced,
            gatewayFramesDropped: afterB.framesDropped - afterA.framesDropped,
            gatewaySlowConsumerCloses: afterB.slowConsumerCloses - afterA.slowConsumerCloses,
            gatewayHeartbeatTerminations:
              afterB.heartbeatTerminations - afterA.heartbeatTerminations,
          }
        : {};
    return {
      metrics: {
        latencyP99RatioBA: b99 / a99,
        peakRssMiB: peakB / MIB,
        latencyP99MsA: a99,
        latencyP99MsB: b99,
        p99WithinTwiceMet: b99 <= 2 * a99 ? 1 : 0,
        rssBoundMiB: bound / MIB,
        rssUnderBoundMet: peakB <= bound ? 1 : 0,
        rssPerSlowClientKiB: (peakB - rssBeforeSlow) / slowOpened / 1024,
        rssGrowthMiBPerSecB: b.growth,
        rssGrowthMiBPerSecA: a.growth,
        rssBeforeSlowMiB: rssBeforeSlow / MIB,
        rssSlowIdleMiB: rssSlowIdle / MIB,
        peakRssAMiB: peakA / MIB,
        latencyP50MsA: quantileMs(a.latency, 0.5),
        latencyP50MsB: quantileMs(b.latency, 0.5),
        latencyMaxMsA: a.latency.count > 0 ? a.latency.max / 1000 : Number.NaN,
        latencyMaxMsB: b.latency.count > 0 ? b.latency.max / 1000 : Number.NaN,
        latencyP99MsFill: quantileMs(b.settling, 0.99),
        deliveredPerSecA: a.usage.frames / a.usage.seconds,
        deliveredPerSecB: b.usage.frames / b.usage.seconds,
        serverCpuCoresA: a.usage.serverCpu / a.usage.seconds,
        serverCpuCoresB: b.usage.serverCpu / b.usage.seconds,
        slowClients: slowOpened,
        slowClosedByTarget: Math.max(0, descriptorsBefore - descriptorsAfter),
        kernelTcpPeakMiB: memory.peakTcp / MIB,
        kernelTcpPressureMiB: tcpBefore.pressureBytes / MIB,
        kernelTcpPressures: pressures,
        ...gatewayMetrics,
      },
      delivery: check,
      loadGenerator: mergeUsage(a.usage.loadGenerator, b.usage.loadGenerator),
      problems,
      notes,
    };
  } finally {
    publishing?.stop();
    memory.stop();
    publisher.close();
  }
}

export const SCENARIOS: Record<
  TargetScenarioId,
  { title: string; run: (ctx: ScenarioContext) => Promise<ScenarioMeasurement> }
> = {
  S1: { title: 'S1 idle connections', run: s1Idle },
  S2: { title: 'S2 fan-out', run: s2FanOut },
  S3: { title: 'S3 latency', run: s3Latency },
  S4: { title: 'S4 hot task (overload)', run: s4HotTask },
  S5: { title: 'S5 irrelevant traffic', run: s5Irrelevant },
  S6: { title: 'S6 slow consumers', run: s6SlowConsumers },
};
