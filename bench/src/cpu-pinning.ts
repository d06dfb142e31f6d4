import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Where each process of a run is pinned (taskset CPU lists), or why nothing is. */
export interface CpuPinning {
  enabled: boolean;
  /** The target under test. */
  server?: string;
  /** The coordinator (publisher), the load workers and redis-server. */
  client?: string;
  note: string;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Server on its own CPU, everything else on the others. On a 2-core machine: the target on
 * CPU 1; the load generator, the publisher and Redis on CPU 0.
 */
export function resolvePinning(
  wanted: boolean,
  serverCpus: string | undefined,
  clientCpus: string | undefined,
): CpuPinning {
  const cpus = availableParallelism();
  if (!wanted) return { enabled: false, note: 'disabled (--no-pin)' };
  if (cpus < 2) return { enabled: false, note: `not possible: ${cpus} CPU` };
  if (!hasTaskset()) return { enabled: false, note: 'not possible: taskset not installed' };
  const server = serverCpus ?? '1';
  const client = clientCpus ?? (cpus === 2 ? '0' : `0,2-${cpus - 1}`);
  return {
    enabled: true,
    server,
    client,
    note: `taskset: target on CPU ${server}; load generator, publisher and redis-server on CPU ${client}`,
  };
}

/** `command args` run on `cpus` (through taskset, which execs it: the pid stays the same). */
export function pinnedCommand(
  command: string,
  args: string[],
  cpus: string | undefined,
): [string, string[]] {
  return cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
}

/** Pins this process (all its threads) and so every child it starts later. */
export function pinSelf(cpus: string | undefined): void {
  if (cpus === undefined) return;
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}
