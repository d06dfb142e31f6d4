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
 * whole, so ioredis keeps the connection, reconnects, commands and subscriptions. Attached on
 * each 'connect' (a new socket and decoder each time); where ioredis' listeners are not as
 * expected it stays out of the way.
 */
export class SubscriberPushReader {
  private decode: DataListener | undefined;
  private readonly parts: Buffer[] = [];
  private partBytes = 0;
  /** Bytes the incomplete frame needs at least before it is scanned again. */
  private need = 0;
  /** Gave up on this socket (a type it cannot frame): the decoder gets everything. */
  private bypass = false;
  private readonly push: MessagePush = { payloadStart: 0, payloadEnd: 0, frameEnd: 0 };

  private constructor(private readonly drop: PushDropper) {}

  /** Attaches to every socket the connection opens; returns whether it could on this one. */
  static attach(connection: Redis, drop: PushDropper, onUnattached: () => void): void {
    connection.on('connect', () => {
      if (!new SubscriberPushReader(drop).wrap(connection)) onUnattached();
    });
  }

  private wrap(connection: Redis): boolean {
    const stream = (connection as unknown as { stream?: NodeJS.EventEmitter }).stream;
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
    const decode = this.decode as DataListener;
    if (this.bypass) {
      decode(chunk);
      return;
    }
    let bytes = chunk;
    if (this.partBytes > 0) {
      this.parts.push(chunk);
      this.partBytes += chunk.length;
      if (this.partBytes < this.need) return;
      bytes = Buffer.concat(this.parts, this.partBytes);
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
          if (forward < pos) decode(bytes.subarray(forward, pos));
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
        decode(bytes.subarray(forward));
        return;
      }
      pos = end;
    }
    if (forward < pos)
      decode(forward === 0 && pos === bytes.length ? bytes : bytes.subarray(forward, pos));
    if (pos < bytes.length) this.keep(bytes.subarray(pos));
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
