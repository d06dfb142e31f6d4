import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { SIZE_DEFAULTS } from './bench-options.js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { FanOutMode, FanOutModeResult, FanOutRecord } from './fan-out-scenario.js';
import { FAN_OUT_MODES } from './fan-out-scenario.js';
import { formatNumber, markdownTable } from './report-markdown.js';
import type { RunRecord } from './run-record.js';
import { shellWord } from './target-configuration.js';

const START =
  '<!-- bench:s7:start (written by npm run bench -- --scenarios S7; edit outside these markers) -->';
const END = '<!-- bench:s7:end -->';
const ROUTED = 'routed: its own tasks (U ÷ N)';
const COLORS: Record<string, string> = {
  channel: '#d62728',
  sharded: '#1f77b4',
  [ROUTED]: '#7f7f7f',
};

/** The S7 record of a run (its first repetition: S7 runs once per run), if it has one. */
export function fanOutOf(run: RunRecord): FanOutRecord | undefined {
  return run.cells.find((cell) => cell.scenario === 'S7')?.runs[0]?.fanOut;
}

function count(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
}

function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}` : '–';
}

function stepRow(result: FanOutModeResult): string[] {
  const routed =
    result.instances.reduce((sum, instance) => sum + instance.routedPerSec, 0) /
    Math.max(1, result.instances.length);
  const maxRatio = Math.max(...result.instances.map((instance) => instance.receivedOverRouted));
  return [
    count(result.targetRate),
    result.mode,
    count(result.offeredPerSec),
    result.instances.map((instance) => count(instance.receivedPerSec)).join(' / '),
    count(routed),
    ratio(maxRatio),
    `${count(result.framesReceived)} / ${count(result.framesExpected)}` +
      (result.lost > 0
        ? `, **${count(result.lost)} lost**`
        : result.drained
          ? ''
          : ', not drained'),
    formatNumber(result.latencyP99Ms),
    formatNumber(result.drainSeconds),
    formatNumber(result.redisCpuUsPerUpdate),
    formatNumber(result.redisCpuCores),
    formatNumber(result.gatewayCpuCores),
    `${Math.round(result.serverCpusBusy * 100)} % / ${Math.round(result.clientCpusBusy * 100)} %`,
    (result.saturated ? `**yes**: ${result.saturation.join('; ')}` : 'no') +
      (result.offeredShort
        ? ` (client side at its limit: ${Math.round((result.offeredPerSec / result.targetRate) * 100)} % of U offered)`
        : ''),
  ];
}

/** The criteria of issue 11, from the record. */
export function fanOutGoals(
  fanOut: FanOutRecord,
): { goal: string; measured: string; met: boolean | undefined }[] {
  const shardedRatios = fanOut.steps.flatMap((step) =>
    step.sharded.instances.map((instance) => instance.receivedOverRouted),
  );
  const worst = Math.max(...shardedRatios.filter(Number.isFinite));
  const saturating = fanOut.steps.find((step) => step.rate === fanOut.channelSaturatedAt);
  const channelAll = fanOut.steps.every(
    (step) =>
      step.channel.instances.reduce((sum, instance) => sum + instance.received, 0) ===
      fanOut.instances * step.channel.published,
  );
  return [
    {
      goal: 'sharded: each instance receives at most 1.1× the updates it routes to its clients',
      measured: Number.isFinite(worst) ? `at most ${worst.toFixed(3)}×` : 'not measured',
      met: Number.isFinite(worst) ? worst <= 1.1 : undefined,
    },
    {
      goal: `an offered load that saturates channel mode at N = ${fanOut.instances} is delivered without loss in sharded mode`,
      measured: saturating
        ? `channel saturated at ${count(saturating.rate)}/s (${saturating.channel.saturation.join('; ')}); ` +
          `sharded at the same load: ${count(saturating.sharded.framesReceived)} / ` +
          `${count(saturating.sharded.framesExpected)} frames, ${count(saturating.sharded.lost)} lost, ` +
          (saturating.sharded.saturated
            ? `saturated too (${saturating.sharded.saturation.join('; ')})`
            : 'not saturated') +
          (saturating.sharded.offeredShort
            ? `; the client side offered only ${count(saturating.sharded.offeredPerSec)}/s`
            : '')
        : `channel mode did not saturate up to ${count(fanOut.steps.at(-1)?.rate ?? 0)}/s (${fanOut.stoppedBecause})`,
      met: saturating ? saturating.sharded.lost === 0 && saturating.sharded.drained : undefined,
    },
    {
      goal: 'channel: every instance receives every update (Σ received = N × published)',
      measured: channelAll ? 'yes, at every step' : '**no**: some instance missed updates',
      met: channelAll,
    },
  ];
}

function configurationTable(fanOut: FanOutRecord): string {
  const code = (text: string): string => `\`${text.replaceAll('|', '\\|')}\``;
  return markdownTable(
    ['mode', 'Redis', 'command (each instance)', 'environment (nothing else inherited)'],
    FAN_OUT_MODES.map((mode) => {
      const c = fanOut.configurations[mode];
      return [
        mode,
        fanOut.redis[mode],
        code(c.command.map(shellWord).join(' ')),
        Object.entries(c.env)
          .map(([key, value]) => code(`${key}=${shellWord(value)}`))
          .join('<br>'),
      ];
    }),
  );
}

