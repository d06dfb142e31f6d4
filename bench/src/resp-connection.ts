import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { withTimeout } from './timeouts.js';

type Reply = string | number | null | Error | Reply[];
export type ExecReplies = [error: Error | null, result: unknown][];

const CRLF = '\r\n';

/** One RESP reply starting at `at`, and where the next begins; undefined while incomplete. */
function parseReply(buffer: Buffer, at: number): [Reply, number] | undefined {
  if (at >= buffer.length) return undefined;
  const lineEnd = buffer.indexOf(CRLF, at);
  if (lineEnd < 0) return undefined;
  const text = buffer.toString('latin1', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (buffer[at]) {
    case 0x2b: // +
      return [text, next];
    case 0x2d: // -
      return [new Error(text), next];
    case 0x3a: // :
      return [Number(text), next];
    case 0x24: {
      // $
      const length = Number(text);
      if (length < 0) return [null, next];
      if (next + length + 2 > buffer.length) return undefined;
      return [buffer.toString('utf8', next, next + length), next + length + 2];
    }
    case 0x2a: {
      // *
      const count = Number(text);
      if (count < 0) return [null, next];
      const items: Reply[] = [];
      let position = next;
      for (let i = 0; i < count; i += 1) {
        const item = parseReply(buffer, position);
        if (item === undefined) return undefined;
        items.push(item[0]);
        position = item[1];
      }
      return [items, position];
    }
    default:
      throw new Error(`unexpected RESP reply type 0x${buffer[at].toString(16)}`);
  }
}

function encode(command: string[]): string {
  let text = `*${command.length}${CRLF}`;
  for (const arg of command) text += `$${Buffer.byteLength(arg)}${CRLF}${arg}${CRLF}`;
  return text;
}

interface PendingTransaction {
  /** Replies still to come: MULTI's, one QUEUED per command, EXEC's. */
  remaining: number;
  resolve: (replies: ExecReplies | null) => void;
  reject: (error: Error) => void;
}

/**
 * One pipelined connection to one Redis node: transactions are written as RESP, batched until
 * flush(), and their replies matched in order. Cheap per update, so that the publisher does not
 * compete with the load generator for its CPU (the same reason as RespPublisher's).
 */
export class RespConnection {
  private readonly pending: PendingTransaction[] = [];
  private head = 0;
  private out: string[] = [];
  private rest: Buffer | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.failAll(new Error('the connection to Redis closed')));
  }

  static async open(port: number): Promise<RespConnection> {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    await withTimeout(once(socket, 'connect'), 5_000, `the publisher connection to :${port}`);
    return new RespConnection(socket);
  }

  transaction(commands: string[][]): Promise<ExecReplies | null> {
    this.out.push(encode(['MULTI']), ...commands.map(encode), encode(['EXEC']));
    if (this.out.length >= 1_024) this.flush();
    return new Promise((resolve, reject) =>
      this.pending.push({ remaining: commands.length + 2, resolve, reject }),
    );
  }

  flush(): void {
    if (this.out.length === 0) return;
    this.socket.write(this.out.join(''));
    this.out = [];
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const buffer = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    let position = 0;
    for (;;) {
      const parsed = parseReply(buffer, position);
      if (parsed === undefined) break;
      position = parsed[1];
      this.onReply(parsed[0]);
    }
    if (position < buffer.length) this.rest = buffer.subarray(position);
  }

  /** MULTI's OK and the QUEUEDs are counted; EXEC's array settles the transaction. */
  private onReply(reply: Reply): void {
    const transaction = this.pending[this.head];
    if (!transaction) return;
    transaction.remaining -= 1;
    if (transaction.remaining > 0) return;
    this.pending[this.head] = undefined as unknown as PendingTransaction;
    this.head += 1;
    if (this.head > 4_096 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    if (reply instanceof Error) transaction.reject(reply);
    else if (reply === null) transaction.resolve(null);
    else if (Array.isArray(reply)) {
      transaction.resolve(
        reply.map((item): [Error | null, unknown] =>
          item instanceof Error ? [item, null] : [null, item],
        ),
      );
    } else transaction.reject(new Error(`EXEC answered ${String(reply)}`));
  }

  private failAll(error: Error): void {
    for (let i = this.head; i < this.pending.length; i += 1) this.pending[i]?.reject(error);
    this.pending.length = 0;
    this.head = 0;
  }
}
