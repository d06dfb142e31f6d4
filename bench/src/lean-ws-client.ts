import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { monotonicMicros } from './clock.js';
import type { LatencyHistogram } from './latency-histogram.js';

/**
 * Which protocol the connection speaks on top of WebSocket: ours (`task-status`: subscribe ->
 * subscribed, status_update frames), Socket.IO 4 over its WebSocket transport only
 * (engine.io v4 packets `0` open, `2`/`3` ping/pong, socket.io `40` connect, `42[...]` events),
 * or nchan's (`nchan`: one URL per channel, `/sub/<task_id>`, subscribed once upgraded, and each
 * text frame the published body as it is). `sse` is not WebSocket at all: the gateway's
 * `text/event-stream` (lean-sse-client.ts).
 */
export type Dialect = 'task-status' | 'socketio' | 'nchan' | 'sse';

export interface ConnectionTarget {
  host: string;
  port: number;
  dialect: Dialect;
}

/** Counters shared by every connection of one load worker, read by the worker's reports. */
export class DeliveryTally {
  /** status_update frames received (all connections). */
  frames = 0;
  /** Monotonic µs of the last status_update frame. */
  lastFrameAtMicros = 0;
  /** Connections that the server closed or reset after they were subscribed. */
  unexpectedCloses = 0;
  /** Frames that could not be understood (no `seq`, a masked server frame, an error answer). */
  protocolErrors = 0;
  /** Update frames whose `task_id` is not the task their connection subscribed to. */
  wrongTask = 0;

