import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultTargets, TARGET_NAMES, type TargetName } from './target-process.js';

export const SCENARIO_IDS = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];
/** The scenarios run against one target process at a time; S7 starts gateways of its own. */
export type TargetScenarioId = Exclude<ScenarioId, 'S7'>;
/**
 * What a run measures unless told otherwise: issue 5's scenarios. S7 (issue 11) starts several
 * gateways and a Redis Cluster of its own, so it runs when named (`--scenarios S7`).
 */
export const DEFAULT_SCENARIOS: readonly ScenarioId[] = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6'];

/**
 * Every numeric size of a run: the defaults are those of issue 5, the smoke values a few dozen
 * connections and about 2 s per scenario. Each is a flag (`--s2-tasks 500`) and an environment
 * variable (`BENCH_S2_TASKS=500`); a flag wins.
 */
const SIZES = {
  reps: { full: 3, smoke: 1, help: 'repetitions; each figure is the median over them' },
  workers: { full: 1, smoke: 1, help: 'load-generator processes (they share the client CPUs)' },
  's1-connections': { full: 10_000, smoke: 40, help: 'S1 idle connections, one task each' },
  's2-tasks': { full: 1_000, smoke: 8, help: 'S2 tasks' },
  's2-subscribers': { full: 10, smoke: 4, help: 'S2 subscribers per task' },
  's2-duration-s': { full: 10, smoke: 1.5, help: 'S2 measured publishing time' },
  's2-window': {
    full: 1_000,
    smoke: 100,
    help: 'S2 updates published but not yet fully delivered, at most (closed loop)',
  },
  's3-connections': { full: 10_000, smoke: 40, help: 'S3 connections' },
  's3-tasks': { full: 1_000, smoke: 10, help: 'S3 tasks (connections spread evenly over them)' },
  's3-rate': { full: 1_000, smoke: 200, help: 'S3 updates published per second' },
  's3-duration-s': { full: 10, smoke: 1.5, help: 'S3 measured publishing time' },
  's4-subscribers': { full: 5_000, smoke: 40, help: 'S4 subscribers of the one hot task' },
  's4-rate': { full: 200, smoke: 200, help: 'S4 updates offered per second' },
  's4-duration-s': { full: 3, smoke: 1, help: 'S4 publishing time (then it drains)' },
  's5-rate': { full: 20_000, smoke: 2_000, help: 'S5 irrelevant updates per second' },
  's5-duration-s': { full: 10, smoke: 1.5, help: 'S5 measured publishing time' },
  's5-watchers': { full: 1_000, smoke: 20, help: 'S5 idle connections on other tasks' },
  's6-readers': { full: 500, smoke: 20, help: 'S6 connections that read, measured' },
  's6-slow': { full: 500, smoke: 20, help: 'S6 connections that subscribe, then never read' },
  's6-tasks': { full: 10, smoke: 4, help: 'S6 tasks (readers and slow clients spread over them)' },
  's6-rate': { full: 100, smoke: 200, help: 'S6 updates published per second' },
  's6-fill-s': {
    full: 10,
    smoke: 1.5,
    help: 'S6 publishing with the slow clients before measuring: their kernel buffers fill',
  },
  's6-duration-s': { full: 10, smoke: 1.5, help: 'S6 measured publishing time of each phase' },
  's6-payload-bytes': {
    full: 65_536,
    smoke: 65_536,
    help: "size of an S6 update: large, so that the slow clients' kernel buffers fill",
  },
  's6-rss-limit-mib': {
    full: 4_096,
    smoke: 4_096,
    help: "S6 stops publishing when the target's RSS passes this",
  },
  's7-instances': { full: 4, smoke: 2, help: 'S7 gateway instances in each mode (N)' },
  's7-shards': {
    full: 3,
    smoke: 2,
    help: 'S7 primaries of the Redis Cluster of the sharded mode (K)',
  },
  's7-tasks': {
    full: 250,
    smoke: 6,
    help: 'S7 tasks watched on each instance (disjoint sets: each task on one instance)',
  },
  's7-subscribers': { full: 1, smoke: 1, help: 'S7 clients per task' },
  's7-rate': { full: 2_500, smoke: 200, help: 'S7 updates offered per second at the first step' },
  's7-rate-factor': {
    full: 2,
    smoke: 2,
    help: 'S7 offered rate multiplier from one step to the next',
  },
  's7-steps': {
    full: 6,
    smoke: 1,
    help: 'S7 rate steps at most; it stops after the first at which channel mode saturates',
  },
  's7-duration-s': { full: 5, smoke: 1, help: 'S7 measured publishing time of each step and mode' },
  's7-lag-ms': {
    full: 500,
    smoke: 5_000,
    help: 'S7 counts a mode saturated when its p99 latency or its drain after publishing passes this',
  },
  'warmup-s': {
    full: 1,
    smoke: 0.3,
    help: 'publishing before each measured window (S2, S3, S5, S7)',
  },
  'settle-ms': { full: 2_000, smoke: 200, help: 'pause before memory readings (S1)' },
  'drain-timeout-s': {
    full: 120,
    smoke: 10,
    help: 'longest wait for the last frames after publishing',
  },
  'payload-bytes': { full: 160, smoke: 160, help: 'size of a published update' },
  'parse-baseline-ms': {
    full: 1_000,
    smoke: 200,
    help: 'time spent measuring JSON.parse per repetition',
  },
  'connect-concurrency': { full: 256, smoke: 16, help: 'connections being opened at once' },
} as const;

