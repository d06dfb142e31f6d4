import { once } from 'node:events';
import { WebSocket, type ClientOptions } from 'ws';
import type { ClientMessage, ServerMessage } from '@task-status/client/protocol';
import { withTimeout } from './with-timeout.js';

const DEFAULT_TIMEOUT_MS = 5_000;

export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * A WebSocket client for tests: every message is queued as it arrives, and every wait is bounded.
 */
export class WsTestClient {
  readonly received: ServerMessage[] = [];
  readonly closed: Promise<CloseInfo>;
  private readonly waiters = new Set<() => void>();
  private cursor = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.received.push(JSON.parse((data as Buffer).toString()) as ServerMessage);
      for (const wake of this.waiters) wake();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.waiters) wake();
      }),
    );
  }

  static async connect(url: string, options: ClientOptions = {}, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const socket = new WebSocket(url, options);
    const opened = new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) =>
        reject(new UpgradeRefusedError(response.statusCode ?? 0)),
      );
    });
    try {
      await withTimeout(opened, timeoutMs, `connection to ${url}`);
    } catch (error) {
      socket.terminate();
      throw error;
    }
    socket.on('error', () => undefined);
    return new WsTestClient(socket);
  }

  send(message: ClientMessage | Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.socket.send(data, { binary });
  }

  async subscribe(taskId: string): Promise<void> {
    this.send({ type: 'subscribe', task_id: taskId });
    await this.next((m) => m.type === 'subscribed' && m.task_id === taskId);
  }

  /** The next message not yet consumed that matches, waiting for it if needed. */
  async next(
    predicate: (message: ServerMessage) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ServerMessage> {
    const [message] = await this.take(1, predicate, timeoutMs);
    return message;
  }

  /** The next `count` messages that match, in arrival order; others are skipped. */
  async take(
    count: number,
    predicate: (message: ServerMessage) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ServerMessage[]> {
    const found: ServerMessage[] = [];
    const scan = (): boolean => {
      while (found.length < count && this.cursor < this.received.length) {
        const message = this.received[this.cursor];
        this.cursor += 1;
        if (predicate(message)) found.push(message);
      }
      return found.length >= count;
    };
    if (scan()) return found;
    let wake: () => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      wake = () => {
        if (scan()) resolve();
        else if (this.socket.readyState === WebSocket.CLOSED) {
          reject(new Error(`socket closed after ${found.length}/${count} matching messages`));
        }
      };
      this.waiters.add(wake);
    });
    try {
      await withTimeout(done, timeoutMs, () => `${count} messages (got ${found.length})`);
      return found;
    } finally {
      this.waiters.delete(wake);
    }
  }

  /** Status updates received so far (consumed or not). */
  updates(taskId?: string): ServerMessage[] {
    return this.received.filter(
      (m) => m.type === 'status_update' && (taskId === undefined || m.task_id === taskId),
    );
  }

  /** Proves the connection is still usable: a ping is answered with a pong. */
  async ping(): Promise<void> {
    this.send({ type: 'ping' });
    await this.next((m) => m.type === 'pong');
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await withTimeout(once(this.socket, 'close'), DEFAULT_TIMEOUT_MS, 'close').catch(() =>
      this.socket.terminate(),
    );
  }
}

export class UpgradeRefusedError extends Error {
  constructor(readonly statusCode: number) {
    super(`WebSocket upgrade refused with HTTP ${statusCode}`);
  }
}
