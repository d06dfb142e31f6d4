import { DEFAULT_PARTITIONS, type PublishTaskStatusOptions } from '@task-status/client/publisher';
import { Redis } from 'ioredis';
import type { BenchOptions } from './bench-options.js';
import { monotonicMicros, sleep } from './clock.js';
import { FanOutPublisher } from './fan-out-publisher.js';
import { readGatewayCounters, type GatewayCounters } from './gateway-counters.js';
import type { LatencyHistogram } from './latency-histogram.js';
import type { LoadWorkerPool } from './load-worker-pool.js';
import type { ProcessRegistry } from './process-registry.js';
import { busyCores, cpuTimes } from './proc-stats.js';
import { RedisClusterProcess } from './redis-cluster-process.js';
import type { RedisServerProcess } from './redis-server-process.js';
import { RespTransactionClient } from './resp-transaction-client.js';
import type { ScenarioMeasurement } from './scenarios.js';
import { targetConfiguration, type TargetConfiguration } from './target-configuration.js';
import { TargetProcess, type TargetDefinition } from './target-process.js';
import { pollUntil } from './timeouts.js';

export type FanOutMode = 'channel' | 'sharded';
export const FAN_OUT_MODES: readonly FanOutMode[] = ['channel', 'sharded'];

/** One gateway instance in one step: its own counters and its clients' frames. */
export interface FanOutInstanceResult {
  instance: number;
  /** Tasks its clients watch (no other instance's clients watch them). */
  tasks: number;
  clients: number;
  /** Over the measured window, from its /ws/stats counters: messages received from Redis per second. */
  receivedPerSec: number;
  /** Of them, updates of a task watched on this instance, per second. */
  routedPerSec: number;
  unroutedPerSec: number;
  /** received ÷ routed over the whole step: 1 when it receives only what it delivers. */
  receivedOverRouted: number;
  /** Frames it wrote to its sockets per second (its frames_delivered counter). */
  framesDeliveredPerSec: number;
  /** Its CPU over the window, cores. */
  cpuCores: number;
  /** Totals from the first update published to the last frame received. */
  received: number;
  routed: number;
  unrouted: number;
  framesDelivered: number;
  /** Frames its clients should have received, did receive, and the gap. */
  framesExpected: number;
  framesReceived: number;
  lost: number;
}

/** One mode at one offered rate. */
export interface FanOutModeResult {
  mode: FanOutMode;
  /** The rate asked of the publisher, updates/s. */
  targetRate: number;
  /** What it published over the window, updates/s. */
  offeredPerSec: number;
  /** Updates published over the whole step (warm-up and window). */
  published: number;
  publishErrors: number;
  /** Sum of the PUBLISH / SPUBLISH replies: copies Redis handed to subscribers. */
  redisReceivers: number;
  /** Redis CPU (INFO cpu: used_cpu_sys + used_cpu_user, summed over its processes) per update, µs. */
  redisCpuUsPerUpdate: number;
  redisCpuCores: number;
  /** CPU of all the mode's gateways together over the window, cores. */
  gatewayCpuCores: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** From the end of publishing to the last frame received, s. */
  drainSeconds: number;
  drained: boolean;
  framesExpected: number;
  framesReceived: number;
  lost: number;
  /** Lost frames or lag past --s7-lag-ms: why, when it is. */
  saturated: boolean;
  saturation: string[];
  /**
   * The publisher offered less than 90 % of the asked rate: the client side (publisher, Redis,
   * load generator on the client CPUs) was at its limit, whatever the gateways did.
   */
  offeredShort: boolean;
  /** Busy share of the CPUs the gateways run on, and of the client CPUs, over the window. */
  serverCpusBusy: number;
  clientCpusBusy: number;
  instances: FanOutInstanceResult[];
}

export interface FanOutStep {
  rate: number;
  channel: FanOutModeResult;
  sharded: FanOutModeResult;
}

