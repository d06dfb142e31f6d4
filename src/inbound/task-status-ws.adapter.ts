import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { selectSubprotocol } from '../auth/upgrade-token.js';
import { OpenConnections } from '../connections/open-connections.js';
import { ConnectionGate, type AdmissionVerdict } from '../core/connection-gate.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from './gateway-options.js';
import { GatewayMessageTable } from './gateway-message-table.js';
import { InboundRouter } from './inbound-router.js';
import { TaskStatusGateway } from './task-status.gateway.js';

/** What ws' verifyClient is given about an upgrade. */
interface UpgradeRequest {
  origin: string | undefined;
  req: IncomingMessage;
}

/**
 * The platform-ws adapter, as glue: ws' server gets the gateway's runtime options (decorators
 * cannot read injected config), each upgrade goes to ConnectionGate, and each connection's
 * messages to InboundRouter. Register it with configureApplication().
 */
export class TaskStatusWsAdapter extends WsAdapter {
  private readonly options: ResolvedGatewayOptions;
  private readonly gate: ConnectionGate;
  private readonly open: OpenConnections;
  private readonly router: InboundRouter;
  /** The gateway's handlers, built once at the first connection; null where that failed. */
  private table: GatewayMessageTable | null | undefined;

  constructor(private readonly app: INestApplicationContext) {
    super(app);
    // The adapter is made outside the module graph; these are the core's and the gateway's providers.
    this.options = app.get<ResolvedGatewayOptions>(GATEWAY_OPTIONS, { strict: false });
    this.gate = app.get(ConnectionGate, { strict: false });
    this.open = app.get(OpenConnections, { strict: false });
    this.router = app.get(InboundRouter, { strict: false });
  }

  override create(
    port: number,
    options: Record<string, unknown> & { namespace?: string; server?: unknown; path?: string } = {},
  ): WebSocketServer {
    const server = super.create(port, {
      ...options,
      maxPayload: this.options.maxMessageBytes,
      perMessageDeflate: this.options.perMessageDeflate,
      clientTracking: true,
      // Browsers send their token as a subprotocol; the echo must never be that one.
      handleProtocols: selectSubprotocol,
      // The TCP socket closes whether or not the handshake then completes: it holds the slot.
      verifyClient: (upgrade: UpgradeRequest, accept: AdmissionVerdict) =>
        this.gate.verify(upgrade.req, upgrade.req.socket, accept, upgrade.origin),
    }) as WebSocketServer;
    // ws adds an accepted socket to its clients in the tick that accepts it.
    this.open.count('websocket', () => server.clients.size);
    return server;
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    if (this.table === undefined) {
      this.table = GatewayMessageTable.build(this.app, TaskStatusGateway) ?? null;
      if (!this.table) this.logger.warn('Routing with per-connection handlers (no shared table)');
    }
    this.router.bind(client, handlers, transform, this.table ?? undefined);
  }

  override bindMessageHandler(
    event: { data: unknown },
    handlers: Map<string, MessageMappingProperties>,
    transform: (data: unknown) => Observable<unknown>,
  ): Observable<unknown> {
    return this.router.route(undefined, event, [...handlers.values()], transform);
  }

  /**
   * Errors of one client's socket (oversized or malformed frames, resets) concern that client
   * only: ws closes it with the right code, and they are logged at debug level, not as errors.
   */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    // One listener for every socket rather than a closure each.
    const onClientError = (error: Error) =>
      this.logger.debug?.(`Client socket error: ${error.message}`);
    server.on('connection', (socket: WebSocket) => socket.on('error', onClientError));
    server.on('error', (error: Error) => this.logger.error(error));
    return server;
  }
}
