import type { Server } from 'node:http';

/**
 * Cuts off HTTP connections that do not deliver a complete request in time, WebSocket upgrades
 * included (they are HTTP requests until the 101): partial or trickled headers (Node's
 * `headersTimeout` and `requestTimeout`, answered 408) and connections that send nothing at all
 * (the socket idle timeout, which ws turns off on the sockets it upgrades). Must run before the
 * server listens: Node reads `connectionsCheckingInterval`, how often it looks for expired
 * requests, when listening starts; a quarter of the timeout (at most 1 s) keeps the cut-off
 * between `timeoutMs` and 1.25 × `timeoutMs` instead of up to 30 s late.
 */
export function limitHandshakeTime(server: Server, timeoutMs: number): void {
  server.headersTimeout = timeoutMs;
  server.requestTimeout = timeoutMs;
  server.timeout = timeoutMs;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval =
    Math.max(25, Math.min(1_000, Math.floor(timeoutMs / 4)));
}
