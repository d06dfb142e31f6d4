import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { withTimeout } from './with-timeout.js';

/** What the server did with a raw connection: its bytes, and the close code of its close frame. */
export interface RawOutcome {
  /** Everything the server sent after the handshake. */
  data: Buffer;
  /** The status code of the server's close frame, if it sent one. */
  closeCode: number | undefined;
  /** Milliseconds from the last write until the server closed the TCP connection. */
  closedAfterMs: number;
}

/** An upgrade request for `path`, with extra header lines. */
export function upgradeRequest(port: number, path = '/ws', extraHeaders: string[] = []): string {
  return [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...extraHeaders,
    '',
    '',
  ].join('\r\n');
}

/**
 * One WebSocket frame as a client writes it, with full control over what a well-behaved client
 * would never do: reserved bits, reserved opcodes, a missing mask, a declared length that
 * differs from the payload.
 */
export function frame(
  opcode: number,
  payload: Buffer,
  {
    fin = true,
    rsv = 0,
    masked = true,
    declaredLength,
  }: { fin?: boolean; rsv?: number; masked?: boolean; declaredLength?: bigint } = {},
): Buffer {
  const length = declaredLength ?? BigInt(payload.length);
  const head: number[] = [(fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126n) {
    head.push(maskBit | Number(length));
  } else if (length < 65536n) {
    head.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  } else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]));
  return Buffer.concat([Buffer.from(head), mask, body]);
}

/** The close code of the first close frame (opcode 8) in unmasked server output, if any. */
export function closeCodeOf(data: Buffer): number | undefined {
  let offset = 0;
  while (offset + 2 <= data.length) {
    const opcode = data[offset] & 0x0f;
    let length = data[offset + 1] & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      length = data.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(start));
      start += 8;
    }
    if (opcode === 0x8) return length >= 2 ? data.readUInt16BE(start) : undefined;
    offset = start + length;
  }
  return undefined;
}

/**
 * A WebSocket connection done by hand on a TCP socket: the handshake, then whatever bytes a
 * test wants to write. Every wait is bounded.
 */
export class RawWebSocket {
  private received: Buffer[] = [];
  private readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.received.push(chunk));
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => {
      this.isClosed = true;
    });
  }

  /** Connects and completes the handshake; rejects unless the server answers 101. */
  static async open(port: number, timeoutMs = 5_000): Promise<RawWebSocket> {
    const socket = connect(port, '127.0.0.1');
    const raw = new RawWebSocket(socket);
    try {
      await withTimeout(once(socket, 'connect'), timeoutMs, 'TCP connect');
      socket.write(upgradeRequest(port));
      const head = await withTimeout(raw.handshake(), timeoutMs, 'the 101 answer');
      if (!head.startsWith('HTTP/1.1 101')) throw new Error(`handshake answered ${head}`);
      return raw;
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits for the server to close the connection (bounded) and says what it sent. */
  async outcome(timeoutMs = 5_000): Promise<RawOutcome> {
    const started = performance.now();
    try {
      await withTimeout(this.closed, timeoutMs, 'the server to close the connection');
    } finally {
      this.socket.destroy();
    }
    const data = Buffer.concat(this.received);
    return { data, closeCode: closeCodeOf(data), closedAfterMs: performance.now() - started };
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Consumes the HTTP head of the answer and returns it; the rest stays as frame data. */
  private async handshake(): Promise<string> {
    for (;;) {
      const all = Buffer.concat(this.received);
      const end = all.indexOf('\r\n\r\n');
      if (end >= 0) {
        this.received = [all.subarray(end + 4)];
        return all.subarray(0, end).toString('latin1');
      }
      if (this.isClosed) throw new Error(`closed during the handshake: ${all.toString('latin1')}`);
      await Promise.race([once(this.socket, 'data'), this.closed]);
    }
  }
}
