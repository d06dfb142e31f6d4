/**
 * Microseconds on CLOCK_MONOTONIC. Every process on the machine reads the same clock, so a
 * timestamp taken by the publisher can be subtracted from one taken by a load worker.
 */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
