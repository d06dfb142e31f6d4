/** Bucket width: each bucket is 1 % wider than the previous one, so quantiles are within 1 %. */
const GROWTH = 1.01;
const INV_LOG_GROWTH = 1 / Math.log(GROWTH);
/** 1.01^2100 µs is about 21 minutes: far beyond any latency a bounded run can see. */
const BUCKETS = 2100;

/** The serializable form of a histogram, sent from a load worker to the coordinator. */
export interface HistogramData {
  count: number;
  max: number;
  /** [bucket index, count] of the non-empty buckets. */
  buckets: [number, number][];
}

/**
 * Latencies in microseconds, in log-spaced buckets: recording is a logarithm and an increment,
 * memory is fixed, and histograms from several processes merge exactly.
 */
export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  max = 0;

  record(microseconds: number): void {
    const index =
      microseconds <= 1
        ? 0
        : Math.min(BUCKETS - 1, Math.ceil(Math.log(microseconds) * INV_LOG_GROWTH));
    this.counts[index] += 1;
    this.count += 1;
    if (microseconds > this.max) this.max = microseconds;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
  }

  merge(data: HistogramData): void {
    for (const [index, count] of data.buckets) this.counts[index] += count;
    this.count += data.count;
    if (data.max > this.max) this.max = data.max;
  }

  /** The latency below which a fraction `q` (0..1) of the samples lie, in µs; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index += 1) {
      seen += this.counts[index];
      if (seen >= rank) return Math.min(this.max, GROWTH ** index);
    }
    return this.max;
  }

  toData(): HistogramData {
    const buckets: [number, number][] = [];
    this.counts.forEach((count, index) => {
      if (count > 0) buckets.push([index, count]);
    });
    return { count: this.count, max: this.max, buckets };
  }
}
