import type { TaskStatusData } from '@task-status/client/protocol';
import type { TaskSubscriber } from './event-stream-subscriber.js';
import { encodeStatusEvent, eventIdOf } from './sse-event.js';
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
  private readonly states: TaskStatusData[] = [];
  private wireBytes = 0;
  private sseEvents: Buffer[] | undefined;
  private sseWire: Buffer | undefined;

  constructor(
    readonly taskId: string,
    readonly subscribers: ReadonlySet<TaskSubscriber>,
  ) {}

  get bytes(): number {
    return this.wireBytes;
  }

  add(payload: Buffer, terminal: boolean, data: TaskStatusData): void {
    const frame = encodeTextFrame(payload);
    this.payloads.push(payload);
    this.terminals.push(terminal);
    this.states.push(data);
    this.frames.push(frame);
    this.wireBytes += frame.length;
  }

  /** Every update's frame, back to back: what one raw write sends. */
  wire(): Buffer {
    return this.frames.length === 1 ? this.frames[0] : Buffer.concat(this.frames, this.wireBytes);
  }

  /**
   * Every update as a Server-Sent Event, built on the first call (a run with no SSE subscriber
   * never builds them) and shared by every stream.
   */
  events(): readonly Buffer[] {
    this.sseEvents ??= this.payloads.map((payload, index) =>
      encodeStatusEvent(payload.toString(), eventIdOf(this.taskId, this.states[index])),
    );
    return this.sseEvents;
  }

  /** The events back to back: what one write to a stream sends. */
  eventWire(): Buffer {
    const events = this.events();
    this.sseWire ??= events.length === 1 ? events[0] : Buffer.concat(events);
    return this.sseWire;
  }
}
