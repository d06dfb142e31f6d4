import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  redis: string;
  commit: string;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']) !== '';
  const commit = run('git', ['rev-parse', '--short', 'HEAD']);
  return {
    // Not availableParallelism(): this process may already be pinned to a subset.
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `Linux ${release()}`,
    redis: run('redis-server', ['--version']).replace(/^Redis server /, ''),
    commit:
      commit === 'unknown' ? commit : `${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
  };
}

/** 1, 5 and 15 minute load averages, rounded. */
export function loadAverage(): number[] {
  return loadavg().map((value) => Math.round(value * 100) / 100);
}