/** What S7 adds to its measurement: every step, both modes, every instance. */
export interface FanOutRecord {
  instances: number;
  shards: number;
  tasksPerInstance: number;
  subscribersPerTask: number;
  partitions: number;
  durationS: number;
  warmupS: number;
  lagMs: number;
  payloadBytes: number;
  /** How the gateways of each mode were started (`<port>` chosen afresh per instance). */
  configurations: Record<FanOutMode, TargetConfiguration>;
  redis: Record<FanOutMode, string>;
  /**
   * Redis CPU of each mode with its gateways up and nothing published (cron, cluster bus, the
   * gateways' canaries and heartbeats), cores: the part of the per-update figure that is not
   * per update, large at low rates.
   */
  redisIdleCores: Record<FanOutMode, number>;
  steps: FanOutStep[];
  /** The first offered rate at which channel mode lost frames or lagged; null if none did. */
  channelSaturatedAt: number | null;
  stoppedBecause: string;
}

export interface FanOutContext {
  options: BenchOptions;
  pool: LoadWorkerPool;
  registry: ProcessRegistry;
  /** The run's standalone redis-server: channel mode's. */
  redis: RedisServerProcess;
  control: Redis;
  /** The CPUs of the gateways and of the client side (all of them when not pinned). */
  serverCpus: string | undefined;
  clientCpus: string | undefined;
  clientCpuList: number[];
  serverCpuList: number[] | undefined;
  runId: string;
  gateway: TargetDefinition;
  log: (message: string) => void;
}

/** The gateway's WS_MAX_CONNECTIONS when unset. */
const GATEWAY_DEFAULT_MAX_CONNECTIONS = 1_000;
const PROGRESS_INTERVAL_MS = 10;
const STALL_MS = 5_000;
const WATCHED_TIMEOUT_MS = 5_000;
/** A publisher that reaches less than this share of the asked rate is at its limit. */
const OFFERED_SHORTFALL = 0.9;

/** The gateway definition of one mode: shipped defaults but for the mode settings. */
export function fanOutDefinition(
  gateway: TargetDefinition,
  mode: FanOutMode,
  clientsPerInstance: number,
  clusterSeeds: string[],
): TargetDefinition {
  const env = { ...gateway.env };
  // The bench raises WS_MAX_CONNECTIONS for its big scenarios; S7 needs it only past the default.
  if (
    clientsPerInstance + 100 <= GATEWAY_DEFAULT_MAX_CONNECTIONS &&
    !(gateway.benchGatewayEnv ?? '').includes('WS_MAX_CONNECTIONS')
  ) {
    delete env.WS_MAX_CONNECTIONS;
  }
  env.REDIS_PUBSUB_MODE = mode;
  if (mode === 'sharded') env.REDIS_CLUSTER_NODES = clusterSeeds.join(',');
  return {
    ...gateway,
    description: `${gateway.description}; REDIS_PUBSUB_MODE=${mode}`,
    env,
  };
}

async function redisCpuSeconds(connections: Redis[]): Promise<number> {
  const infos = await Promise.all(connections.map((connection) => connection.info('cpu')));
  return infos.reduce((sum, info) => {
    const field = (name: string): number =>
      Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return sum + field('used_cpu_sys') + field('used_cpu_user');
  }, 0);
}

function readAll(gateways: TargetProcess[]): Promise<GatewayCounters[]> {
  return Promise.all(gateways.map((gateway) => readGatewayCounters(gateway.port)));
}

function quantileMs(histogram: LatencyHistogram, q: number): number {
  return histogram.count > 0 ? histogram.quantile(q) / 1000 : Number.NaN;
}

interface ModeSetup {
  mode: FanOutMode;
  gateways: TargetProcess[];
  client: RespTransactionClient;
  redisControls: Redis[];
  publishOptions: PublishTaskStatusOptions;
}

/** Waits until `expectedFrames` arrived, nothing arrived for STALL_MS, or the drain timeout. */
async function waitForFrames(
  pool: LoadWorkerPool,
  expectedFrames: number,
  timeoutS: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const frames = pool.framesReported;
    if (frames >= expectedFrames) return true;
    if (frames !== last) {
      last = frames;
      lastChange = Date.now();
    }
    if (Date.now() > deadline || Date.now() - lastChange > STALL_MS) return false;
    await sleep(20);
  }
}

