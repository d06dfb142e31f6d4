import type { TargetScenarioId } from './bench-options.js';
import type { RunRecord } from './run-record.js';

/** Issue 12's goal: over SSE at least this fraction of the WebSocket figures. */
export const SSE_GOAL = 0.8;

interface Compared {
  scenario: TargetScenarioId;
  key: string;
  label: string;
  better: 'higher' | 'lower';
}

/** The figures compared, S2's throughput and CPU and S3's latency; each is judged. */
const COMPARED: readonly Compared[] = [
  { scenario: 'S2', key: 'deliveredPerSec', label: 'S2 frames delivered/s', better: 'higher' },
  {
    scenario: 'S2',
    key: 'serverCpuMsPer1kFrames',
    label: 'S2 gateway CPU per 1,000 frames (ms)',
    better: 'lower',
  },
  { scenario: 'S3', key: 'latencyP99Ms', label: 'S3 latency p99 (ms)', better: 'lower' },
  { scenario: 'S3', key: 'latencyP50Ms', label: 'S3 latency p50 (ms)', better: 'lower' },
];

export interface SseComparisonRow {
  label: string;
  better: 'higher' | 'lower';
  webSocket: number | undefined;
  sse: number | undefined;
  /** SSE ÷ WebSocket, as measured. */
  ratio: number | undefined;
  /**
   * How SSE does relative to WebSocket, higher is better: the ratio for a figure where higher is
   * better, its inverse (WebSocket ÷ SSE) where lower is.
   */
  relative: number | undefined;
  /** relative ≥ SSE_GOAL; undefined when either was not measured. */
  met: boolean | undefined;
}

function finite(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value > 0;
}

/** The comparison when the run measured both `gateway` and `gateway-sse`, else undefined. */
export function sseComparison(run: RunRecord): SseComparisonRow[] | undefined {
  const median = (scenario: TargetScenarioId, target: string, key: string): number | undefined =>
    run.cells.find((cell) => cell.scenario === scenario && cell.target === target)?.median[key];
  const rows = COMPARED.map(({ scenario, key, label, better }): SseComparisonRow => {
    const webSocket = median(scenario, 'gateway', key);
    const sse = median(scenario, 'gateway-sse', key);
    const ratio = finite(webSocket) && finite(sse) ? sse / webSocket : undefined;
    const relative = ratio === undefined ? undefined : better === 'higher' ? ratio : 1 / ratio;
    return {
      label,
      better,
      webSocket,
      sse,
      ratio,
      relative,
      met: relative === undefined ? undefined : relative >= SSE_GOAL,
    };
  });
  return rows.some((row) => row.ratio !== undefined) ? rows : undefined;
}
