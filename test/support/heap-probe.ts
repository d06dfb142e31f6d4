/**
 * Preloaded into a gateway under test (`node --expose-gc --import <this file> dist/main.js`),
 * never into the service itself. On SIGUSR2 it collects garbage and prints one line,
 * `HEAP_PROBE {"heapUsed":…,"gc":true,"polluted":[…]}`: the heap in use after a full GC, and any
 * property that appeared on Object.prototype since the process started (prototype pollution).
 */
export interface HeapProbeReading {
  heapUsed: number;
  /** False when the process was started without --expose-gc: heapUsed then includes garbage. */
  gc: boolean;
  polluted: string[];
}

const original = new Set(Object.getOwnPropertyNames(Object.prototype));

process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice: the first pass may only queue finalizers whose objects the second one frees.
  gc?.();
  gc?.();
  const reading: HeapProbeReading = {
    heapUsed: process.memoryUsage().heapUsed,
    gc: gc !== undefined,
    polluted: Object.getOwnPropertyNames(Object.prototype).filter((name) => !original.has(name)),
  };
  process.stdout.write(`HEAP_PROBE ${JSON.stringify(reading)}\n`);
});