/** The padding of `message` that brings an update near --payload-bytes. */
function paddingFor(payloadBytes: number, sampleTaskId: string): string {
  const bare = JSON.stringify({
    task_id: sampleTaskId,
    status: 'processing',
    progress: 100,
    message: '',
    seq: 1000,
    sent_at_us: 1_000_000_000_000,
    updated_at: new Date(0).toISOString(),
  });
  return 'x'.repeat(Math.max(0, payloadBytes - bare.length));
}

/** Counters of each gateway, each with the moment its answer arrived (a busy one answers late). */
type TimedCounters = { counters: GatewayCounters; at: number }[];

function readTimed(gateways: TargetProcess[]): Promise<TimedCounters> {
  return Promise.all(
    gateways.map(async (gateway) => {
      const counters = await readGatewayCounters(gateway.port);
      return { counters, at: monotonicMicros() };
    }),
  );
}

interface WindowReading {
  at: number;
  published: number;
  cpus: ReturnType<typeof cpuTimes>;
  gatewayCpu: number[];
  redisCpu: number;
  counters: TimedCounters;
}

/**
 * The clock, the publisher's count and the CPU times at one instant; then, once `then` ran (the
 * end of publishing), Redis' CPU and every gateway's counters, each timed by its own answer.
 */
async function readWindow(
  setup: ModeSetup,
  publisher: FanOutPublisher,
  then: () => void = () => undefined,
): Promise<WindowReading> {
  const at = monotonicMicros();
  const published = publisher.published;
  const cpus = cpuTimes();
  const gatewayCpu = setup.gateways.map((gateway) => gateway.cpuSeconds());
  then();
  const redisCpu = await redisCpuSeconds(setup.redisControls);
  return { at, published, cpus, gatewayCpu, redisCpu, counters: await readTimed(setup.gateways) };
}