/** S7's tables: every step in both modes, then each instance at the last step, then the goals. */
export function fanOutMarkdown(fanOut: FanOutRecord, chartFile: string | undefined): string {
  const parts: string[] = [];
  if (chartFile) parts.push(`![S7: channel vs sharded, per instance and per update](${chartFile})`);
  parts.push(
    `${fanOut.instances} gateway instances per mode, each with ${fanOut.tasksPerInstance * fanOut.subscribersPerTask} ` +
      `clients of its own watching ${fanOut.tasksPerInstance} tasks that no other instance's clients watch ` +
      `(${fanOut.subscribersPerTask} per task); channel mode on ${fanOut.redis.channel}, sharded mode on ` +
      `${fanOut.redis.sharded}, ${fanOut.partitions} partitions. Each step offers the same rate U to both ` +
      `modes (round-robin over every watched task, ${fanOut.payloadBytes}-byte updates, \`publishTaskStatus\`: ` +
      `MULTI SET + PUBLISH or SPUBLISH, pipelined), ${fanOut.warmupS} s of warm-up, then ` +
      `${fanOut.durationS} s measured. A mode is saturated when a frame is lost, or its latency p99 or ` +
      `its drain after publishing passes ${fanOut.lagMs} ms. Stopped: ${fanOut.stoppedBecause}. ` +
      'Redis CPU per update is its whole CPU over the window (INFO cpu, every redis-server of the ' +
      'mode) ÷ the updates published in it; with nothing published the same Redis used ' +
      `${formatNumber(fanOut.redisIdleCores.channel)} (channel) and ` +
      `${formatNumber(fanOut.redisIdleCores.sharded)} (sharded) cores, which weighs on the ` +
      'figure at low rates.',
  );
  parts.push(
    markdownTable(
      [
        'U (updates/s)',
        'mode',
        'offered/s',
        'received from Redis/s, each instance',
        'routed/s per instance',
        'received ÷ routed, worst instance',
        'frames received / expected',
        'p99 latency (ms)',
        'drain (s)',
        'Redis CPU per update (µs)',
        'Redis CPU (cores)',
        'gateways CPU (cores)',
        'gateway CPUs / client CPUs busy',
        'saturated',
      ],
      fanOut.steps.flatMap((step) => [stepRow(step.channel), stepRow(step.sharded)]),
    ),
  );
  const last = fanOut.steps.at(-1);
  if (last) {
    parts.push(
      `Each instance at U = ${count(last.rate)}/s (received, routed and unrouted over the window from ` +
        'its `/ws/stats` counters; received ÷ routed and the frames over the whole step):',
    );
    parts.push(
      markdownTable(
        [
          'mode',
          'instance',
          'received/s',
          'routed/s',
          'unrouted/s',
          'received ÷ routed',
          'frames written/s (gateway)',
          'its clients: received / expected',
          'CPU (cores)',
        ],
        FAN_OUT_MODES.flatMap((mode: FanOutMode) =>
          last[mode].instances.map((instance) => [
            mode,
            String(instance.instance),
            count(instance.receivedPerSec),
            count(instance.routedPerSec),
            count(instance.unroutedPerSec),
            ratio(instance.receivedOverRouted),
            count(instance.framesDeliveredPerSec),
            `${count(instance.framesReceived)} / ${count(instance.framesExpected)}`,
            formatNumber(instance.cpuCores),
          ]),
        ),
      ),
    );
  }
  parts.push(
    markdownTable(
      ['issue 11', 'measured', ''],
      fanOutGoals(fanOut).map((g) => [
        g.goal,
        g.measured,
        g.met === undefined ? 'n/a' : g.met ? 'met' : '**not met**',
      ]),
    ),
  );
  parts.push(
    'How the gateways were started (shipped defaults except the mode settings; `<port>` and ' +
      '`<work dir>` chosen afresh for every instance):',
  );
  parts.push(configurationTable(fanOut));
  return parts.join('\n\n');
}

