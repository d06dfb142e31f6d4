import type { BenchOptions, ScenarioId } from './bench-options.js';
import type { CpuPinning } from './cpu-pinning.js';
import type { MachineInfo } from './machine-info.js';
import type { ScenarioMeasurement } from './scenarios.js';
import type { TargetConfiguration } from './target-configuration.js';
import type { TargetName } from './target-process.js';

/** One scenario against one target: every repetition and the medians. */
export interface CellRecord {
  scenario: ScenarioId;
  target: TargetName;
  runs: ScenarioMeasurement[];
  /** Median of each metric over the repetitions. */
  median: Record<string, number>;
  /** Frames lost, summed over the repetitions (undelivered ones included when not drained). */
  lost: number;
  /** Every delivery check of every repetition passed. */
  complete: boolean;
  loadGeneratorSaturated: boolean;
  problems: string[];
}

/** What bench/results/<timestamp>.json holds. */
export interface RunRecord {
  schema: 'task-status-gateway-bench/1';
  label: BenchOptions['label'];
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  loadAverage: { start: number[]; end: number[] };
  pinning: CpuPinning;
  sizes: BenchOptions['sizes'];
  /** `configuration`: how each was started (absent in records from before it was kept). */
  targets: { name: TargetName; description: string; configuration?: TargetConfiguration }[];
  skipped: { target: string; reason: string }[];
  restartPerScenario: boolean;
  jsonParse: { nsPerParse: number[]; medianNsPerParse: number; messageBytes: number };
  cells: CellRecord[];
}

export function median(values: number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function cellRecord(
  scenario: ScenarioId,
  target: TargetName,
  runs: ScenarioMeasurement[],
): CellRecord {
  const names = new Set(runs.flatMap((run) => Object.keys(run.metrics)));
  const medians: Record<string, number> = {};
  for (const name of names) medians[name] = median(runs.map((run) => run.metrics[name] ?? NaN));
  return {
    scenario,
    target,
    runs,
    median: medians,
    lost: runs.reduce((sum, run) => sum + (run.delivery?.lost ?? 0), 0),
    complete: runs.every((run) => run.problems.length === 0),
    loadGeneratorSaturated: runs.some((run) => run.loadGenerator.saturated),
    problems: runs.flatMap((run, index) =>
      run.problems.map((problem) => (runs.length > 1 ? `rep ${index + 1}: ${problem}` : problem)),
    ),
  };
}