/** One mode at one rate: clients connect, the window is measured, every frame is checked. */
async function measureMode(
  ctx: FanOutContext,
  setup: ModeSetup,
  rate: number,
  step: number,
  problems: string[],
): Promise<FanOutModeResult> {
  const { sizes } = ctx.options;
  const n = setup.gateways.length;
  const tasksPerInstance = sizes['s7-tasks'];
  const subscribers = sizes['s7-subscribers'];
  const where = `${setup.mode} at ${rate}/s`;
  const tasksOf = Array.from({ length: n }, (_, i) =>
    Array.from(
      { length: tasksPerInstance },
      (_, j) => `${ctx.runId}-${setup.mode[0]}${step}-i${i}-t${j}`,
    ),
  );
  for (const [i, gateway] of setup.gateways.entries()) {
    const connections = tasksOf[i].flatMap((taskId) =>
      Array.from({ length: subscribers }, () => taskId),
    );
    const result = await ctx.pool.connect(
      '127.0.0.1',
      gateway.port,
      'task-status',
      connections,
      sizes['connect-concurrency'],
      Math.max(30_000, connections.length * 10),
    );
    if (result.failed > 0) {
      problems.push(
        `${where}: ${result.failed} of ${connections.length} connections to instance ${i} failed ` +
          `(first: ${result.firstError ?? '?'})`,
      );
    }
  }
  // The previous step's clients were reset just before: their closes may still be on their way.
  let before: GatewayCounters[] = [];
  await pollUntil(
    async () => {
      before = await readAll(setup.gateways);
      return before.every((counters) => counters.tasksWithSubscribers === tasksPerInstance);
    },
    WATCHED_TIMEOUT_MS,
    50,
  );
  before.forEach((counters, i) => {
    if (counters.tasksWithSubscribers !== tasksPerInstance) {
      problems.push(
        `${where}: instance ${i} reports ${counters.tasksWithSubscribers} watched tasks, not ${tasksPerInstance}`,
      );
    }
  });
  await ctx.pool.setProgressInterval(PROGRESS_INTERVAL_MS);

  // Interleaved, so that consecutive updates go to different instances.
  const taskIds = Array.from({ length: tasksPerInstance }, (_, j) =>
    tasksOf.map((tasks) => tasks[j]),
  ).flat();
  const publisher = new FanOutPublisher(
    setup.client,
    setup.publishOptions,
    taskIds,
    paddingFor(sizes['payload-bytes'], taskIds[0]),
  );
  let windowStart: WindowReading;
  let windowEnd: WindowReading;
  let stoppedAt = 0;
  const stop = (): void => {
    publisher.stop();
    stoppedAt = monotonicMicros();
  };
  publisher.start(rate);
  try {
    await sleep(sizes['warmup-s'] * 1000);
    await ctx.pool.resetLatency();
    windowStart = await readWindow(setup, publisher);
    await sleep(sizes['s7-duration-s'] * 1000);
    // Publishing ends with the window: a saturated gateway answers its counters late.
    windowEnd = await readWindow(setup, publisher, stop);
  } finally {
    if (stoppedAt === 0) stop();
  }

  await publisher.allSettled(sizes['drain-timeout-s'] * 1000);
  const expected = publisher.expected();
  const expectedFrames = publisher.published * subscribers;
  const drained = await waitForFrames(ctx.pool, expectedFrames, sizes['drain-timeout-s']);
  const snapshot = await ctx.pool.snapshot();
  const after = await readAll(setup.gateways);
  const overall = await ctx.pool.verify(expected);

  const seconds = (windowEnd.at - windowStart.at) / 1e6;
  const windowPublished = windowEnd.published - windowStart.published;
  const instances: FanOutInstanceResult[] = [];
  for (let i = 0; i < n; i += 1) {
    const own: Record<string, number> = {};
    for (const taskId of tasksOf[i]) own[taskId] = expected[taskId];
    const clients = await ctx.pool.verify(own, true);
    const a = windowStart.counters[i].counters;
    const b = windowEnd.counters[i].counters;
    // Per instance, between the answers: the counts are taken when the gateway answers.
    const instanceSeconds = (windowEnd.counters[i].at - windowStart.counters[i].at) / 1e6;
    const received = after[i].messagesReceived - before[i].messagesReceived;
    const routed = after[i].updatesRouted - before[i].updatesRouted;
    instances.push({
      instance: i,
      tasks: tasksPerInstance,
      clients: clients.connections,
      receivedPerSec: (b.messagesReceived - a.messagesReceived) / instanceSeconds,
      routedPerSec: (b.updatesRouted - a.updatesRouted) / instanceSeconds,
      unroutedPerSec: (b.updatesUnrouted - a.updatesUnrouted) / instanceSeconds,
      receivedOverRouted: routed > 0 ? received / routed : Number.NaN,
      framesDeliveredPerSec: (b.framesDelivered - a.framesDelivered) / instanceSeconds,
      cpuCores: (windowEnd.gatewayCpu[i] - windowStart.gatewayCpu[i]) / seconds,
      received,
      routed,
      unrouted: after[i].updatesUnrouted - before[i].updatesUnrouted,
      framesDelivered: after[i].framesDelivered - before[i].framesDelivered,
      framesExpected: clients.expectedFrames,
      framesReceived: clients.frames,
      lost: clients.lost,
    });
  }
  await ctx.pool.closeAll();

  const latency = overall.latency;
  const lastFrameAt = snapshot.lastFrameAtMicros;
  const drainSeconds = Math.max(0, (lastFrameAt - stoppedAt) / 1e6);
  const result: FanOutModeResult = {
    mode: setup.mode,
    targetRate: rate,
    offeredPerSec: windowPublished / seconds,
    published: publisher.published,
    publishErrors: publisher.errors,
    redisReceivers: publisher.receivers,
    redisCpuUsPerUpdate: ((windowEnd.redisCpu - windowStart.redisCpu) * 1e6) / windowPublished,
    redisCpuCores: (windowEnd.redisCpu - windowStart.redisCpu) / seconds,
    gatewayCpuCores: instances.reduce((sum, instance) => sum + instance.cpuCores, 0),
    latencyP50Ms: quantileMs(latency, 0.5),
    latencyP99Ms: quantileMs(latency, 0.99),
    latencyMaxMs: latency.count > 0 ? latency.max / 1000 : Number.NaN,
    drainSeconds,
    drained,
    framesExpected: overall.expectedFrames,
    framesReceived: overall.frames,
    lost: overall.lost,
    saturated: false,
    saturation: [],
    offeredShort: false,
    serverCpusBusy: ctx.serverCpuList
      ? busyCores(windowStart.cpus, windowEnd.cpus, ctx.serverCpuList) / ctx.serverCpuList.length
      : Number.NaN,
    clientCpusBusy:
      busyCores(windowStart.cpus, windowEnd.cpus, ctx.clientCpuList) / ctx.clientCpuList.length,
    instances,
  };
  const lagMs = sizes['s7-lag-ms'];
  if (result.lost > 0) result.saturation.push(`${result.lost} frames lost`);
  if (!drained) result.saturation.push('not drained');
  if (result.latencyP99Ms > lagMs) {
    result.saturation.push(`latency p99 ${Math.round(result.latencyP99Ms)} ms > ${lagMs} ms`);
  }
  if (drainSeconds * 1000 > lagMs) {
    result.saturation.push(`frames still arriving ${drainSeconds.toFixed(1)} s after publishing`);
  }
  result.saturated = result.saturation.length > 0;
  result.offeredShort = result.offeredPerSec < OFFERED_SHORTFALL * rate;

  // Harness problems: what no amount of load may cause.
  if (publisher.errors > 0) {
    problems.push(`${where}: ${publisher.errors} publish errors (first: ${publisher.firstError})`);
  }
  if (overall.wrongTask > 0) problems.push(`${where}: ${overall.wrongTask} frames of another task`);
  if (overall.outOfOrder > 0) problems.push(`${where}: ${overall.outOfOrder} frames out of order`);
  if (overall.extra > 0) problems.push(`${where}: ${overall.extra} frames beyond those published`);
  if (overall.protocolErrors > 0) {
    problems.push(`${where}: ${overall.protocolErrors} frames not understood`);
  }
  const copies = (setup.mode === 'channel' ? n : 1) * (publisher.published - publisher.errors);
  if (publisher.receivers !== copies) {
    problems.push(
      `${where}: Redis handed ${publisher.receivers} copies to subscribers, not ${copies} ` +
        `(${setup.mode === 'channel' ? 'every instance on the channel' : 'one instance per task'})`,
    );
  }
  if (overall.unexpectedCloses > 0) {
    problems.push(`${where}: ${overall.unexpectedCloses} connections closed by the gateway`);
  }
  return result;
}

