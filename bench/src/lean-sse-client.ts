import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
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
const FIELD_EVENT = Buffer.from('event:');
const FIELD_ID = Buffer.from('id:');
const FIELD_DATA = Buffer.from('data:');
const EVENT_STATUS_UPDATE = Buffer.from('status_update');
const EVENT_SUBSCRIBED = Buffer.from('subscribed');
/** Longest event the parser waits for; past it the stream is taken for something else. */
const MAX_EVENT_BYTES = 1 << 20;

const enum State {
  Connecting,
  Subscribing,
  Subscribed,
  Closed,
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
 * over node:http, with a streaming `text/event-stream` parser of its own: events end at a blank
 * line; `event:`, `id:` and `data:` are read, comments (`:` lines, the padding and the heartbeats)
 * and `retry:` skipped. Like the WebSocket client it holds one task and checks every update: its
 * `id:` and its JSON's `task_id` are the task's, and its `seq` rises by one each time.
 */
export class LeanSseConnection {
  /** status_update events received. */
  frames = 0;
  /** Highest `seq` received. */
  lastSeq = 0;
  /** Events whose `seq` was not above the previous one: duplicates or reordering. */
  outOfOrder = 0;

  private state = State.Connecting;
  private request: ClientRequest | undefined;
  private response: IncomingMessage | undefined;
  private socket: Socket | undefined;
  /** The start of an event not complete at the end of the last chunk, copied. */
  private rest: Buffer | undefined;
  private settle: ((error?: Error) => void) | undefined;
  /** What must follow `"task_id":"` in an update: the task id and its closing quote. */
  private readonly taskIdValue: Buffer;
  /** What an event id of this task starts with (`<task_id>:`; the position follows). */
  private readonly idPrefix: Buffer;

  // The fields of the event being read, as offsets into the chunk being parsed.
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
      const req = request({
        host: this.target.host,
        port: this.target.port,
        path: `/tasks/events?task_id=${encodeURIComponent(this.taskId)}`,
        headers: { Accept: 'text/event-stream' },
        // One connection per stream, as an EventSource has: no pool to queue behind.
        agent: false,
      });
      this.request = req;
      req.on('socket', (socket: Socket) => {
        this.socket = socket;
        socket.setNoDelay(true);
      });
      req.on('response', (response) => this.onResponse(response));
      req.on('error', (error: Error) => this.fail(error));
      req.end();
    });
  }

  /** Ends the stream at once with a TCP reset, which leaves no TIME_WAIT entry behind. */
  close(): void {
    this.state = State.Closed;
    const socket = this.socket;
    this.socket = undefined;
    this.request = undefined;
    this.response = undefined;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
  }

  /** Stops reading for good, as a stalled client does: the kernel buffers fill, the server's back up. */
  stopReading(): void {
    this.response?.pause();
    this.socket?.pause();
  }

  private onResponse(response: IncomingMessage): void {
    this.response = response;
    const type = response.headers['content-type'] ?? '';
    if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (text: string) => (body = (body + text).slice(0, 500)));
      response.once('end', () =>
        this.fail(new Error(`stream refused: ${response.statusCode} ${type} ${body}`)),
      );
      return;
    }
    this.state = State.Subscribing;
    response.on('data', (chunk: Buffer) => this.onData(chunk));
    response.once('close', () => this.onClose());
    response.once('error', (error: Error) => this.fail(error));
  }

  private fail(error: Error): void {
    if (this.settle) {
      this.settle(error);
      this.close();
    }
  }

  private onClose(): void {
    if (this.state === State.Subscribed) this.tally.unexpectedCloses += 1;
    if (this.settle) this.settle(new Error('stream ended before the subscription'));
    this.state = State.Closed;
  }

  private onData(chunk: Buffer): void {
    if (this.state === State.Closed) return;
    const buffer = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = undefined;
    // One clock read per chunk: every event in it arrived at the same moment.
    const now = this.state === State.Subscribed ? monotonicMicros() : 0;
    const length = buffer.length;
    let eventStart = 0;
    let pos = 0;
    this.resetEvent();
    for (;;) {
      const lf = buffer.indexOf(LF, pos);
      if (lf < 0) break;
      const lineEnd = lf > pos && buffer[lf - 1] === CR ? lf - 1 : lf;
      if (lineEnd === pos) {
        this.dispatch(buffer, now);
        // A failed check may have closed the stream.
        if ((this.state as State) === State.Closed) return;
        this.resetEvent();
        eventStart = lf + 1;
      } else {
        this.field(buffer, pos, lineEnd);
      }
      pos = lf + 1;
    }
    if (eventStart < length) {
      if (length - eventStart > MAX_EVENT_BYTES) {
        this.tally.protocolErrors += 1;
        this.fail(new Error('an event longer than 1 MiB'));
        this.close();
        return;
      }
      // An event cut by the chunk's end is read again, whole, with the next chunk.
      this.rest = Buffer.from(buffer.subarray(eventStart));
    }
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