  constructor(readonly latency: LatencyHistogram) {}
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OPCODE_CONTINUATION = 0x0;
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;

export const TASK_STATUS_UPDATE = Buffer.from('{"type":"status_update"');
export const TASK_STATUS_SUBSCRIBED = Buffer.from('{"type":"subscribed"');
const SOCKETIO_UPDATE = Buffer.from('42["status_update"');
const SOCKETIO_SUBSCRIBED = Buffer.from('42["subscribed"');
/** nchan sends the published update itself, which starts with its task id (update-message.ts). */
const NCHAN_UPDATE = Buffer.from('{"task_id":"');
export const TASK_ID_KEY = Buffer.from('"task_id":"');
export const SEQ_KEY = Buffer.from('"seq":');
export const SENT_AT_KEY = Buffer.from('"sent_at_us":');
const CHAR_0 = 0x30;

/**
 * Every connection of the process reads into this one buffer (net's `onread`): no allocation and
 * no stream machinery per read. Reads are handled synchronously, one at a time, so sharing is
 * safe as long as a partial frame left at the end is copied out before the next read.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const CHAR_9 = 0x39;

export function startsWith(buffer: Buffer, start: number, end: number, prefix: Buffer): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i += 1) {
    if (buffer[start + i] !== prefix[i]) return false;
  }
  return true;
}

/**
 * Where `key` starts within [from, end), or -1. A plain loop: the keys sit a few dozen bytes into
 * the payload, where a native `indexOf` call costs more than the scan.
 */
export function indexOfKey(buffer: Buffer, key: Buffer, from: number, end: number): number {
  const first = key[0];
  const last = end - key.length;
  outer: for (let i = from; i <= last; i += 1) {
    if (buffer[i] !== first) continue;
    for (let j = 1; j < key.length; j += 1) {
      if (buffer[i + j] !== key[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** The value read by the last successful readIntegerAfter (a module slot: no allocation per frame). */
export let parsedValue = 0;

/**
 * Reads the non-negative integer written right after `key` within [from, end): returns the index
 * just past its digits and leaves the value in `parsedValue`; -1 when there is none.
 */
export function readIntegerAfter(buffer: Buffer, key: Buffer, from: number, end: number): number {
  const at = indexOfKey(buffer, key, from, end);
  if (at < 0) return -1;
  let value = 0;
  let i = at + key.length;
  const digitsFrom = i;
  for (; i < end; i += 1) {
    const c = buffer[i];
    if (c < CHAR_0 || c > CHAR_9) break;
    value = value * 10 + (c - CHAR_0);
  }
  if (i === digitsFrom) return -1;
  parsedValue = value;
  return i;
}

function upgradePath(dialect: Dialect, taskId: string): string {
  switch (dialect) {
    case 'task-status':
      return '/ws';
    case 'socketio':
      return '/socket.io/?EIO=4&transport=websocket';
    case 'nchan':
      return `/sub/${encodeURIComponent(taskId)}`;
    case 'sse':
      throw new Error('sse is not a WebSocket dialect: use LeanSseConnection');
  }
}

/** A client frame (always masked, RFC 6455 §5.3) carrying `payload` with `opcode`. */
function encodeClientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + 4 + length);
  frame[0] = 0x80 | opcode;
  if (header === 2) {
    frame[1] = 0x80 | length;
  } else if (header === 4) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, header);
  const body = header + 4;
  for (let i = 0; i < length; i += 1) frame[body + i] = payload[i] ^ mask[i & 3];
  return frame;
}

const enum State {
  Connecting,
  Handshake,
  Subscribing,
  Subscribed,
  Closed,
}

/**
 * One WebSocket client connection over a bare `net.Socket`: the upgrade, masked client frames,
 * and a server-frame parser that reads only what it counts (the frame kind, `task_id`, `seq` and
 * `sent_at_us`). It holds one subscription, to `taskId`, and checks that every update is for that
 * task and that its updates arrive once each and in order.
 */
export class LeanConnection {
  /** status_update frames received. */
  frames = 0;
  /** Highest `seq` received. */
  lastSeq = 0;
  /** Frames whose `seq` was not above the previous one: duplicates or reordering. */
  outOfOrder = 0;

  private socket: Socket | undefined;
  private state = State.Connecting;
  private rest: Buffer | undefined;
  private readonly key = randomBytes(16).toString('base64');
  private settle: ((error?: Error) => void) | undefined;
  /** How an update frame of this dialect starts. */
  private readonly updatePrefix: Buffer;
  /** Where, from the frame's start, the scan for `"task_id":"` begins (nchan's prefix is the key). */
  private readonly taskIdKeyFrom: number;
  /** The subscribed task id and its closing quote: what must follow `"task_id":"` in an update. */
  private readonly taskIdValue: Buffer;

  constructor(
    private readonly target: ConnectionTarget,
    readonly taskId: string,
    private readonly tally: DeliveryTally,
  ) {
    this.updatePrefix =
      target.dialect === 'socketio'
        ? SOCKETIO_UPDATE
        : target.dialect === 'nchan'
          ? NCHAN_UPDATE
          : TASK_STATUS_UPDATE;
    this.taskIdKeyFrom = target.dialect === 'nchan' ? 1 : this.updatePrefix.length;
    this.taskIdValue = Buffer.from(`${taskId}"`);
  }

  /** Connects, upgrades and subscribes; resolves once the server confirmed the subscription. */
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
      const path = upgradePath(this.target.dialect, this.taskId);
      const socket = connect({
        host: this.target.host,
        port: this.target.port,
        onread: { buffer: READ_BUFFER, callback: (bytes) => this.onRead(bytes) },
      });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('connect', () => {
        this.state = State.Handshake;
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${this.target.host}:${this.target.port}\r\n` +
            'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.on('error', (error: Error) => this.fail(error));
      socket.on('close', () => this.onClose());
    });
  }

  /** Ends the connection at once with a TCP reset, which leaves no TIME_WAIT entry behind. */
  close(): void {
    this.state = State.Closed;
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
  }

  /**
   * Stops reading for good, as a stalled client does: with `onread`, `pause()` stops the reads
   * in libuv, so the kernel buffers fill and the server's writes back up. Costs no CPU after.
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

  private onClose(): void {
    if (this.state === State.Subscribed) this.tally.unexpectedCloses += 1;
    if (this.settle) this.settle(new Error('connection closed before the subscription'));
    this.state = State.Closed;
    this.socket = undefined;
  }

  private sendText(text: string): void {
    this.socket?.write(encodeClientFrame(OPCODE_TEXT, Buffer.from(text)));
  }

  private onRead(bytes: number): boolean {
    const chunk = READ_BUFFER.subarray(0, bytes);
    if (this.rest === undefined) {
      this.onData(chunk, true);
    } else {
      const joined = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
      this.onData(joined, false);
    }
    return true;
  }

  /** `shared`: `buffer` is READ_BUFFER, which the next read overwrites; keep only copies of it. */
  private onData(buffer: Buffer, shared: boolean): void {
    let offset = 0;
    if (this.state === State.Handshake) {
      offset = this.readHandshake(buffer, shared);
      if (offset < 0) return;
    }
    const length = buffer.length;
    // One clock read per chunk: every frame in it arrived at the same moment.
    const now = this.state === State.Subscribed ? monotonicMicros() : 0;
    while (offset + 2 <= length) {
      const b0 = buffer[offset];
      const b1 = buffer[offset + 1];
      let payloadLength = b1 & 0x7f;
      let header = 2;
      if (payloadLength === 126) {
        if (offset + 4 > length) break;
        payloadLength = buffer.readUInt16BE(offset + 2);
        header = 4;
      } else if (payloadLength === 127) {
        if (offset + 10 > length) break;
        payloadLength = buffer.readUInt32BE(offset + 2) * 2 ** 32 + buffer.readUInt32BE(offset + 6);
        header = 10;
      }
      if ((b1 & 0x80) !== 0) {
        // Servers never mask (RFC 6455 §5.1); nothing after this can be trusted.
        this.tally.protocolErrors += 1;
        this.fail(new Error('masked server frame'));
        this.close();
        return;
      }
      const start = offset + header;
      const end = start + payloadLength;
      if (end > length) break;
      const opcode = b0 & 0x0f;
      if (opcode === OPCODE_TEXT || opcode === OPCODE_CONTINUATION) {
        this.onText(buffer, start, end, now);
      } else if (opcode === OPCODE_PING) {
        this.socket?.write(encodeClientFrame(0xa, buffer.subarray(start, end)));
      } else if (opcode === OPCODE_CLOSE) {
        if (this.state === State.Subscribed) this.tally.unexpectedCloses += 1;
        const code = end - start >= 2 ? buffer.readUInt16BE(start) : 1005;
        this.fail(new Error(`server closed the connection (${code})`));
        this.close();
        return;
      }
      offset = end;
    }
    if (offset < length) this.keepRest(buffer.subarray(offset), shared);
  }

  private keepRest(rest: Buffer, shared: boolean): void {
    this.rest = shared ? Buffer.from(rest) : rest;
  }

  /** Reads the HTTP upgrade answer; returns where the frames begin, or -1 to wait for more. */
  private readHandshake(buffer: Buffer, shared: boolean): number {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buffer.length > 16_384) this.fail(new Error('upgrade answer too long'));
      else this.keepRest(buffer, shared);
      return -1;
    }
    const head = buffer.subarray(0, end).toString('latin1');
    const accept = createHash('sha1')
      .update(this.key + WS_GUID)
      .digest('base64');
    if (!head.startsWith('HTTP/1.1 101')) {
      this.fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      return -1;
    }
    if (!head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
      this.fail(new Error('wrong Sec-WebSocket-Accept'));
      return -1;
    }
    this.state = State.Subscribing;
    if (this.target.dialect === 'task-status') {
      this.sendText(`{"type":"subscribe","task_id":"${this.taskId}"}`);
    } else if (this.target.dialect === 'nchan') {
      // nchan answers the upgrade once the subscriber is in its channel: nothing more to wait for.
      this.onSubscribed();
    }
    // Socket.IO: the server speaks first (engine.io open packet), see onSocketIoControl.
    return end + 4;
  }

  private onText(buffer: Buffer, start: number, end: number, now: number): void {
    const update = this.updatePrefix;
    if (startsWith(buffer, start, end, update)) {
      this.onUpdate(buffer, start, end, now);
    } else if (this.target.dialect === 'socketio') {
      this.onSocketIoControl(buffer, start, end);
    } else if (
      this.target.dialect === 'task-status' &&
      startsWith(buffer, start, end, TASK_STATUS_SUBSCRIBED)
    ) {
      this.onSubscribed();
    } else {
      this.onUnexpected(buffer, start, end);
    }
  }

  private onUpdate(buffer: Buffer, start: number, end: number, now: number): void {
    const tally = this.tally;
    // Bench task ids need no JSON escaping, so the value's bytes are the id's; its end quote is
    // compared too, so that a longer id with this one as prefix does not pass.
    const keyAt = indexOfKey(buffer, TASK_ID_KEY, start + this.taskIdKeyFrom, end);
    if (keyAt < 0) {
      tally.protocolErrors += 1;
      return;
    }
    const idFrom = keyAt + TASK_ID_KEY.length;
    if (!startsWith(buffer, idFrom, end, this.taskIdValue)) {
      tally.wrongTask += 1;
      return;
    }
    // The published fields follow the task id in every dialect.
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
    // The publisher writes sent_at_us right after seq, so the scan is short.
    if (readIntegerAfter(buffer, SENT_AT_KEY, seqEnd, end) > 0) {
      tally.latency.record(now - parsedValue);
    }
  }

  private onSocketIoControl(buffer: Buffer, start: number, end: number): void {
    const packet = buffer[start];
    if (packet === 0x32 /* '2' engine.io ping */ && end - start === 1) {
      this.sendText('3');
    } else if (packet === 0x30 /* '0' engine.io open */) {
      this.sendText('40');
    } else if (packet === 0x34 && buffer[start + 1] === 0x30 /* '40' connected */) {
      this.sendText(`42["subscribe",{"task_id":"${this.taskId}"}]`);
    } else if (startsWith(buffer, start, end, SOCKETIO_SUBSCRIBED)) {
      this.onSubscribed();
    } else {
      this.onUnexpected(buffer, start, end);
    }
  }

  private onSubscribed(): void {
    if (this.state !== State.Subscribing) return;
    this.state = State.Subscribed;
    this.settle?.();
  }

  private onUnexpected(buffer: Buffer, start: number, end: number): void {
    this.tally.protocolErrors += 1;
    if (this.state === State.Subscribing) {
      this.fail(new Error(`unexpected answer: ${buffer.subarray(start, end).toString()}`));
    }
  }
}
