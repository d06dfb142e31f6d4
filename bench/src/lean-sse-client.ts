import { connect, type Socket } from 'node:net';
import { monotonicMicros } from './clock.js';
import {
  indexOfKey,
  parsedValue,
  readIntegerAfter,
  SENT_AT_KEY,
  SEQ_KEY,
  startsWith,
  TASK_ID_KEY,
  TASK_STATUS_SUBSCRIBED,
  TASK_STATUS_UPDATE,
  type ConnectionTarget,
  type DeliveryTally,
} from './lean-ws-client.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const FIELD_EVENT = Buffer.from('event:');
const FIELD_ID = Buffer.from('id:');
const FIELD_DATA = Buffer.from('data:');
const EVENT_STATUS_UPDATE = Buffer.from('status_update');
const EVENT_SUBSCRIBED = Buffer.from('subscribed');
const HEAD_END = Buffer.from('\r\n\r\n');
/** Longest event the parser waits for; past it the stream is taken for something else. */
const MAX_EVENT_BYTES = 1 << 20;
/** Longest answer head (status line and headers) the client waits for. */
const MAX_HEAD_BYTES = 16_384;
/** How much of a refusal's body the error quotes. */
const MAX_REFUSAL_BYTES = 500;
/** Hex digits of a chunk size: 7 already allow 256 MiB, far above MAX_EVENT_BYTES. */
const MAX_CHUNK_SIZE_DIGITS = 7;

/**
 * Every stream of the process reads into this one buffer (net's `onread`), as the WebSocket
 * client does: reads are handled synchronously, one at a time, and whatever must outlive a read
 * (a head or an event cut by the read's end) is copied out of it first.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const enum State {
  Connecting,
  /** The request is written; the answer's head is awaited. */
  Head,
  /** A 200 `text/event-stream` answer: waiting for `event: subscribed`. */
  Subscribing,
  Subscribed,
  /** Any other answer: its body is read for the error, up to MAX_REFUSAL_BYTES. */
  Refused,
  Closed,
}

/** How the body is delimited (RFC 9112 §6.3). */
const enum Body {
  Chunked,
  ContentLength,
  /** Neither: the body ends with the connection. */
  UntilClose,
}

/** Where the chunked decoder is (RFC 9112 §7.1). */
const enum Chunk {
  /** Reading the hex digits of a chunk size. */
  Size,
  /** After the size: a `;name=value` extension or whitespace, skipped to the line's LF. */
  SizeLine,
  /** Inside a chunk's data; `remaining` bytes of it to come. */
  Data,
  /** The CRLF after a chunk's data. */
  DataEnd,
  /** After the last (zero-size) chunk: trailer lines, up to an empty one. */
  Trailer,
  Done,
}

const enum Kind {
  /** No `event:` line: a plain `message`, which the gateway never sends. */
  Message,
  StatusUpdate,
  Subscribed,
  /** `error` or any other name. */
  Other,
}

/**
 * One client of the gateway's Server-Sent Events (`GET /tasks/events?task_id=…`, docs/protocol.md)
 * over a bare `net.Socket`, as lean as the WebSocket client (lean-ws-client.ts): it writes the
 * HTTP/1.1 request itself, reads the answer's status line and headers once, then decodes the
 * chunked transfer coding (or a `Content-Length` body, or one that ends with the connection) and
 * the `text/event-stream` events in one pass over each read, on the bytes of the shared read
 * buffer. Events end at a blank line; `event:`, `id:` and `data:` are read, comments (`:` lines,
 * the padding and the heartbeats) and `retry:` skipped. An event cut by a read's or a chunk's end
 * is copied into a buffer of the stream's own, reused, and read whole once its blank line came.
 * Like the WebSocket client it holds one task and checks every update: its `id:` and its JSON's
 * `task_id` are the task's, and its `seq` rises by one each time.
 */
export class LeanSseConnection {
  /** status_update events received. */
  frames = 0;
  /** Highest `seq` received. */
  lastSeq = 0;
  /** Events whose `seq` was not above the previous one: duplicates or reordering. */
  outOfOrder = 0;

  private state = State.Connecting;
  private socket: Socket | undefined;
  private settle: ((error?: Error) => void) | undefined;
  /** What must follow `"task_id":"` in an update: the task id and its closing quote. */
  private readonly taskIdValue: Buffer;
  /** What an event id of this task starts with (`<task_id>:`; the position follows). */
  private readonly idPrefix: Buffer;

