import { kernelTcpMemory } from './proc-stats.js';
import type { TargetProcess } from './target-process.js';

/**
 * Samples a target's RSS and the kernel's TCP memory on a timer: the peaks since the last
 * `resetPeaks()`, and a guard that calls `onOverLimit` once when the RSS passes `limitBytes`, so
 * that a target whose memory grows without bound stops being fed before it takes the machine's.
 */
export class MemorySampler {
  /** Highest RSS seen since the last resetPeaks(), bytes. */
  peakRss = 0;
  /** RSS of the last sample, bytes. */
  lastRss = 0;
  /** Highest TCP socket memory of the machine since the last resetPeaks(), bytes. */
  peakTcp = 0;
  /** performance.now() at which the RSS passed the limit, if it did. */
  overLimitAt: number | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly target: TargetProcess,
    private readonly limitBytes: number,
    private readonly onOverLimit: () => void,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Samples now and restarts the peaks from this reading; returns the RSS, bytes. */
  resetPeaks(): number {
    this.peakRss = 0;
    this.peakTcp = 0;
    return this.sample();
  }

  /** Samples now; returns the RSS, bytes. */
  sample(): number {
    this.peakTcp = Math.max(this.peakTcp, kernelTcpMemory().bytes);
    if (!this.target.running) return this.lastRss;
    this.lastRss = this.target.memory().rss;
    this.peakRss = Math.max(this.peakRss, this.lastRss);
    if (this.lastRss > this.limitBytes && this.overLimitAt === undefined) {
      this.overLimitAt = performance.now();
      this.onOverLimit();
    }
    return this.lastRss;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
