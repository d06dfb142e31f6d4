import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { withTimeout } from './timeouts.js';
import type { UpdatePublisher } from './update-publisher.js';

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;

/**
 * A PUBLISH-only Redis client over a bare socket: commands are written as RESP and batched per
 * flush, and replies (all integers: the number of subscribers that received the message) are
 * counted, not queued. Far cheaper per message than a general client, so that the publisher does
 * not compete with the load generator for its CPU.
 */
export class RespPublisher implements UpdatePublisher {
  /** PUBLISH commands written. */
  published = 0;
  /** Replies read. */
  replies = 0;
  /** Sum of the replies: deliveries by Redis to subscribers of the channel. */
  receivers = 0;
  /** Replies of 0: nobody was subscribed when the message arrived. */
  unheard = 0;
  /** Error replies. */
  errors = 0;
  /** Written bytes not yet accepted by the kernel. */
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  private pending: string[] = [];
  private readonly prefix: string;
  private line = 0;
  private lineIsError = false;
  private lineStarted = false;
  private drainWaiters: (() => void)[] = [];

  private constructor(
    private readonly socket: Socket,
    channel: string,
  ) {
    this.prefix = `*3\r\n$7\r\nPUBLISH\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static async connect(port: number, channel: string): Promise<RespPublisher> {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await withTimeout(once(socket, 'connect'), 5_000, 'the publisher connection to Redis');
    socket.on('error', () => undefined);
    return new RespPublisher(socket, channel);
  }

  /** Queues one PUBLISH; written at the next flush(). */
  publish(payload: string): void {
    this.pending.push(`${this.prefix}$${Buffer.byteLength(payload)}\r\n${payload}\r\n`);
    this.published += 1;
    if (this.pending.length >= 512) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.socket.write(this.pending.join(''));
    this.pending = [];
  }

  /** Resolves once Redis has answered every PUBLISH written so far. */
  async settled(timeoutMs: number): Promise<void> {
    this.flush();
    if (this.replies >= this.published) return;
    await withTimeout(
      new Promise<void>((resolve) => this.drainWaiters.push(resolve)),
      timeoutMs,
      'Redis to answer every PUBLISH',
    );
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i += 1) {
      const c = chunk[i];
      if (!this.lineStarted) {
        this.lineStarted = true;
        this.lineIsError = c !== COLON;
        this.line = 0;
      } else if (c === LF) {
        this.lineStarted = false;
        this.replies += 1;
        if (this.lineIsError) this.errors += 1;
        else if (this.line === 0) this.unheard += 1;
        else this.receivers += this.line;
      } else if (c !== CR && !this.lineIsError) {
        this.line = this.line * 10 + (c - 0x30);
      }
    }
    if (this.replies >= this.published && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
