import type { ScenarioId } from './bench-options.js';
import { fanOutMarkdown, fanOutOf } from './fan-out-report.js';
import type { CellRecord, RunRecord } from './run-record.js';
import { SSE_GOAL, sseComparison } from './sse-comparison.js';
import type { TargetName } from './target-process.js';

export interface MetricSpec {
  key: string;
  label: string;
  better?: 'higher' | 'lower';
  /** The title of its panel in the chart; metrics without one are not charted. */
  chart?: string;
  /** `met`: a criterion's outcome, 1 (met) or 0 (not met), shown as yes / no; `count`: whole. */
  format?: 'met' | 'count';
}

/** The figures shown per scenario, in order; the first of each is its headline. */
export const METRICS: Record<ScenarioId, MetricSpec[]> = {
  S1: [
    {
      key: 'rssPerConnectionKiB',
      label: 'RSS per idle connection (KiB)',
      better: 'lower',
      chart: 'S1 RSS per idle connection (KiB)',
    },
    {
      key: 'connectPerSec',
      label: 'connect + subscribe rate (connections/s)',
      better: 'higher',
      chart: 'S1 connections opened/s',
    },
    { key: 'rssAfterMiB', label: 'RSS with every connection open (MiB)', better: 'lower' },
    { key: 'serverCpuPerConnectionUs', label: 'target CPU per connection (µs)', better: 'lower' },
  ],
  S2: [
    {
      key: 'deliveredPerSec',
      label: 'frames delivered/s',
      better: 'higher',
      chart: 'S2 frames delivered/s',
    },
    {
      key: 'serverCpuMsPer1kFrames',
      label: 'target CPU per 1,000 frames (ms)',
      better: 'lower',
      chart: 'S2 CPU ms per 1,000 frames',
    },
    { key: 'serverCpuCores', label: 'target CPU (cores)' },
    { key: 'updatesPerSec', label: 'updates published/s' },
    { key: 'latencyP50Ms', label: 'latency p50 (ms)' },
    { key: 'latencyP99Ms', label: 'latency p99 (ms)' },
  ],
  S3: [
    {
      key: 'latencyP99Ms',
      label: 'latency p99 (ms)',
      better: 'lower',
      chart: 'S3 latency p99 (ms)',
    },
    {
      key: 'latencyP50Ms',
      label: 'latency p50 (ms)',
      better: 'lower',
      chart: 'S3 latency p50 (ms)',
    },
    { key: 'latencyMaxMs', label: 'latency max (ms)', better: 'lower' },
    { key: 'deliveredPerSec', label: 'frames delivered/s' },
    { key: 'serverCpuCores', label: 'target CPU (cores)', better: 'lower' },
  ],
  S4: [
    {
      key: 'deliveredPerSec',
      label: 'frames delivered/s (first publish to last frame)',
      better: 'higher',
      chart: 'S4 frames delivered/s',
    },
    {
      key: 'peakRssMiB',
      label: 'target peak RSS (MiB)',
      better: 'lower',
      chart: 'S4 peak RSS (MiB)',
    },
    { key: 'deliveredPerSecWhilePublishing', label: 'frames delivered/s while publishing' },
    { key: 'offeredPerSec', label: 'frames offered/s' },
    { key: 'drainSeconds', label: 'drain after publishing (s)' },
    { key: 'latencyP99Ms', label: 'latency p99 (ms)' },
  ],
  S5: [
    {
      key: 'cpuPerUpdateUs',
      label: 'target CPU per irrelevant update (µs)',
      better: 'lower',
      chart: 'S5 CPU µs per irrelevant update',
    },
    { key: 'cpuPerUpdateOverJsonParse', label: '… ÷ one JSON.parse of it', better: 'lower' },
    {
      key: 'cpuAddedPerUpdateUs',
      label: 'target CPU an irrelevant update adds to the idle instance (µs)',
      better: 'lower',
    },
    { key: 'cpuAddedPerUpdateOverJsonParse', label: '… ÷ one JSON.parse of it', better: 'lower' },
    { key: 'serverCpuCores', label: 'target CPU (cores)', better: 'lower' },
    { key: 'idleCpuCores', label: 'target CPU with no traffic (cores)', better: 'lower' },
    { key: 'updatesPerSec', label: 'updates published/s' },
  ],
  S6: [
    {
      key: 'latencyP99RatioBA',
      label: "readers' latency p99, with ÷ without the slow clients",
      better: 'lower',
      chart: "S6 readers' p99, with ÷ without slow clients",
    },
    {
      key: 'peakRssMiB',
      label: 'target peak RSS with the slow clients (MiB)',
      better: 'lower',
      chart: 'S6 peak RSS with slow clients (MiB)',
    },
    { key: 'latencyP99MsA', label: "readers' latency p99 without the slow clients (ms)" },
    { key: 'latencyP99MsB', label: "readers' latency p99 with the slow clients (ms)" },
    { key: 'p99WithinTwiceMet', label: "readers' p99 with ≤ 2× without", format: 'met' },
    {
      key: 'rssBoundMiB',
      label: 'RSS bound: RSS before them + slow clients × WS_SLOW_CLIENT_MAX_BYTES (MiB)',
    },
    { key: 'rssUnderBoundMet', label: 'peak RSS under the bound', format: 'met' },
    { key: 'rssBeforeSlowMiB', label: 'RSS before the slow clients (MiB)' },
    { key: 'rssPerSlowClientKiB', label: 'RSS growth per slow client, to the peak (KiB)' },
    {
      key: 'rssGrowthMiBPerSecB',
      label: 'RSS growth in the second half of the window with slow clients (MiB/s)',
    },
    { key: 'latencyP50MsA', label: "readers' latency p50 without the slow clients (ms)" },
    { key: 'latencyP50MsB', label: "readers' latency p50 with them (ms)" },
    { key: 'latencyMaxMsA', label: "readers' latency max without the slow clients (ms)" },
    { key: 'latencyMaxMsB', label: "readers' latency max with them (ms)" },
    {
      key: 'latencyP99MsFill',
      label: "readers' latency p99 while the slow clients' buffers filled (ms)",
    },
    { key: 'deliveredPerSecB', label: "readers' frames/s with the slow clients" },
    { key: 'serverCpuCoresA', label: 'target CPU without the slow clients (cores)' },
    { key: 'serverCpuCoresB', label: 'target CPU with them (cores)' },
    { key: 'slowClients', label: 'slow clients connected', format: 'count' },
    {
      key: 'slowClosedByTarget',
      label: 'slow clients the target closed (descriptors dropped)',
      format: 'count',
    },
    {
      key: 'gatewaySlowConsumers',
      label: 'gateway: sockets held back (slow_consumers.detected)',
      format: 'count',
    },
    {
      key: 'gatewaySlowHeldAtWindow',
      label: 'gateway: of them, held back when the window began',
      format: 'count',
    },
    { key: 'gatewayFramesCoalesced', label: 'gateway: frames coalesced', format: 'count' },
    {
      key: 'gatewayFramesDropped',
      label: 'gateway: held frames dropped at the close',
      format: 'count',
    },
    { key: 'gatewaySlowConsumerCloses', label: 'gateway: closed with 1013', format: 'count' },
    {
      key: 'gatewayHeartbeatTerminations',
      label: 'gateway: heartbeat terminations',
      format: 'count',
    },
    {
      key: 'kernelTcpPeakMiB',
      label: "the machine's TCP socket memory, peak with the slow clients (MiB)",
    },
    { key: 'kernelTcpPressureMiB', label: 'its pressure threshold, tcp_mem[1] (MiB)' },
    {
      key: 'kernelTcpPressures',
      label: 'times the kernel entered TCP memory pressure',
      format: 'count',
    },
  ],
  // S7's own tables (fan-out-report.ts) show every step and instance; these are its headlines.
  S7: [
    {
      key: 'shardedMaxReceivedOverRouted',
      label: 'sharded: received ÷ routed, worst instance and step',
      better: 'lower',
    },
    {
      key: 'channelSaturatedAt',
      label: 'offered rate at which channel mode saturated (updates/s)',
    },
    { key: 'offeredPerSec', label: 'offered rate of the last step (updates/s)' },
    {
      key: 'shardedLosslessAtLastStep',
      label: 'sharded: nothing lost at the last step',
      format: 'met',
    },
    {
      key: 'channelReceivedPerInstancePerSec',
      label: 'channel: received/s per instance, last step',
    },
    {
      key: 'shardedReceivedPerInstancePerSec',
      label: 'sharded: received/s per instance, last step',
    },
    { key: 'channelRedisCpuUsPerUpdate', label: 'channel: Redis CPU per update, last step (µs)' },
    { key: 'shardedRedisCpuUsPerUpdate', label: 'sharded: Redis CPU per update, last step (µs)' },
    { key: 'channelLost', label: 'channel: frames lost, last step', format: 'count' },
    { key: 'shardedLost', label: 'sharded: frames lost, last step', format: 'count' },
  ],
};