type SizeName = keyof typeof SIZES;
export type Sizes = Record<SizeName, number>;

/** Issue 5's sizes: what a `full` run uses. */
export const SIZE_DEFAULTS = Object.fromEntries(
  Object.entries(SIZES).map(([name, size]) => [name, size.full]),
) as Sizes;

export interface BenchOptions {
  /**
   * `full`: issue 5's sizes, targets and scenarios; `smoke`; `reduced`: some sizes smaller and
   * none larger; `custom`: anything else.
   */
  label: 'full' | 'smoke' | 'reduced' | 'custom';
  sizes: Sizes;
  targets: TargetName[];
  scenarios: ScenarioId[];
  gatewayMain: string;
  resultsDir: string;
  writeDocs: boolean;
  docsPath: string;
  chartPath: string;
  /** docs/scaling.md, whose "Measured: channel vs sharded" section S7 rewrites. */
  scalingDocsPath: string;
  scalingChartPath: string;
  pin: boolean;
  serverCpus: string | undefined;
  clientCpus: string | undefined;
  /** A fresh target for every scenario (clean memory readings), or one per target and repetition. */
  restartPerScenario: boolean;
  channel: string;
  /** Re-render the reports of an earlier run (its .json) instead of measuring. */
  fromResults: string | undefined;
  /** Where the gateway targets write a V8 CPU profile each (`node --cpu-prof`); off when unset. */
  cpuProfDir: string | undefined;
}

function envName(flag: string): string {
  return `BENCH_${flag.toUpperCase().replaceAll('-', '_')}`;
}

export function helpText(): string {
  const sizes = Object.entries(SIZES)
    .map(
      ([name, size]) =>
        `  --${name.padEnd(20)} ${size.help} (default ${size.full}, smoke ${size.smoke}; ${envName(name)})`,
    )
    .join('\n');
  return `Usage: npm run bench -- [options]

Starts its own redis-server on a free loopback port, then each target in turn, and runs the
scenarios against it. Writes bench/results/<timestamp>.{json,md,svg}; a full run also rewrites the
results section of docs/benchmarks.md and docs/benchmarks.svg (S7: its section of docs/scaling.md
and docs/scaling-channel-vs-sharded.svg).

  --smoke                 tiny sizes, one repetition, one target process per target, no docs
  --targets LIST          comma-separated: ${TARGET_NAMES.join(', ')} (default: all; nchan only if installed;
                          gateway-sse, the gateway with clients over SSE, runs S2 and S3 only)
  --scenarios LIST        comma-separated: ${SCENARIO_IDS.join(', ')} (default: ${DEFAULT_SCENARIOS.join(', ')};
                          S7, N gateways x K shards in channel and sharded mode, runs when named)
  --gateway PATH          the built gateway (default dist/main.js; BENCH_GATEWAY)
  --results-dir DIR       where the run's records go (default bench/results; BENCH_RESULTS_DIR)
  --docs / --no-docs      rewrite the docs' results sections and charts (default: yes, not in smoke)
  --no-pin                do not pin processes to CPUs with taskset
  --server-cpus LIST      taskset CPU list of the target (default 1)
  --client-cpus LIST      CPU list of the load generator, publisher and redis-server (default 0, or 0,2-N)
  --restart-per-scenario / --no-restart-per-scenario
                          a fresh target process per scenario (default: yes, not in smoke)
  --from-results FILE     measure nothing: write the reports (and docs, with --docs) of FILE again
  --cpu-prof DIR          run the gateway targets under node --cpu-prof, one .cpuprofile per start
                          in DIR; they are then stopped with SIGTERM, so that the profile is written
  --help

Sizes:
${sizes}
`;
}

