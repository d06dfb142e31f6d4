import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** USER_HZ, the unit of the CPU times in /proc/<pid>/stat (100 on Linux almost everywhere). */
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time (user + system, all threads) a process has used so far, in seconds. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The command name may contain spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  return (userTicks + systemTicks) / clockTicksPerSecond();
}

export interface MemoryStats {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size since the process started (VmHWM), bytes. */
  peakRss: number;
}

export function processMemory(pid: number): MemoryStats {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rss: kib('VmRSS'), peakRss: kib('VmHWM') };
}

/** Descriptors a process holds open (/proc/<pid>/fd): one per connection, plus a few. */
export function openFileCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

let pageBytes: number | undefined;

/** The kernel's page size, the unit of its TCP memory accounting. */
function pageSize(): number {
  if (pageBytes === undefined) {
    try {
      pageBytes = Number(execFileSync('getconf', ['PAGESIZE']).toString().trim()) || 4096;
    } catch {
      pageBytes = 4096;
    }
  }
  return pageBytes;
}

export interface KernelTcpMemory {
  /** Socket buffer memory of every TCP socket of the machine (/proc/net/sockstat), bytes. */
  bytes: number;
  /** tcp_mem[1]: above it the kernel shrinks every TCP socket's buffers (memory pressure), bytes. */
  pressureBytes: number;
  /** Times the kernel entered TCP memory pressure since boot (TcpExt TCPMemoryPressures). */
  pressures: number;
}

/** Machine-wide, not per process: a socket's kernel buffers are in no process's RSS. */
export function kernelTcpMemory(): KernelTcpMemory {
  const page = pageSize();
  const sockstat = readFileSync('/proc/net/sockstat', 'latin1');
  const pages = Number(/^TCP:.* mem (\d+)/m.exec(sockstat)?.[1] ?? Number.NaN);
  const limits = readFileSync('/proc/sys/net/ipv4/tcp_mem', 'latin1').trim().split(/\s+/);
  const netstat = readFileSync('/proc/net/netstat', 'latin1').split('\n');
  let pressures = Number.NaN;
  for (let i = 0; i + 1 < netstat.length; i += 2) {
    if (!netstat[i].startsWith('TcpExt:')) continue;
    const names = netstat[i].split(' ');
    const values = netstat[i + 1].split(' ');
    const at = names.indexOf('TCPMemoryPressures');
    if (at > 0) pressures = Number(values[at]);
  }
  return { bytes: pages * page, pressureBytes: Number(limits[1]) * page, pressures };
}

/** Busy and total jiffies of each CPU since boot, from /proc/stat. */
export function cpuTimes(): Map<number, { busy: number; total: number }> {
  const times = new Map<number, { busy: number; total: number }>();
  for (const line of readFileSync('/proc/stat', 'latin1').split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const fields = match[2].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const idle = fields[3] + fields[4];
    times.set(Number(match[1]), { busy: total - idle, total });
  }
  return times;
}

/** The CPUs of a taskset list such as "0", "1,3" or "0,2-5". */
export function cpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    if (to === undefined) return [from];
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/** Cores' worth of busy time on `cpus` between two cpuTimes() readings. */
export function busyCores(
  before: Map<number, { busy: number; total: number }>,
  after: Map<number, { busy: number; total: number }>,
  cpus: number[],
): number {
  let busy = 0;
  for (const cpu of cpus) {
    const a = before.get(cpu);
    const b = after.get(cpu);
    if (!a || !b || b.total === a.total) continue;
    busy += (b.busy - a.busy) / (b.total - a.total);
  }
  return busy;
}