  /** The start of the answer's head, copied while its blank line has not come. */
  private head: Buffer | undefined;
  private body = Body.Chunked;
  private chunk = Chunk.Size;
  /** Bytes still to come in the current chunk, or of a `Content-Length` body. */
  private remaining = 0;
  private sizeDigits = 0;
  /** Bytes of the current trailer line (to tell the empty line that ends the trailers). */
  private trailerLine = 0;
  /** The status line and content type of a refusal, and the start of its body. */
  private refusal = '';
  private refusalBody = '';

  /** The bytes of an event cut by a read's or a chunk's end; `pendingLength` of them are used. */
  private pending: Buffer | undefined;
  private pendingLength = 0;
  /** Bytes of the current line already in `pending`, and whether the first of them is a CR. */
  private lineLength = 0;
  private lineStartsWithCr = false;
  /** When the current read arrived, in monotonic µs; 0 before the subscription. */
  private now = 0;

  // The fields of the event being read, as offsets into the buffer it is read from.
  private kind = Kind.Message;
  private idStart = -1;
  private idEnd = -1;
  private dataStart = -1;
  private dataEnd = -1;
  private dataLines = 0;

  constructor(
    private readonly target: ConnectionTarget,
    readonly taskId: string,
    private readonly tally: DeliveryTally,
  ) {
    this.taskIdValue = Buffer.from(`${taskId}"`);
    this.idPrefix = Buffer.from(`${taskId}:`);
  }