export const SCENARIO_TITLES: Record<ScenarioId, string> = {
  S1: 'S1 idle connections',
  S2: 'S2 fan-out',
  S3: 'S3 latency',
  S4: 'S4 hot task (overload)',
  S5: 'S5 irrelevant traffic',
  S6: 'S6 slow consumers',
  S7: 'S7 fan-out across instances (channel vs sharded)',
};

export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return undefined;
  }
  return a / b;
}

function formatMet(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value >= 1 ? 'yes' : value <= 0 ? '**no**' : 'in some repetitions';
}

function formatRatio(value: number | undefined): string {
  return value === undefined ? '–' : `${value.toFixed(2)}×`;
}

function cellOf(run: RunRecord, scenario: ScenarioId, target: TargetName): CellRecord | undefined {
  return run.cells.find((cell) => cell.scenario === scenario && cell.target === target);
}

function deliveryText(cell: CellRecord | undefined): string {
  if (!cell) return '–';
  const delivery = cell.runs.map((run) => run.delivery).filter((d) => d !== undefined);
  if (delivery.length === 0) return '–';
  const delivered = delivery.reduce((sum, d) => sum + d.delivered, 0);
  const expected = delivery.reduce((sum, d) => sum + d.expected, 0);
  const undrained = delivery.some((d) => !d.drained);
  if (expected === 0)
    return delivered === 0 ? 'none expected, none received' : `${delivered} unexpected`;
  const skipped = delivery.reduce((sum, d) => sum + (d.skipped ?? 0), 0);
  const wrongTask = delivery.reduce((sum, d) => sum + (d.wrongTask ?? 0), 0);
  const verdict = undrained
    ? 'not drained'
    : [
        cell.lost > 0 ? `**${cell.lost.toLocaleString('en-US')} lost**` : 'none lost',
        ...(skipped > 0 ? [`${skipped.toLocaleString('en-US')} coalesced`] : []),
        ...(wrongTask > 0 ? [`**${wrongTask.toLocaleString('en-US')} of another task**`] : []),
      ].join(', ');
  return `${delivered.toLocaleString('en-US')} / ${expected.toLocaleString('en-US')}, ${verdict}`;
}