function describeMode(result: FanOutModeResult): string {
  const perInstance = result.instances
    .map((instance) => Math.round(instance.receivedPerSec).toLocaleString('en-US'))
    .join(' / ');
  return (
    `${result.mode}: offered ${Math.round(result.offeredPerSec)}/s, received per instance ` +
    `${perInstance}/s, frames ${result.framesReceived}/${result.framesExpected}, ` +
    `p99 ${result.latencyP99Ms.toFixed(1)} ms, Redis ${result.redisCpuUsPerUpdate.toFixed(2)} µs/update` +
    (result.saturated ? `, SATURATED (${result.saturation.join('; ')})` : '')
  );
}

/**
 * S7 (issue 11): N gateway instances in channel mode on the run's standalone Redis, and N in
 * sharded mode on a K-primary Redis Cluster of the bench's own, all up for the whole scenario.
 * Each instance has clients of its own watching a disjoint set of tasks. At each step the same
 * offered rate U is published in both modes, one after the other; U grows by --s7-rate-factor
 * until channel mode loses frames or lags (or --s7-steps is reached).
 */
export async function runFanOut(ctx: FanOutContext): Promise<ScenarioMeasurement> {
  const { sizes } = ctx.options;
  const problems: string[] = [];
  const notes: string[] = [];
  const n = sizes['s7-instances'];
  const clientsPerInstance = sizes['s7-tasks'] * sizes['s7-subscribers'];
  const started: TargetProcess[] = [];
  const controls: Redis[] = [];
  const clients: RespTransactionClient[] = [];
  let cluster: RedisClusterProcess | undefined;
  try {
    ctx.log(`S7: a ${sizes['s7-shards']}-primary Redis Cluster for the sharded mode`);
    cluster = await RedisClusterProcess.start(ctx.registry, ctx.clientCpus, sizes['s7-shards']);
    const seeds = cluster.seeds;
    const definitions = {
      channel: fanOutDefinition(ctx.gateway, 'channel', clientsPerInstance, seeds),
      sharded: fanOutDefinition(ctx.gateway, 'sharded', clientsPerInstance, seeds),
    };
    const redisUrl = { channel: ctx.redis.url, sharded: `redis://${seeds[0]}` };
    const channel = ctx.options.channel;
    const configurations = {
      channel: targetConfiguration(definitions.channel, {
        redisUrl: redisUrl.channel,
        channel,
        cpus: ctx.serverCpus,
      }),
      sharded: targetConfiguration(definitions.sharded, {
        redisUrl: redisUrl.sharded,
        channel,
        cpus: ctx.serverCpus,
      }),
    };
    const setups = {} as Record<FanOutMode, ModeSetup>;
    for (const mode of FAN_OUT_MODES) {
      const gateways: TargetProcess[] = [];
      for (let i = 0; i < n; i += 1) {
        const gateway = await TargetProcess.start(definitions[mode], {
          redisUrl: redisUrl[mode],
          channel,
          control: ctx.control,
          cpus: ctx.serverCpus,
          registry: ctx.registry,
          readiness: 'health',
        });
        started.push(gateway);
        gateways.push(gateway);
      }
      const ports = mode === 'channel' ? [ctx.redis.port] : cluster.nodes.map((node) => node.port);
      const redisControls = ports.map((port) => {
        const connection = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
        connection.on('error', () => undefined);
        return connection;
      });
      controls.push(...redisControls);
      const client =
        mode === 'channel'
          ? await RespTransactionClient.standalone(ctx.redis.port)
          : await RespTransactionClient.cluster(ports, DEFAULT_PARTITIONS);
      clients.push(client);
      setups[mode] = {
        mode,
        gateways,
        client,
        redisControls,
        publishOptions: { mode, channel, partitions: DEFAULT_PARTITIONS },
      };
      ctx.log(
        `S7: ${n} gateways in ${mode} mode on ports ${gateways.map((g) => g.port).join(', ')}`,
      );
    }

    const redisIdleCores = {} as Record<FanOutMode, number>;
    for (const mode of FAN_OUT_MODES) {
      const before = await redisCpuSeconds(setups[mode].redisControls);
      const at = monotonicMicros();
      await sleep(sizes['s7-duration-s'] * 1000);
      const seconds = (monotonicMicros() - at) / 1e6;
      redisIdleCores[mode] =
        ((await redisCpuSeconds(setups[mode].redisControls)) - before) / seconds;
    }
    ctx.log(
      `S7: Redis CPU with nothing published: channel ${redisIdleCores.channel.toFixed(4)}, ` +
        `sharded ${redisIdleCores.sharded.toFixed(4)} cores`,
    );

    const steps: FanOutStep[] = [];
    let rate = sizes['s7-rate'];
    let channelSaturatedAt: number | null = null;
    let stoppedBecause = `the last of --s7-steps ${sizes['s7-steps']} was reached`;
    for (let step = 1; step <= sizes['s7-steps']; step += 1) {
      const results = {} as Record<FanOutMode, FanOutModeResult>;
      for (const mode of FAN_OUT_MODES) {
        results[mode] = await measureMode(ctx, setups[mode], Math.round(rate), step, problems);
        ctx.log(`S7 step ${step}, U = ${Math.round(rate)}/s, ${describeMode(results[mode])}`);
        for (const gateway of setups[mode].gateways) {
          if (!gateway.running) {
            throw new Error(
              `a ${mode} gateway exited; its last output:\n${gateway.recentOutput.slice(-2000)}`,
            );
          }
        }
      }
      steps.push({ rate: Math.round(rate), channel: results.channel, sharded: results.sharded });
      if (results.channel.saturated) {
        channelSaturatedAt = Math.round(rate);
        stoppedBecause = `channel mode saturated at ${channelSaturatedAt} updates/s`;
        break;
      }
      const short = FAN_OUT_MODES.filter(
        (mode) => results[mode].offeredPerSec < OFFERED_SHORTFALL * rate,
      );
      if (short.length === FAN_OUT_MODES.length) {
        stoppedBecause =
          `the publisher reached less than ${OFFERED_SHORTFALL * 100} % of ${Math.round(rate)}/s ` +
          'in both modes: the client side is at its limit';
        break;
      }
      rate *= sizes['s7-rate-factor'];
    }
    if (channelSaturatedAt === null) {
      notes.push(
        `channel mode did not saturate up to ${steps.at(-1)?.rate ?? 0} updates/s (${stoppedBecause})`,
      );
    }
    const fanOut: FanOutRecord = {
      instances: n,
      shards: sizes['s7-shards'],
      tasksPerInstance: sizes['s7-tasks'],
      subscribersPerTask: sizes['s7-subscribers'],
      partitions: DEFAULT_PARTITIONS,
      durationS: sizes['s7-duration-s'],
      warmupS: sizes['warmup-s'],
      lagMs: sizes['s7-lag-ms'],
      payloadBytes: sizes['payload-bytes'],
      configurations,
      redisIdleCores,
      redis: {
        channel: `one standalone redis-server (${ctx.redis.url})`,
        sharded: `a Redis Cluster of ${sizes['s7-shards']} primaries, no replicas (${seeds.join(', ')})`,
      },
      steps,
      channelSaturatedAt,
      stoppedBecause,
    };
    return {
      metrics: fanOutMetrics(fanOut),
      fanOut,
      loadGenerator: {
        workers: 0,
        coordinator: 0,
        redis: 0,
        share: 0,
        workerMicrosPerFrame: Number.NaN,
        clientCpusBusy: Math.max(
          0,
          ...steps.flatMap((s) => [s.channel.clientCpusBusy, s.sharded.clientCpusBusy]),
        ),
        othersOnTargetCpus: Number.NaN,
        saturated: false,
      },
      problems,
      notes,
    };
  } finally {
    await ctx.pool.closeAll();
    for (const client of clients) client.close();
    for (const connection of controls) connection.disconnect();
    await Promise.all(started.map((gateway) => gateway.stop()));
    await cluster?.stop();
  }
}