  /** Opens the stream; resolves once its `event: subscribed` for the task came. */
  open(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`not subscribed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.settle = (error?: Error) => {
        clearTimeout(timer);
        this.settle = undefined;
        if (error) reject(error);
        else resolve();
      };
      const socket = connect({
        host: this.target.host,
        port: this.target.port,
        onread: { buffer: READ_BUFFER, callback: (bytes) => this.onRead(bytes) },
      });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('connect', () => {
        this.state = State.Head;
        // One connection per stream, as an EventSource has; `Connection: close` as node:http
        // sends without an agent, so that the gateway sees the request it always saw.
        socket.write(
          `GET /tasks/events?task_id=${encodeURIComponent(this.taskId)} HTTP/1.1\r\n` +
            `Host: ${this.target.host}:${this.target.port}\r\n` +
            'Accept: text/event-stream\r\nConnection: close\r\n\r\n',
        );
      });
      socket.on('error', (error: Error) => this.fail(error));
      socket.on('close', () => this.onClose());
    });
  }

  /** Ends the stream at once with a TCP reset, which leaves no TIME_WAIT entry behind. */
  close(): void {
    this.state = State.Closed;
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
  }

  /**
   * Stops reading for good, as a stalled client does: with `onread`, `pause()` stops the reads
   * in libuv, so the kernel buffers fill and the server's writes back up.
   */
  stopReading(): void {
    this.socket?.pause();
  }

  private fail(error: Error): void {
    if (this.settle) {
      this.settle(error);
      this.close();
    }
  }

  /** A stream error: counted, and the stream ended, since nothing after it can be trusted. */
  private protocolError(message: string): void {
    this.tally.protocolErrors += 1;
    this.fail(new Error(message));
    this.close();
  }

  private onClose(): void {
    if (this.state === State.Refused) this.refuse();
    if (this.state === State.Subscribed) this.tally.unexpectedCloses += 1;
    if (this.settle) this.settle(new Error('stream ended before the subscription'));
    this.state = State.Closed;
    this.socket = undefined;
  }

  /** The body ended (last chunk, or `Content-Length` reached): the server ended the stream. */
  private onBodyEnd(): void {
    if (this.state === State.Refused) this.refuse();
    this.onClose();
    this.close();
  }

  private refuse(): void {
    this.fail(new Error(`stream refused: ${this.refusal} ${this.refusalBody}`.trimEnd()));
  }

  private onRead(bytes: number): boolean {
    if (this.state === State.Closed) return true;
    if (this.state === State.Head) {
      this.readHead(bytes);
      return true;
    }
    // One clock read per read: every event in it arrived at the same moment.
    this.now = this.state === State.Subscribed ? monotonicMicros() : 0;
    this.decode(READ_BUFFER, 0, bytes);
    return true;
  }

  /** Reads the answer's head, once; what follows it in the same read is decoded at once. */
  private readHead(bytes: number): void {
    const read = READ_BUFFER.subarray(0, bytes);
    const buffer = this.head === undefined ? read : Buffer.concat([this.head, read]);
    this.head = undefined;
    const end = buffer.indexOf(HEAD_END);
    if (end < 0) {
      if (buffer.length > MAX_HEAD_BYTES) this.protocolError('answer head longer than 16 KiB');
      else this.head = Buffer.from(buffer);
      return;
    }
    const lines = buffer.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (status === null) {
      this.protocolError(`not an HTTP/1.1 answer: ${lines[0].slice(0, 100)}`);
      return;
    }
    let type = '';
    let chunked = false;
    let length = -1;
    for (let i = 1; i < lines.length; i += 1) {
      const colon = lines[i].indexOf(':');
      if (colon < 0) continue;
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      if (name === 'content-type') type = value;
      else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'content-length') length = /^\d+$/.test(value) ? Number(value) : -2;
    }
    if (length === -2 && !chunked) {
      this.protocolError(`invalid Content-Length in: ${lines[0]}`);
      return;
    }
    // Chunked wins over a Content-Length (RFC 9112 §6.3).
    this.body = chunked ? Body.Chunked : length >= 0 ? Body.ContentLength : Body.UntilClose;
    this.chunk = Chunk.Size;
    this.remaining = chunked ? 0 : length;
    if (status[1] !== '200' || !type.toLowerCase().startsWith('text/event-stream')) {
      this.state = State.Refused;
      this.refusal = `${lines[0]} (${type || 'no content type'})`;
    } else {
      this.state = State.Subscribing;
    }
    this.now = 0;
    const from = end + HEAD_END.length;
    if (this.body === Body.ContentLength && length === 0) this.onBodyEnd();
    else if (from < buffer.length) this.decode(buffer, from, buffer.length);
  }

  /** Decodes the body's framing in [start, end) and hands its bytes to `events`. */
  private decode(buffer: Buffer, start: number, end: number): void {
    if (this.body === Body.UntilClose) {
      this.events(buffer, start, end);
      return;
    }
    if (this.body === Body.ContentLength) {
      const take = Math.min(this.remaining, end - start);
      this.remaining -= take;
      this.events(buffer, start, start + take);
      if (this.remaining === 0 && this.state !== State.Closed) this.onBodyEnd();
      return;
    }
    let pos = start;
    while (pos < end && this.state !== State.Closed) {
      switch (this.chunk) {
        case Chunk.Size: {
          const c = buffer[pos];
          const digit = hexValue(c);
          if (digit >= 0) {
            if (++this.sizeDigits > MAX_CHUNK_SIZE_DIGITS) {
              this.protocolError('chunk size too large');
              return;
            }
            this.remaining = this.remaining * 16 + digit;
            pos += 1;
          } else if (this.sizeDigits === 0) {
            this.protocolError(`chunk size expected, got byte 0x${c.toString(16)}`);
            return;
          } else {
            this.chunk = Chunk.SizeLine;
          }
          break;
        }
        case Chunk.SizeLine: {
          // Extensions (`;name=value`), whitespace and the CR are skipped to the LF.
          const c = buffer[pos];
          if (c === LF) {
            this.chunk = this.remaining === 0 ? Chunk.Trailer : Chunk.Data;
            this.sizeDigits = 0;
            this.trailerLine = 0;
          } else if (c < SPACE && c !== CR && c !== TAB) {
            this.protocolError(`invalid chunk size line (byte 0x${c.toString(16)})`);
            return;
          }
          pos += 1;
          break;
        }
        case Chunk.Data: {
          const take = Math.min(this.remaining, end - pos);
          this.remaining -= take;
          this.events(buffer, pos, pos + take);
          pos += take;
          if (this.remaining === 0) this.chunk = Chunk.DataEnd;
          break;
        }
        case Chunk.DataEnd: {
          const c = buffer[pos];
          if (c === LF) {
            this.chunk = Chunk.Size;
          } else if (c !== CR) {
            this.protocolError('chunk data not followed by CRLF');
            return;
          }
          pos += 1;
          break;
        }
        case Chunk.Trailer: {
          const c = buffer[pos];
          pos += 1;
          if (c === LF) {
            if (this.trailerLine === 0) {
              this.chunk = Chunk.Done;
              this.onBodyEnd();
              return;
            }
            this.trailerLine = 0;
          } else if (c !== CR) {
            this.trailerLine += 1;
          }
          break;
        }
        case Chunk.Done:
          return;
      }
    }
  }

  /**
   * The stream's bytes in [start, end) of `buffer`, in order, cut anywhere: each event found
   * whole in them is read where it is, in the same scan that finds its lines; the rest of one cut
   * short is kept in `pending`.
   */
  private events(buffer: Buffer, start: number, end: number): void {
    if (this.state === State.Refused) {
      if (this.refusalBody.length < MAX_REFUSAL_BYTES) {
        const room = MAX_REFUSAL_BYTES - this.refusalBody.length;
        this.refusalBody += buffer.toString('utf8', start, Math.min(end, start + room));
      }
      return;
    }
    let eventStart = start;
    let pos = start;
    while (pos < end) {
      const lf = buffer.indexOf(LF, pos);
      if (lf < 0 || lf >= end) break;
      // A blank line ("" or "\r"), counting what of the line an earlier piece held.
      const blank =
        this.lineLength === 0
          ? lf === pos || (lf === pos + 1 && buffer[pos] === CR)
          : this.lineLength === 1 && this.lineStartsWithCr && lf === pos;
      this.lineLength = 0;
      const lineStart = pos;
      pos = lf + 1;
      if (!blank) {
        // An event that began in this buffer is read as its lines come; one that began in an
        // earlier piece is read again, whole, from `pending`.
        if (this.pendingLength === 0) {
          this.field(buffer, lineStart, lf > lineStart && buffer[lf - 1] === CR ? lf - 1 : lf);
        }
        continue;
      }
      if (this.pendingLength === 0) {
        this.dispatch(buffer, this.now);
      } else {
        if (!this.keep(buffer, eventStart, pos)) return;
        const length = this.pendingLength;
        this.pendingLength = 0;
        this.read(this.pending as Buffer, 0, length);
      }
      // A failed check may have closed the stream.
      if (this.state === State.Closed) return;
      this.resetEvent();
      eventStart = pos;
    }
    if (eventStart < end) {
      if (this.lineLength === 0) this.lineStartsWithCr = pos < end && buffer[pos] === CR;
      this.lineLength += end - pos;
      this.keep(buffer, eventStart, end);
    }
  }

  /** Appends [start, end) of `buffer` to `pending`; false (and the stream ended) past 1 MiB. */
  private keep(buffer: Buffer, start: number, end: number): boolean {
    const length = this.pendingLength + (end - start);
    if (length > MAX_EVENT_BYTES) {
      this.protocolError('an event longer than 1 MiB');
      return false;
    }
    let pending = this.pending;
    if (pending === undefined || pending.length < length) {
      const grown = Buffer.allocUnsafe(Math.max(length, 2 * (pending?.length ?? 512)));
      pending?.copy(grown, 0, 0, this.pendingLength);
      this.pending = pending = grown;
    }
    buffer.copy(pending, this.pendingLength, start, end);
    this.pendingLength = length;
    return true;
  }

  /** One whole event in [start, end), its blank line included. */
  private read(buffer: Buffer, start: number, end: number): void {
    this.resetEvent();
    let pos = start;
    while (pos < end) {
      const lf = buffer.indexOf(LF, pos);
      const lineEnd = lf > pos && buffer[lf - 1] === CR ? lf - 1 : lf;
      if (lineEnd === pos) break;
      this.field(buffer, pos, lineEnd);
      pos = lf + 1;
    }
    this.dispatch(buffer, this.now);
  }

  private resetEvent(): void {
    this.kind = Kind.Message;
    this.idStart = -1;
    this.dataStart = -1;
    this.dataLines = 0;
  }

  /** One `name: value` line of the event in [start, end); comments and unknown fields are skipped. */
  private field(buffer: Buffer, start: number, end: number): void {
    if (buffer[start] === COLON) return;
    if (startsWith(buffer, start, end, FIELD_DATA)) {
      this.dataStart = valueStart(buffer, start + FIELD_DATA.length, end);
      this.dataEnd = end;
      this.dataLines += 1;
    } else if (startsWith(buffer, start, end, FIELD_ID)) {
      this.idStart = valueStart(buffer, start + FIELD_ID.length, end);
      this.idEnd = end;
    } else if (startsWith(buffer, start, end, FIELD_EVENT)) {
      const from = valueStart(buffer, start + FIELD_EVENT.length, end);
      this.kind = equals(buffer, from, end, EVENT_STATUS_UPDATE)
        ? Kind.StatusUpdate
        : equals(buffer, from, end, EVENT_SUBSCRIBED)
          ? Kind.Subscribed
          : Kind.Other;
    }
  }

  /** The event just ended by a blank line; one with no `data:` is no event (spec: not dispatched). */
  private dispatch(buffer: Buffer, now: number): void {
    if (this.dataLines === 0) return;
    const start = this.dataStart;
    const end = this.dataEnd;
    if (this.dataLines > 1) {
      // The gateway writes each JSON on one line; several mean something else wrote this stream.
      this.onUnexpected(buffer, start, end);
    } else if (
      this.kind === Kind.StatusUpdate &&
      startsWith(buffer, start, end, TASK_STATUS_UPDATE)
    ) {
      this.onUpdate(buffer, start, end, now);
    } else if (
      this.kind === Kind.Subscribed &&
      startsWith(buffer, start, end, TASK_STATUS_SUBSCRIBED) &&
      this.namesTask(buffer, start + TASK_STATUS_SUBSCRIBED.length, end)
    ) {
      this.onSubscribed();
    } else {
      this.onUnexpected(buffer, start, end);
    }
  }

  private onUpdate(buffer: Buffer, start: number, end: number, now: number): void {
    const tally = this.tally;
    const keyAt = indexOfKey(buffer, TASK_ID_KEY, start + TASK_STATUS_UPDATE.length, end);
    if (keyAt < 0 || this.idStart < 0) {
      tally.protocolErrors += 1;
      return;
    }
    const idFrom = keyAt + TASK_ID_KEY.length;
    // Both the event id and the JSON must name this stream's task.
    if (
      !startsWith(buffer, idFrom, end, this.taskIdValue) ||
      !startsWith(buffer, this.idStart, this.idEnd, this.idPrefix)
    ) {
      tally.wrongTask += 1;
      return;
    }
    const seqEnd = readIntegerAfter(buffer, SEQ_KEY, idFrom + this.taskIdValue.length, end);
    if (seqEnd < 0) {
      tally.protocolErrors += 1;
      return;
    }
    const seq = parsedValue;
    this.frames += 1;
    tally.frames += 1;
    if (seq > this.lastSeq) this.lastSeq = seq;
    else this.outOfOrder += 1;
    if (now === 0) return;
    tally.lastFrameAtMicros = now;
    if (readIntegerAfter(buffer, SENT_AT_KEY, seqEnd, end) > 0) {
      tally.latency.record(now - parsedValue);
    }
  }

  /** Whether the JSON in [from, end) has `"task_id":"<this task>"`. */
  private namesTask(buffer: Buffer, from: number, end: number): boolean {
    const keyAt = indexOfKey(buffer, TASK_ID_KEY, from, end);
    return keyAt >= 0 && startsWith(buffer, keyAt + TASK_ID_KEY.length, end, this.taskIdValue);
  }

  private onSubscribed(): void {
    if (this.state !== State.Subscribing) return;
    this.state = State.Subscribed;
    this.settle?.();
  }

  private onUnexpected(buffer: Buffer, start: number, end: number): void {
    this.tally.protocolErrors += 1;
    if (this.state === State.Subscribing) {
      this.fail(new Error(`unexpected event: ${buffer.subarray(start, end).toString()}`));
    }
  }
}

/** Where a field's value begins: after the colon and one optional space (the SSE rule). */
function valueStart(buffer: Buffer, afterColon: number, end: number): number {
  return afterColon < end && buffer[afterColon] === SPACE ? afterColon + 1 : afterColon;
}

function equals(buffer: Buffer, start: number, end: number, value: Buffer): boolean {
  return end - start === value.length && startsWith(buffer, start, end, value);
}

/** The value of a hex digit, or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}