interface Point {
  rate: number;
  mode: string;
  value: number;
}

/** Three panels against the offered rate: received per instance, Redis CPU per update, p99. */
export async function renderFanOutChartSvg(run: RunRecord, fanOut: FanOutRecord): Promise<string> {
  const received: (Point & { instance: string })[] = [];
  const redisCpu: Point[] = [];
  const latency: (Point & { saturated: string })[] = [];
  for (const step of fanOut.steps) {
    for (const mode of FAN_OUT_MODES) {
      const result = step[mode];
      for (const instance of result.instances) {
        received.push({
          rate: step.rate,
          mode,
          instance: String(instance.instance),
          value: instance.receivedPerSec,
        });
      }
      redisCpu.push({ rate: step.rate, mode, value: result.redisCpuUsPerUpdate });
      latency.push({
        rate: step.rate,
        mode,
        value: result.latencyP99Ms,
        saturated: result.saturated ? 'saturated' : 'kept up',
      });
    }
    received.push({
      rate: step.rate,
      mode: ROUTED,
      instance: 'all',
      value: step.rate / fanOut.instances,
    });
  }
  const domain = Object.keys(COLORS);
  const color = {
    field: 'mode',
    type: 'nominal' as const,
    scale: { domain, range: domain.map((key) => COLORS[key]) },
    legend: {
      title: null,
      orient: 'top' as const,
      direction: 'horizontal' as const,
      labelLimit: 0,
    },
  };
  const x = {
    field: 'rate',
    type: 'quantitative' as const,
    scale: { type: 'log' as const },
    axis: { title: 'offered U (updates/s)', format: ',~r' },
  };
  const panel = (title: string, values: object[], yTitle: string, log: boolean) => ({
    title,
    width: 240,
    height: 180,
    data: { values },
    encoding: {
      x,
      y: {
        field: 'value',
        type: 'quantitative' as const,
        aggregate: 'mean' as const,
        scale: log ? { type: 'log' as const } : { zero: true },
        axis: { title: yTitle, format: ',~r' },
      },
      color,
    },
    layer: [{ mark: { type: 'line' as const, point: true } }],
  });
  const m = run.machine;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `S7: ${fanOut.instances} gateways, channel vs sharded (${fanOut.shards} primaries), ${run.startedAt.slice(0, 10)}`,
      subtitle: [
        `${s7Sizes(run)}, on ${m.cpus} CPUs (${m.cpuModel}), load average ${run.loadAverage.start[0]} at start, ` +
          `${run.loadAverage.end[0]} at end; ${run.pinning.note}`,
      ],
    },
    hconcat: [
      {
        ...panel('received from Redis, per instance', received, 'updates/s', true),
        layer: [
          // The routed rate first and dashed: a sharded line on it hides it, as it should.
          {
            transform: [{ filter: `datum.mode === '${ROUTED}'` }],
            mark: { type: 'line' as const, strokeDash: [5, 3] },
          },
          {
            transform: [{ filter: `datum.mode !== '${ROUTED}'` }],
            mark: { type: 'line' as const },
          },
          {
            transform: [{ filter: `datum.mode !== '${ROUTED}'` }],
            mark: { type: 'point' as const, filled: true },
            encoding: { y: { field: 'value', type: 'quantitative' as const } },
          },
        ],
      },
      panel('Redis CPU per update (all its processes)', redisCpu, 'µs', false),
      {
        ...panel('latency p99, publish to frame', latency, 'ms', true),
        layer: [
          { mark: { type: 'line' as const } },
          {
            mark: { type: 'point' as const, size: 80 },
            encoding: {
              shape: {
                field: 'saturated',
                type: 'nominal' as const,
                scale: { domain: ['kept up', 'saturated'], range: ['circle', 'cross'] },
                legend: { title: null, orient: 'top' as const },
              },
            },
          },
        ],
      },
    ],
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** S7's sizes in this run against their defaults. */
function s7Sizes(run: RunRecord): string {
  const changed = Object.entries(run.sizes).filter(
    ([name, value]) =>
      (name.startsWith('s7-') || ['warmup-s', 'payload-bytes', 'drain-timeout-s'].includes(name)) &&
      SIZE_DEFAULTS[name as keyof typeof SIZE_DEFAULTS] !== value,
  );
  return changed.length === 0
    ? "at S7's default sizes"
    : `with S7's sizes changed: ${changed
        .map(
          ([name, value]) =>
            `\`--${name} ${value}\` (default ${SIZE_DEFAULTS[name as keyof typeof SIZE_DEFAULTS]})`,
        )
        .join(', ')}`;
}

/** The machine, load, pinning and date of the run, for the figures beside them. */
function describeMachine(run: RunRecord, resultsFile: string): string {
  const m = run.machine;
  const busy = run.loadAverage.start[0] >= 1 || run.loadAverage.end[0] >= 1;
  return [
    ...(busy
      ? [
          `> **Measured on a loaded machine** (load average ${run.loadAverage.start[0]} at the start, ` +
            `${run.loadAverage.end[0]} at the end, on ${m.cpus} CPUs, shared with other work): ` +
            'absolute rates are low and noisy; the comparison between the modes, made in the same ' +
            'run step by step, is what the figures show.',
          '',
        ]
      : []),
    `Measured on ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${s7Sizes(run)}. ` +
      `Record: [${resultsFile.split('/').at(-1)}](${resultsFile}).`,
    '',
    markdownTable(
      ['machine', ''],
      [
        ['CPUs (nproc)', String(m.cpus)],
        ['CPU model', m.cpuModel],
        ['memory', `${m.memoryGiB} GiB`],
        ['Node.js', m.node],
        ['kernel', m.kernel],
        ['redis-server', m.redis],
        ['commit', m.commit],
        [
          'load average (1, 5, 15 min) at start / end',
          `${run.loadAverage.start.join(', ')} / ${run.loadAverage.end.join(', ')}`,
        ],
        [
          'CPU pinning',
          `${run.pinning.note} (every gateway on the target CPU, every redis-server on the client CPUs)`,
        ],
      ],
    ),
  ].join('\n');
}

/**
 * Rewrites the generated part of docs/scaling.md's "Measured: channel vs sharded" section
 * (between its markers; the text around them is written by hand) and the chart beside it.
 */
export function writeScalingDocs(
  run: RunRecord,
  fanOut: FanOutRecord,
  docsPath: string,
  chartPath: string,
  chartSvg: string,
  resultsFile: string,
): void {
  writeFileSync(chartPath, chartSvg);
  const docsDir = dirname(docsPath);
  const generated = [
    START,
    describeMachine(run, relative(docsDir, resultsFile)),
    fanOutMarkdown(fanOut, relative(docsDir, chartPath)),
    END,
  ].join('\n\n');
  const current = existsSync(docsPath) ? readFileSync(docsPath, 'utf8') : '# Scaling\n';
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${generated}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n## Measured: channel vs sharded\n\n${generated}\n`;
  writeFileSync(docsPath, next);
}