/**
 * S7's headline figures: where channel mode saturated, and at the last step measured, each mode's
 * per-instance received rate against its routed rate, its losses and Redis' CPU per update.
 */
export function fanOutMetrics(fanOut: FanOutRecord): Record<string, number> {
  const last = fanOut.steps.at(-1);
  if (!last) return {};
  const max = (values: number[]): number => Math.max(...values.filter(Number.isFinite));
  const perInstance = (mode: FanOutModeResult): number =>
    mode.instances.reduce((sum, instance) => sum + instance.receivedPerSec, 0) /
    mode.instances.length;
  return {
    channelSaturatedAt: fanOut.channelSaturatedAt ?? Number.NaN,
    offeredPerSec: last.rate,
    shardedLosslessAtLastStep: last.sharded.lost === 0 && last.sharded.drained ? 1 : 0,
    shardedMaxReceivedOverRouted: max(
      fanOut.steps.flatMap((step) => step.sharded.instances.map((i) => i.receivedOverRouted)),
    ),
    channelMaxReceivedOverRouted: max(
      fanOut.steps.flatMap((step) => step.channel.instances.map((i) => i.receivedOverRouted)),
    ),
    channelReceivedPerInstancePerSec: perInstance(last.channel),
    shardedReceivedPerInstancePerSec: perInstance(last.sharded),
    channelRedisCpuUsPerUpdate: last.channel.redisCpuUsPerUpdate,
    shardedRedisCpuUsPerUpdate: last.sharded.redisCpuUsPerUpdate,
    channelLost: last.channel.lost,
    shardedLost: last.sharded.lost,
  };
}
