import type { ServerResponse } from 'node:http';
import { EventStreamSubscriber } from '../outbound/event-stream-subscriber.js';

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * One open `text/event-stream` response, as the delivery path sees a subscriber: events are
 * written as they come (already encoded), and closing ends the response after a `retry:` hint
 * and a comment naming the WebSocket close code it stands for (1001 shutdown, 1013 too slow,
 * 4001 token expired).
 */
export class SseConnection extends EventStreamSubscriber {
  private state = OPEN;

  constructor(
    private readonly response: ServerResponse,
    /** The `retry:` value to advise when the stream ends. */
    private readonly retryMs: number,
  ) {
    super();
    response.once('close', () => {
      this.state = CLOSED;
      this.emit('close');
    });
  }

  get readyState(): number {
    return this.state;
  }

  /** What the response holds that the kernel has not taken yet. */
  get bufferedAmount(): number {
    return this.response.writableLength;
  }

  send(data: Buffer): void {
    if (this.state === OPEN) this.response.write(data);
  }

  close(code: number, reason: string): void {
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    this.response.end(`retry: ${this.retryMs}\n: close ${code} ${reason}\n\n`);
  }

  terminate(): void {
    this.state = CLOSED;
    this.response.destroy();
  }
}
