import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A reverse proxy on a free loopback port that passes plain HTTP (event streams included, unbuffered)
 * to a target and answers every WebSocket upgrade `403 Forbidden`, as a proxy or firewall that does
 * not allow WebSockets would.
 */
export class WebSocketRefusingProxy {
  /** Upgrade requests refused so far. */
  upgradesRefused = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: string): Promise<WebSocketRefusingProxy> {
    const { hostname, port } = new URL(target);
    const server = createServer((incoming, outgoing) => {
      const forwarded = request(
        { hostname, port, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(outgoing);
        },
      );
      forwarded.on('error', () => outgoing.destroy());
      outgoing.on('close', () => forwarded.destroy());
      incoming.pipe(forwarded);
    });
    const proxy = await new Promise<WebSocketRefusingProxy>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () =>
        resolve(new WebSocketRefusingProxy(server, (server.address() as AddressInfo).port)),
      );
    });
    server.on('upgrade', (_request, socket) => {
      proxy.upgradesRefused += 1;
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    return proxy;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
