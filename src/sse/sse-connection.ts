import { OutgoingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { EventStreamSubscriber } from '../outbound/event-stream-subscriber.js';

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const CRLF = Buffer.from('\r\n');

/** The last event text framed as an HTTP/1.1 chunk: the delivery path writes one text to many streams in a row. */
let framedText: Buffer | undefined;
let framedChunk = CRLF;

/** `text` as one chunk of a chunked body (`<hex length>\r\n<text>\r\n`), built once per text. */
function chunkOf(text: Buffer): Buffer {
  if (text !== framedText) {
    framedChunk = Buffer.concat([Buffer.from(`${text.length.toString(16)}\r\n`), text, CRLF]);
    framedText = text;
  }
  return framedChunk;
}

/** What ends a stream: the `retry:` advice and a comment naming the WebSocket close code it stands for. */
export function closingText(retryMs: number, code: number, reason: string): string {
  return `retry: ${retryMs}\n: close ${code} ${reason}\n\n`;
}

/**
 * One open `text/event-stream` response, as the delivery path sees a subscriber: events are
 * written as they come (already encoded), and closing ends the response after a `retry:` hint
 * and a comment naming the WebSocket close code it stands for (1001 shutdown, 1013 too slow,
 * 4001 token expired).
 */
export class SseConnection extends EventStreamSubscriber {
  private state = OPEN;
  /** The response's socket, written directly once the stream has started (see send). */
  private raw: Socket | undefined;
  /** Something was sent since the last heartbeat round: the stream is not idle. */
  private active = false;

  constructor(
    private readonly response: ServerResponse,
    /** The `retry:` value to advise when the stream ends. */
    private readonly retryMs: number,
  ) {
    super();
    // A response emits `close` once; `once` would add a wrapper and its state to every stream.
    response.on('close', () => {
      this.state = CLOSED;
      this.emit('close');
    });
  }

  get readyState(): number {
    return this.state;
  }

  /** What the response holds that the kernel has not taken yet. */
  get bufferedAmount(): number {
    // Written straight to the socket, the response holds nothing of its own: the socket holds it all.
    return this.raw ? this.raw.writableLength : this.response.writableLength;
  }

  /**
   * The response's own write frames each event as a chunk in four socket writes, with a cork and
   * a tick per stream (twice the CPU per event of a WebSocket frame, measured in bench S2): once
   * the headers are out, the event goes to the socket as one chunk, framed once for every stream.
   */
  send(data: Buffer): void {
    if (this.state !== OPEN) return;
    this.active = true;
    const raw = this.raw ?? this.rawSocket();
    if (raw && data.length > 0) raw.write(chunkOf(data));
    else this.response.write(data);
  }

  /** Events go straight to the socket (the head is out, the body chunked, writes not wrapped). */
  get writesDirect(): boolean {
    return (this.raw ?? this.rawSocket()) !== undefined;
  }

  /**
   * One heartbeat round: `comment` goes out only when nothing was sent since the last round (a
   * stream that carries events needs no heartbeat) and nothing is waiting in the socket.
   */
  beat(comment: Buffer): void {
    if (this.state !== OPEN) return;
    if (!this.active && this.bufferedAmount === 0) this.send(comment);
    this.active = false;
  }

  close(code: number, reason: string): void {
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    this.response.end(closingText(this.retryMs, code, reason));
  }

  /**
   * The socket, once the headers are out and the body is chunked: from then on written directly.
   * Not when a middleware of the host application wraps the response's write (compression, say):
   * what it writes must go through it.
   */
  private rawSocket(): Socket | undefined {
    const response = this.response;
    if (
      response.socket &&
      response.headersSent &&
      response.chunkedEncoding &&
      response.write === OutgoingMessage.prototype.write
    ) {
      this.raw = response.socket;
    }
    return this.raw;
  }

  terminate(): void {
    this.state = CLOSED;
    this.response.destroy();
  }
}
