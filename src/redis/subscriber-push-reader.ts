import type { Redis } from 'ioredis';
import { frameEnd, INCOMPLETE, readMessagePush, type MessagePush } from './resp-frame.js';

/** Decides on a pub/sub payload in place, `[start, end)` of `bytes`: true drops it here. */
export type PushDropper = (bytes: Buffer, start: number, end: number) => boolean;

type DataListener = (chunk: Buffer) => void;

/**
 * Sits between the subscriber connection's socket and ioredis' RESP decoder: it cuts each chunk
 * into whole replies, and `message`/`smessage` pushes that `drop` refuses never reach the
 * decoder, so they cost no reply arrays, Buffers or events. Everything else (command replies,
 * subscription confirmations, the pushes that are wanted) goes to the decoder in order and
 * whole, so ioredis keeps the connection, reconnects, commands and subscriptions. Either it
 * reads a socket opened by SubscriberSocketConnector (`reading`), or it is attached on each
 * 'connect' in front of the decoder's 'data' listener (`attach`); where ioredis' listeners are
 * not as expected it stays out of the way.
 */
export class SubscriberPushReader {
  /** Sockets whose reads already come through a reader (`reading`): `attach` leaves them be. */
  private static readonly readSockets = new WeakSet<NodeJS.EventEmitter>();
  private decode: DataListener | undefined;
  private readonly parts: Buffer[] = [];
  private partBytes = 0;
  /** Bytes the incomplete frame needs at least before it is scanned again. */
  private need = 0;
  /** Gave up on this socket (a type it cannot frame): the decoder gets everything. */
  private bypass = false;
  private readonly push: MessagePush = { payloadStart: 0, payloadEnd: 0, frameEnd: 0 };

  /** `transient`: a chunk is overwritten after `read` returns, so what is passed on or kept is copied. */
  private constructor(
    private readonly drop: PushDropper,
    private readonly transient: boolean,
  ) {}

  /**
   * A reader for `socket`'s reads into a reused buffer (net's `onread`): the bytes for the
   * decoder are copied out and emitted as the socket's 'data', which ioredis listens to.
   */
  static reading(socket: NodeJS.EventEmitter, drop: PushDropper): SubscriberPushReader {
    const reader = new SubscriberPushReader(drop, true);
    reader.decode = (chunk) => socket.emit('data', chunk);
    SubscriberPushReader.readSockets.add(socket);
    return reader;
  }

  /** Attaches to every socket the connection opens; `onUnattached` when it cannot on one. */
  static attach(connection: Redis, drop: PushDropper, onUnattached: () => void): void {
    connection.on('connect', () => {
      const stream = (connection as unknown as { stream?: NodeJS.EventEmitter }).stream;
      if (stream && SubscriberPushReader.readSockets.has(stream)) return;
      if (!new SubscriberPushReader(drop, false).wrap(stream)) onUnattached();
    });
  }

  private wrap(stream: NodeJS.EventEmitter | undefined): boolean {
    if (!stream) return false;
    // The decoder's listener is the socket's only 'data' listener right after 'connect'.
    const listeners = stream.listeners('data') as DataListener[];
    if (listeners.length !== 1) return false;
    this.decode = listeners[0];
    stream.removeListener('data', this.decode);
    stream.prependListener('data', (chunk: Buffer) => this.read(chunk));
    return true;
  }

  /** One chunk from the socket. */
  read(chunk: Buffer): void {
    if (this.bypass) {
      this.pass(chunk, 0, chunk.length, !this.transient);
      return;
    }
    let bytes = chunk;
    let owned = !this.transient;
    if (this.partBytes > 0) {
      this.parts.push(owned ? chunk : copy(chunk, 0, chunk.length));
      this.partBytes += chunk.length;
      if (this.partBytes < this.need) return;
      bytes = Buffer.concat(this.parts, this.partBytes);
      owned = true;
      this.parts.length = 0;
      this.partBytes = 0;
    }
    const push = this.push;
    let pos = 0;
    // Bytes from here up to pos go to the decoder as they are.
    let forward = 0;
    while (pos < bytes.length) {
      if (readMessagePush(bytes, pos, push)) {
        if (this.drop(bytes, push.payloadStart, push.payloadEnd)) {
          if (forward < pos) this.pass(bytes, forward, pos, owned);
          forward = push.frameEnd;
        }
        pos = push.frameEnd;
        continue;
      }
      const end = frameEnd(bytes, pos);
      if (end === INCOMPLETE) break;
      if (end < 0) {
        // Not ours to frame: the decoder decides, now and for the rest of this socket.
        this.bypass = true;
        this.pass(bytes, forward, bytes.length, owned);
        return;
      }
      pos = end;
    }
    if (forward < pos) this.pass(bytes, forward, pos, owned);
    if (pos < bytes.length) this.keep(owned ? bytes.subarray(pos) : copy(bytes, pos, bytes.length));
  }

  /** Hands `[start, end)` of `bytes` to the decoder; a copy unless `bytes` stays as it is. */
  private pass(bytes: Buffer, start: number, end: number, owned: boolean): void {
    const decode = this.decode as DataListener;
    if (!owned) decode(copy(bytes, start, end));
    else decode(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
  }

  /** Keeps an incomplete frame until enough bytes came to finish it (when its length is known). */
  private keep(tail: Buffer): void {
    this.parts.push(tail);
    this.partBytes = tail.length;
    // A push whose payload length was read waits for the whole payload; anything else is
    // scanned again with the next chunk.
    readMessagePush(tail, 0, this.push);
    this.need = Math.max(tail.length + 1, this.push.frameEnd);
  }
}

function copy(bytes: Buffer, start: number, end: number): Buffer {
  const target = Buffer.allocUnsafe(end - start);
  bytes.copy(target, 0, start, end);
  return target;
}
