import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { withTimeout } from './timeouts.js';
import type { UpdatePublisher } from './update-publisher.js';

const HEADER_END = Buffer.from('\r\n\r\n');
/** nginx writes this header with exactly this spelling. */
const CONTENT_LENGTH = Buffer.from('\r\nContent-Length: ');
const TASK_ID_PREFIX = '{"task_id":"';
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const FLUSH_AT = 512;
/**
 * Connections per publisher. Each update of a task goes over the same one (chosen by a hash of
 * the task id), so a task's updates reach nchan in order; several spread the tasks, so that one
 * connection waiting on the kernel does not hold back every task.
 */
const CONNECTIONS = 2;
/**
 * Every connection reads into this one buffer (net's `onread`): no allocation per read, which
 * matters as nchan writes most answers on their own. Reads are handled synchronously one at a
 * time; a partial answer left at the end is copied out before the next.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** One keep-alive connection: requests pipelined, the answers counted in order. */
class PipelinedConnection {
  pending: string[] = [];
  /** Requests written to the socket. */
  written = 0;
  /** Answers read. */
  answered = 0;
  open = true;
  private rest: Buffer | undefined;

  readonly socket: Socket;

  constructor(
    port: number,
    private readonly onAnswer: (status: number) => void,
    private readonly onLost: (requests: number) => void,
  ) {
    const socket = connect({
      host: '127.0.0.1',
      port,
      onread: { buffer: READ_BUFFER, callback: (bytes) => this.onRead(bytes) },
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.open = false;
      const lost = this.written - this.answered + this.pending.length;
      this.pending = [];
      if (lost > 0) this.onLost(lost);
    });
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.written += this.pending.length;
    this.socket.write(this.pending.join(''));
    this.pending = [];
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

  /**
   * Reads answers: the status line, `Content-Length`, and the body skipped. `shared`: `buffer`
   * is READ_BUFFER, which the next read overwrites.
   */
  private onData(buffer: Buffer, shared: boolean): void {
    let offset = 0;
    for (;;) {
      const headerEnd = buffer.indexOf(HEADER_END, offset);
      if (headerEnd < 0) break;
      const status =
        (buffer[offset + 9] - CHAR_0) * 100 +
        (buffer[offset + 10] - CHAR_0) * 10 +
        (buffer[offset + 11] - CHAR_0);
      let bodyLength = 0;
      const at = buffer.indexOf(CONTENT_LENGTH, offset);
      if (at >= 0 && at < headerEnd) {
        for (let i = at + CONTENT_LENGTH.length; i < headerEnd; i += 1) {
          const c = buffer[i];
          if (c < CHAR_0 || c > CHAR_9) break;
          bodyLength = bodyLength * 10 + (c - CHAR_0);
        }
      }
      const end = headerEnd + HEADER_END.length + bodyLength;
      if (end > buffer.length) break;
      this.answered += 1;
      this.onAnswer(status);
      offset = end;
    }
    if (offset < buffer.length) {
      const rest = buffer.subarray(offset);
      this.rest = shared ? Buffer.from(rest) : rest;
    }
  }
}

/**
 * nchan's publisher: one HTTP POST to `/pub/<task_id>` per update, the update's JSON as the body,
 * over a few keep-alive connections with the requests pipelined and batched per flush, and the
 * answers counted, not queued (201: the channel had subscribers; 202: it had none). The same
 * surface as {@link RespPublisher}, and about as cheap per update.
 */
export class HttpPublisher implements UpdatePublisher {
  published = 0;
  replies = 0;
  /** Answers 201: the channel had at least one subscriber. */
  withSubscribers = 0;
  /** Answers 202: nobody subscribed to that channel (still received: nchan buffers it). */
  withoutSubscribers = 0;
  /** nchan takes every update it answers, subscribed channel or not: nothing goes unheard. */
  readonly unheard = 0;
  errors = 0;
  get bufferedBytes(): number {
    let bytes = 0;
    for (const connection of this.connections) bytes += connection.socket.writableLength;
    return bytes;
  }

  private readonly connections: PipelinedConnection[];
  /** Updates never answered because their connection closed. */
  private lost = 0;
  private closing = false;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly port: number,
    connections: number,
  ) {
    this.connections = Array.from(
      { length: connections },
      () =>
        new PipelinedConnection(
          port,
          (status) => this.onAnswer(status),
          (requests) => this.onLost(requests),
        ),
    );
  }

  static async connect(port: number, connections = CONNECTIONS): Promise<HttpPublisher> {
    const publisher = new HttpPublisher(port, connections);
    try {
      await withTimeout(
        Promise.all(publisher.connections.map(({ socket }) => once(socket, 'connect'))),
        5_000,
        'the publisher connections to nchan',
      );
    } catch (error) {
      publisher.close();
      throw error;
    }
    return publisher;
  }

  /** Queues one POST to the update's own channel (its `task_id`); written at the next flush(). */
  publish(payload: string): void {
    const idEnd = payload.startsWith(TASK_ID_PREFIX)
      ? payload.indexOf('"', TASK_ID_PREFIX.length)
      : -1;
    if (idEnd < 0) throw new Error(`an update without a leading task_id: ${payload.slice(0, 80)}`);
    let hash = 0;
    for (let i = TASK_ID_PREFIX.length; i < idEnd; i += 1) {
      hash = (hash * 31 + payload.charCodeAt(i)) | 0;
    }
    const connection = this.connections[(hash >>> 0) % this.connections.length];
    this.published += 1;
    if (!connection.open) {
      this.onLost(1);
      return;
    }
    connection.pending.push(
      `POST /pub/${payload.slice(TASK_ID_PREFIX.length, idEnd)} HTTP/1.1\r\n` +
        `Host: 127.0.0.1:${this.port}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
    if (connection.pending.length >= FLUSH_AT) connection.flush();
  }

  flush(): void {
    for (const connection of this.connections) connection.flush();
  }

  async settled(timeoutMs: number): Promise<void> {
    this.flush();
    if (this.done()) return;
    await withTimeout(
      new Promise<void>((resolve) => this.waiters.push(resolve)),
      timeoutMs,
      'nchan to answer every POST',
    );
  }

  close(): void {
    this.closing = true;
    for (const connection of this.connections) connection.socket.destroy();
  }

  private done(): boolean {
    return this.replies + this.lost >= this.published;
  }

  private onAnswer(status: number): void {
    this.replies += 1;
    if (status === 201) this.withSubscribers += 1;
    else if (status === 202) this.withoutSubscribers += 1;
    else this.errors += 1;
    if (this.waiters.length > 0 && this.done()) this.wake();
  }

  private onLost(requests: number): void {
    if (this.closing) return;
    this.lost += requests;
    this.errors += requests;
    if (this.waiters.length > 0 && this.done()) this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
