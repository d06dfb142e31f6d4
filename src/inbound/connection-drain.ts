import { once } from 'node:events';
import { WebSocket } from 'ws';
import { systemClock, type Clock, type ClockTimer } from '../clock/clock.js';

export interface DrainOptions {
  /** Window over which closes are spread; 0 closes everything at once. */
  windowMs: number;
  /** Time for the close handshakes after the last close was sent; then the rest is cut off. */
  graceMs: number;
  code: number;
  reason: string;
  /** Batches are at least this far apart. */
  minBatchSpacingMs?: number;
  random?: () => number;
  /** Schedules the batches and the deadline; tests pass a clock they move by hand. */
  timers?: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
}

/**
 * Closes sockets in small batches spread, with jitter, over a window, so that thousands of
 * clients do not all reconnect to the remaining instances in the same instant. Resolves once
 * every socket is closed; sockets that ignore the close handshake are terminated after the grace.
 */
export async function drainConnections(
  sockets: readonly WebSocket[],
  {
    windowMs,
    graceMs,
    code,
    reason,
    minBatchSpacingMs = 100,
    random = Math.random,
    timers = systemClock,
  }: DrainOptions,
): Promise<void> {
  const open = sockets.filter((socket) => socket.readyState !== WebSocket.CLOSED);
  if (open.length === 0) return;
  const batchCount = Math.max(1, Math.min(open.length, Math.floor(windowMs / minBatchSpacingMs)));
  const batchSize = Math.ceil(open.length / batchCount);
  const spacing = batchCount > 1 ? windowMs / batchCount : 0;

  const pending: ClockTimer[] = [];
  const closed = open.map((socket) => once(socket, 'close').then(() => undefined));
  for (let batch = 0; batch < batchCount; batch += 1) {
    const members = open.slice(batch * batchSize, (batch + 1) * batchSize);
    // The first batch goes at once; the others at their slot, moved by up to half a slot.
    const delay = batch === 0 ? 0 : Math.max(0, spacing * (batch + (random() - 0.5) / 2));
    const closeBatch = () => {
      for (const socket of members) {
        if (socket.readyState === WebSocket.OPEN) socket.close(code, reason);
      }
    };
    if (delay === 0) closeBatch();
    else pending.push(timers.setTimeout(closeBatch, delay));
  }

  let deadline: ClockTimer | undefined;
  await Promise.race([
    Promise.all(closed),
    new Promise<void>((resolve) => (deadline = timers.setTimeout(resolve, windowMs + graceMs))),
  ]);
  timers.clearTimeout(deadline);
  for (const timer of pending) timers.clearTimeout(timer);
  for (const socket of open) {
    if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
  }
}