function list<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of items) {
    if (!allowed.includes(item as T)) {
      throw new Error(`unknown ${what} "${item}"; expected some of ${allowed.join(', ')}`);
    }
  }
  return items as T[];
}

export function parseBenchOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const sizeOptions = Object.fromEntries(
    Object.keys(SIZES).map((name) => [name, { type: 'string' as const }]),
  );
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowNegative: true,
    options: {
      ...sizeOptions,
      smoke: { type: 'boolean', default: false },
      targets: { type: 'string' },
      scenarios: { type: 'string' },
      gateway: { type: 'string' },
      'results-dir': { type: 'string' },
      docs: { type: 'boolean' },
      pin: { type: 'boolean', default: true },
      'server-cpus': { type: 'string' },
      'client-cpus': { type: 'string' },
      'restart-per-scenario': { type: 'boolean' },
      'from-results': { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const smoke = values.smoke === true || env.BENCH_SMOKE === '1';
  const byName = values as Record<string, string | boolean | undefined>;

  let changed = false;
  let larger = false;
  const sizes = {} as Sizes;
  for (const [name, size] of Object.entries(SIZES) as [SizeName, (typeof SIZES)[SizeName]][]) {
    const raw = byName[name] ?? env[envName(name)];
    const value = raw === undefined || raw === '' ? (smoke ? size.smoke : size.full) : Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new Error(`--${name} must be a positive number, got "${String(raw)}"`);
    }
    if (value !== size.full) changed = true;
    if (value > size.full) larger = true;
    sizes[name] = value;
  }
  const counts = [
    'reps',
    'workers',
    's7-instances',
    's7-shards',
    's7-tasks',
    's7-subscribers',
    's7-steps',
  ] as const;
  for (const name of counts) sizes[name] = Math.max(1, Math.round(sizes[name]));

  const installed = defaultTargets();
  const targets = list(
    values.targets ?? env.BENCH_TARGETS ?? installed.join(','),
    TARGET_NAMES,
    'target',
  );
  const scenarios = list(
    values.scenarios ?? env.BENCH_SCENARIOS ?? DEFAULT_SCENARIOS.join(','),
    SCENARIO_IDS,
    'scenario',
  );
  if (scenarios.includes('S7') && !targets.includes('gateway')) {
    throw new Error('S7 measures the gateway only: add gateway to --targets');
  }
  const complete =
    installed.every((name) => targets.includes(name)) &&
    DEFAULT_SCENARIOS.every((id) => scenarios.includes(id));
  const label = smoke
    ? 'smoke'
    : !changed && complete
      ? 'full'
      : !larger && complete
        ? 'reduced'
        : 'custom';
  return {
    label,
    sizes,
    targets,
    scenarios,
    gatewayMain: resolve(values.gateway ?? env.BENCH_GATEWAY ?? 'dist/main.js'),
    resultsDir: resolve(values['results-dir'] ?? env.BENCH_RESULTS_DIR ?? 'bench/results'),
    writeDocs: values.docs ?? !smoke,
    docsPath: resolve('docs/benchmarks.md'),
    chartPath: resolve('docs/benchmarks.svg'),
    scalingDocsPath: resolve('docs/scaling.md'),
    scalingChartPath: resolve('docs/scaling-channel-vs-sharded.svg'),
    pin: values.pin !== false && env.BENCH_PIN !== '0',
    serverCpus: values['server-cpus'] ?? env.BENCH_SERVER_CPUS,
    clientCpus: values['client-cpus'] ?? env.BENCH_CLIENT_CPUS,
    restartPerScenario: values['restart-per-scenario'] ?? !smoke,
    channel: 'task_status_updates',
    fromResults: values['from-results'],
    cpuProfDir:
      values['cpu-prof'] === undefined || values['cpu-prof'] === ''
        ? undefined
        : resolve(values['cpu-prof']),
  };
}