/**
 * S4's account of the frames not received: how many the target itself counted as coalesced (and
 * so excused), and how many are lost. Targets that count no coalescing have every gap as a loss.
 */
function missingText(cell: CellRecord | undefined): string {
  const delivery = cell?.runs.map((run) => run.delivery).filter((d) => d !== undefined) ?? [];
  if (!cell || delivery.length === 0) return '–';
  const missing = delivery.reduce((sum, d) => sum + Math.max(0, d.expected - d.delivered), 0);
  const sum = (pick: (d: (typeof delivery)[number]) => number | undefined): number =>
    delivery.reduce((total, d) => total + (pick(d) ?? 0), 0);
  const counts = delivery.every((d) => d.coalescedByTarget !== undefined);
  const figures = [`${missing.toLocaleString('en-US')} missing`];
  if (counts) {
    figures.push(
      `${sum((d) => d.coalescedByTarget).toLocaleString('en-US')} counted coalesced by the target`,
      `${sum((d) => d.droppedByTarget).toLocaleString('en-US')} dropped`,
    );
  } else if (sum((d) => d.skipped) > 0) {
    // A record written before the target's count was read: the gap was excused unchecked.
    figures.push(`${sum((d) => d.skipped).toLocaleString('en-US')} excused without a count`);
  } else {
    figures.push('no coalescing count: every gap is a loss');
  }
  figures.push(`${cell.lost > 0 ? `**${cell.lost.toLocaleString('en-US')}**` : '0'} lost`);
  return figures.join(', ');
}

