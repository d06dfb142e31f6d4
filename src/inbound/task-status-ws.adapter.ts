import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';
import { selectSubprotocol } from '../auth/upgrade-token.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from './gateway-options.js';
import { InboundRouter } from './inbound-router.js';
import { UpgradeAdmission, type UpgradeRequest, type UpgradeVerdict } from './upgrade-admission.js';

/**
 * The platform-ws adapter, as glue: ws' server gets the gateway's runtime options (decorators
 * cannot read injected config), each upgrade goes to UpgradeAdmission, and each connection's
 * messages to InboundRouter. Register it with configureApplication().
 */
export class TaskStatusWsAdapter extends WsAdapter {
  private readonly options: ResolvedGatewayOptions;
  private readonly admission: UpgradeAdmission;
  private readonly router: InboundRouter;

  constructor(app: INestApplicationContext) {
    super(app);
    // The adapter is made outside the module graph; these are the gateway module's providers.
    this.options = app.get<ResolvedGatewayOptions>(GATEWAY_OPTIONS, { strict: false });
    this.admission = app.get(UpgradeAdmission, { strict: false });
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
      verifyClient: (upgrade: UpgradeRequest, accept: UpgradeVerdict) =>
        this.admission.verify(upgrade, accept, () => server.clients.size),
    }) as WebSocketServer;
    return server;
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    this.router.bind(client, handlers, transform);
  }

  override bindMessageHandler(
    event: { data: unknown },
    handlers: Map<string, MessageMappingProperties>,
    transform: (data: unknown) => Observable<unknown>,
  ): Observable<unknown> {
    return this.router.route(event, [...handlers.values()], transform);
  }

  /**
   * Errors of one client's socket (oversized or malformed frames, resets) concern that client
   * only: ws closes it with the right code, and they are logged at debug level, not as errors.
   */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (socket: WebSocket) =>
      socket.on('error', (error: Error) =>
        this.logger.debug?.(`Client socket error: ${error.message}`),
      ),
    );
    server.on('error', (error: Error) => this.logger.error(error));
    return server;
  }
}
