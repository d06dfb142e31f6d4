import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ClientMessage, ServerMessage } from '../../src/protocol.js';
import { WAIT_MS, withTimeout } from './wait-for.js';

/** A free loopback port with nothing listening on it (connections to it are refused). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** One connection as the server sees it: what the client sent, in order. */
export class ServerConnection {
  readonly received: ClientMessage[] = [];
  readonly closed: Promise<{ code: number }>;
  private readonly waiters = new Set<() => void>();
  private cursor = 0;

  constructor(
    readonly socket: WebSocket,
    answerPings: boolean,
  ) {
    socket.on('message', (data) => {
      const message = JSON.parse((data as Buffer).toString()) as ClientMessage;
      this.received.push(message);
      if (message.type === 'subscribe') {
        this.send({
          type: 'subscribed',
          task_id: message.task_id,
          message: 'Successfully subscribed',
        });
      } else if (message.type === 'unsubscribe') {
        this.send({
          type: 'unsubscribed',
          task_id: message.task_id,
          message: 'Successfully unsubscribed',
        });
      } else if (answerPings) {
        this.send({ type: 'pong' });
      }
      for (const wake of this.waiters) wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', (code) => resolve({ code })));
  }

  send(message: ServerMessage | Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message));
  }

  /** The next `count` client messages not yet consumed that match, waiting for them if needed. */
  async take(
    count: number,
    predicate: (message: ClientMessage) => boolean = () => true,
    ms = WAIT_MS,
  ): Promise<ClientMessage[]> {
    const found: ClientMessage[] = [];
    const scan = (): boolean => {
      while (found.length < count && this.cursor < this.received.length) {
        const message = this.received[this.cursor] as ClientMessage;
        this.cursor += 1;
        if (predicate(message)) found.push(message);
      }
      return found.length >= count;
    };
    if (scan()) return found;
    let wake: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      wake = () => {
        if (scan()) resolve();
      };
      this.waiters.add(wake);
    });
    try {
      await withTimeout(done, ms, `${count} client messages (got ${found.length})`);
      return found;
    } finally {
      this.waiters.delete(wake);
    }
  }
}

export interface TestServerOptions {
  /** Answer `ping` with `pong` (default true); decided per connection, by its index. */
  answerPings?: (connectionIndex: number) => boolean;
  port?: number;
}

/** A small gateway stand-in on a loopback port: answers subscribe, unsubscribe and ping. */
export class TestServer {
  readonly connections: ServerConnection[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
    answerPings: (index: number) => boolean,
  ) {
    wss.on('connection', (socket) => {
      this.connections.push(new ServerConnection(socket, answerPings(this.connections.length)));
      for (const wake of this.waiters) wake();
    });
  }

  static async start({ answerPings = () => true, port = 0 }: TestServerOptions = {}) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws' });
    await withTimeout(once(wss, 'listening'), WAIT_MS, 'the test server to listen');
    const { port: actual } = wss.address() as AddressInfo;
    return new TestServer(wss, actual, answerPings);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** The connection with this index (0 = the first), waiting for it if needed. */
  async connection(index: number, ms = WAIT_MS): Promise<ServerConnection> {
    const existing = this.connections[index];
    if (existing) return existing;
    let wake: () => void = () => undefined;
    const arrived = new Promise<ServerConnection>((resolve) => {
      wake = () => {
        const connection = this.connections[index];
        if (connection) resolve(connection);
      };
      this.waiters.add(wake);
    });
    try {
      return await withTimeout(arrived, ms, `server connection #${index}`);
    } finally {
      this.waiters.delete(wake);
    }
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await withTimeout(
      new Promise<void>((resolve, reject) =>
        this.wss.close((error) => (error ? reject(error) : resolve())),
      ),
      WAIT_MS,
      'the test server to close',
    );
  }
}

/** A TCP server that accepts connections and never answers: an upgrade that hangs. */
export async function startSilentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await withTimeout(once(server, 'close'), WAIT_MS, 'the silent server to close');
    },
  };
}
