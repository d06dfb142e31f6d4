import type { WebSocket } from 'ws';
import { encodeTextFrame } from './ws-internals.js';

/**
 * Consecutive live updates of one task from the same event-loop turn: when the gateway falls
 * behind, one read from Redis carries many messages, and a hot task's subscribers then get them
 * all in one write each. Only consecutive updates of one task are joined, so a client watching
 * several tasks still receives them in the channel's order.
 */
export class LiveUpdateRun {
  /** The JSON of each update, for sockets that take the framed path (held back, compressed). */
  readonly payloads: Buffer[] = [];
  readonly terminals: boolean[] = [];
  private readonly frames: Buffer[] = [];
  private wireBytes = 0;

  constructor(
    readonly taskId: string,
    readonly subscribers: ReadonlySet<WebSocket>,
  ) {}

  get bytes(): number {
    return this.wireBytes;
  }

  add(payload: Buffer, terminal: boolean): void {
    const frame = encodeTextFrame(payload);
    this.payloads.push(payload);
    this.terminals.push(terminal);
    this.frames.push(frame);
    this.wireBytes += frame.length;
  }

  /** Every update's frame, back to back: what one raw write sends. */
  wire(): Buffer {
    return this.frames.length === 1 ? this.frames[0] : Buffer.concat(this.frames, this.wireBytes);
  }
}