function scenarioTable(run: RunRecord, scenario: ScenarioId): string {
  // Only the targets measured in it (gateway-sse runs S2 and S3 only).
  const targets = run.targets
    .map((target) => target.name)
    .filter((name) => cellOf(run, scenario, name) !== undefined);
  const withBaseline = targets.includes('bare-relay');
  const others = targets.filter((name) => name !== 'bare-relay');
  const header = [
    'metric',
    ...targets,
    ...(withBaseline ? others.map((name) => `${name} ÷ bare-relay`) : []),
  ];
  const rows = METRICS[scenario].map((metric) => {
    const values = targets.map((name) => cellOf(run, scenario, name)?.median[metric.key]);
    const baseline = cellOf(run, scenario, 'bare-relay')?.median[metric.key];
    const arrow = metric.better === 'higher' ? ' ↑' : metric.better === 'lower' ? ' ↓' : '';
    return [
      `${metric.label}${arrow}`,
      ...values.map((value) =>
        metric.format === 'met'
          ? formatMet(value)
          : metric.format === 'count' && value !== undefined && Number.isFinite(value)
            ? Math.round(value).toLocaleString('en-US')
            : formatNumber(value),
      ),
      ...(withBaseline
        ? others.map((name) =>
            metric.format === 'met'
              ? ''
              : formatRatio(ratio(cellOf(run, scenario, name)?.median[metric.key], baseline)),
          )
        : []),
    ];
  });
  rows.push([
    'frames delivered / expected (all repetitions)',
    ...targets.map((name) => deliveryText(cellOf(run, scenario, name))),
    ...(withBaseline ? others.map(() => '') : []),
  ]);
  if (scenario === 'S4') {
    rows.push([
      'frames missing: coalesced as the target counted them (excused), dropped, lost',
      ...targets.map((name) => missingText(cellOf(run, scenario, name))),
      ...(withBaseline ? others.map(() => '') : []),
    ]);
  }
  rows.push([
    'load generator saturated (its share of the client CPUs; their total use)',
    ...targets.map((name) => {
      const cell = cellOf(run, scenario, name);
      if (!cell) return '–';
      const share = Math.max(...cell.runs.map((r) => r.loadGenerator.share));
      const busy = Math.max(...cell.runs.map((r) => r.loadGenerator.clientCpusBusy));
      const verdict = cell.loadGeneratorSaturated ? '**yes**' : 'no';
      return `${verdict} (own ${Math.round(share * 100)} %, CPU ${Math.round(busy * 100)} % busy)`;
    }),
    ...(withBaseline ? others.map(() => '') : []),
  ]);
  rows.push([
    "other processes' load on the target's CPU (cores)",
    ...targets.map((name) => {
      const cell = cellOf(run, scenario, name);
      return cell
        ? formatNumber(Math.max(...cell.runs.map((r) => r.loadGenerator.othersOnTargetCpus)))
        : '–';
    }),
    ...(withBaseline ? others.map(() => '') : []),
  ]);
  return markdownTable(header, rows);
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

interface Goal {
  goal: string;
  measured: string;
  met: boolean | undefined;
}

/**
 * The gateway against its performance goals (issue 13's targets, and issue 4's S6), from this
 * run's medians; S4 from every repetition.
 */
export function goals(run: RunRecord): Goal[] {
  const value = (scenario: ScenarioId, target: TargetName, key: string): number | undefined =>
    cellOf(run, scenario, target)?.median[key];
  const versus = (
    scenario: ScenarioId,
    key: string,
    other: TargetName,
    limit: number,
    atMost: boolean,
    goal: string,
  ): Goal => {
    const r = ratio(value(scenario, 'gateway', key), value(scenario, other, key));
    return {
      goal,
      measured: r === undefined ? 'not measured' : formatRatio(r),
      met: r === undefined ? undefined : atMost ? r <= limit : r >= limit,
    };
  };
  const result: Goal[] = [
    versus(
      'S1',
      'rssPerConnectionKiB',
      'bare-relay',
      1.0,
      true,
      'S1 RSS per idle connection ≤ 1.0× bare-relay',
    ),
    versus('S2', 'deliveredPerSec', 'bare-relay', 1.0, false, 'S2 delivered/s ≥ 1.0× bare-relay'),
    versus('S2', 'deliveredPerSec', 'socketio', 2, false, 'S2 delivered/s ≥ 2× socketio'),
    versus(
      'S2',
      'serverCpuMsPer1kFrames',
      'bare-relay',
      1.1,
      true,
      'S2 CPU per 1,000 frames ≤ 1.1× bare-relay',
    ),
    versus('S3', 'latencyP99Ms', 'bare-relay', 1.1, true, 'S3 p99 latency ≤ 1.1× bare-relay'),
  ];
  // S4 must hold in every repetition, not only in the medians: repetition i of the gateway
  // against repetition i of nchan (they run in turn, under the same conditions).
  const perRep = (target: TargetName, key: string): number[] =>
    cellOf(run, 'S4', target)?.runs.map((r) => r.metrics[key] ?? Number.NaN) ?? [];
  const gatewayS4 = perRep('gateway', 'deliveredPerSec');
  const nchanS4 = perRep('nchan', 'deliveredPerSec');
  const s4Goal = 'S4 delivered/s ≥ 1.5× nchan in every repetition';
  if (gatewayS4.length === 0) {
    result.push({ goal: s4Goal, measured: 'not measured', met: undefined });
  } else if (nchanS4.length === 0) {
    // nchan is optional: without it, bare-relay is the nearest yardstick to show.
    result.push({
      goal: s4Goal,
      measured: `nchan not measured; ${formatRatio(ratio(value('S4', 'gateway', 'deliveredPerSec'), value('S4', 'bare-relay', 'deliveredPerSec')))} bare-relay`,
      met: undefined,
    });
  } else {
    const ratios = gatewayS4.map((g, i) => g / (nchanS4[i] ?? Number.NaN));
    const lowest = Math.min(...ratios);
    result.push({
      goal: s4Goal,
      measured: `${ratios.map((r) => formatRatio(r)).join(', ')} (lowest ${formatRatio(lowest)})`,
      met: ratios.length === nchanS4.length && Number.isFinite(lowest) && lowest >= 1.5,
    });
  }
  const peaks = perRep('gateway', 'peakRssMiB');
  const peak = peaks.length === 0 ? undefined : Math.max(...peaks);
  result.push({
    goal: 'S4 gateway RSS < 300 MiB in every repetition',
    measured: peak === undefined ? 'not measured' : `${formatNumber(peak)} MiB, the highest peak`,
    met: peak === undefined ? undefined : peak < 300,
  });
  const s5 = value('S5', 'gateway', 'cpuPerUpdateOverJsonParse');
  const s5Added = value('S5', 'gateway', 'cpuAddedPerUpdateOverJsonParse');
  result.push({
    goal: 'S5 CPU per irrelevant update ≤ 0.5× one JSON.parse',
    measured:
      s5 === undefined
        ? 'not measured'
        : formatRatio(s5) +
          (s5Added === undefined
            ? ''
            : ` (above the idle instance's own CPU: ${formatRatio(s5Added)})`),
    met: s5 === undefined ? undefined : s5 <= 0.5,
  });
  const s6Ratio = value('S6', 'gateway', 'latencyP99RatioBA');
  result.push({
    goal: "S6 readers' p99 with slow clients ≤ 2× without them (issue 4)",
    measured:
      s6Ratio === undefined
        ? 'not measured'
        : `${formatRatio(s6Ratio)} (${formatNumber(value('S6', 'gateway', 'latencyP99MsA'))} → ` +
          `${formatNumber(value('S6', 'gateway', 'latencyP99MsB'))} ms)`,
    met: s6Ratio === undefined || !Number.isFinite(s6Ratio) ? undefined : s6Ratio <= 2,
  });
  const s6Peak = value('S6', 'gateway', 'peakRssMiB');
  const s6Bound = value('S6', 'gateway', 'rssBoundMiB');
  result.push({
    goal: 'S6 gateway RSS with slow clients under its bound (issue 4)',
    measured:
      s6Peak === undefined || s6Bound === undefined
        ? 'not measured'
        : `${formatNumber(s6Peak)} MiB peak, bound ${formatNumber(s6Bound)} MiB`,
    met: s6Peak === undefined || s6Bound === undefined ? undefined : s6Peak <= s6Bound,
  });
  const gatewayCells = run.cells.filter((cell) => cell.target === 'gateway');
  const lossless = gatewayCells.every((cell) => cell.complete);
  result.push({
    goal: 'nothing lost, every check passed (gateway)',
    measured: lossless
      ? 'yes'
      : gatewayCells
          .flatMap((cell) => cell.problems.map((p) => `${cell.scenario}: ${p}`))
          .join('; '),
    met: gatewayCells.length === 0 ? undefined : lossless,
  });
  return result;
}

/** Issue 12's table: the gateway over SSE beside the same gateway over WebSocket, judged. */
function sseComparisonMarkdown(run: RunRecord): string | undefined {
  const rows = sseComparison(run);
  if (rows === undefined) return undefined;
  const goal = formatRatio(SSE_GOAL);
  const table = markdownTable(
    [
      'figure',
      'WebSocket (`gateway`)',
      'SSE (`gateway-sse`)',
      'SSE ÷ WebSocket',
      `SSE as good as WebSocket (goal ≥ ${goal})`,
      '',
    ],
    rows.map((row) => [
      `${row.label}${row.better === 'higher' ? ' ↑' : ' ↓'}`,
      formatNumber(row.webSocket),
      formatNumber(row.sse),
      formatRatio(row.ratio),
      formatRatio(row.relative),
      row.met === undefined ? 'n/a' : row.met ? 'met' : '**not met**',
    ]),
  );
  return (
    `#### SSE beside WebSocket (issue 12)\n\n` +
    'The same gateway process and configuration, its clients over Server-Sent Events ' +
    '(`gateway-sse`) or over WebSocket (`gateway`). "As good as": SSE ÷ WebSocket where higher ' +
    `is better, WebSocket ÷ SSE where lower is; the goal is ${goal} on each figure.\n\n${table}`
  );
}

/** Whether the run measured any of S1–S6, the scenarios run against one target at a time. */
export function hasTargetScenarios(run: RunRecord): boolean {
  return run.cells.some((cell) => cell.scenario !== 'S7');
}

/**
 * The markdown report of one run: tables per scenario and the goals. `fanOutChartFile`: S7's
 * chart, shown in its section.
 */
export function renderMarkdown(
  run: RunRecord,
  chartFile: string | undefined,
  fanOutChartFile?: string,
): string {
  const parts: string[] = [];
  if (chartFile && hasTargetScenarios(run)) {
    parts.push(`![Benchmark results, medians per target](${chartFile})`);
  }
  for (const scenario of Object.keys(METRICS) as ScenarioId[]) {
    if (!run.cells.some((cell) => cell.scenario === scenario)) continue;
    const fanOut = scenario === 'S7' ? fanOutOf(run) : undefined;
    const body = fanOut ? fanOutMarkdown(fanOut, fanOutChartFile) : scenarioTable(run, scenario);
    parts.push(`#### ${SCENARIO_TITLES[scenario]}\n\n${body}`);
  }
  const sse = sseComparisonMarkdown(run);
  if (sse !== undefined) parts.push(sse);
  if (hasTargetScenarios(run)) {
    const goalRows = goals(run).map((g) => [
      g.goal,
      g.measured,
      g.met === undefined ? 'n/a' : g.met ? 'met' : '**not met**',
    ]);
    parts.push(
      `#### The gateway against its goals\n\n${markdownTable(['goal', 'measured', ''], goalRows)}`,
    );
  }
  const problems = run.cells.flatMap((cell) =>
    cell.problems.map((problem) => `- ${cell.scenario} ${cell.target}: ${problem}`),
  );
  const notes = run.cells.flatMap((cell) =>
    [...new Set(cell.runs.flatMap((r) => r.notes))].map(
      (note) => `- ${cell.scenario} ${cell.target}: ${note}`,
    ),
  );
  if (problems.length > 0) parts.push(`#### Problems\n\n${problems.join('\n')}`);
  if (notes.length > 0) parts.push(`#### Notes\n\n${notes.join('\n')}`);
  return parts.join('\n\n');
}
