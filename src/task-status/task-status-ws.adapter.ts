import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { EMPTY, fromEvent, of, type Observable } from 'rxjs';
import { catchError, concatMap, filter, first, share, takeUntil } from 'rxjs/operators';
import { WebSocket, type WebSocketServer } from 'ws';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { connectionIdOf } from '../connections/connection-id.js';
import { logContext } from '../logging/log-context.js';
import { isOriginAllowed } from './origin-policy.js';
import type { ErrorCode, ErrorMessage } from './protocol.js';
import { TASK_STATUS_OPTIONS } from './task-status.module-definition.js';
import type { ResolvedTaskStatusOptions } from './task-status-module-options.js';

type VerifyClientCallback = (
  result: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string>,
) => void;

interface UpgradeInfo {
  origin: string | undefined;
  req: IncomingMessage;
}

function protocolError(code: ErrorCode, message: string, field?: string): Observable<ErrorMessage> {
  return of(field ? { type: 'error', code, message, field } : { type: 'error', code, message });
}

/**
 * The platform-ws adapter with this service's runtime options (decorators cannot read injected
 * config) and its message routing: `{"type": ...}` selects the @SubscribeMessage handler, and
 * frames that cannot be routed are answered with a protocol error instead of being ignored.
 */
export class TaskStatusWsAdapter extends WsAdapter {
  private readonly options: ResolvedTaskStatusOptions;
  private readonly admission: ConnectionAdmission;

  constructor(app: INestApplicationContext) {
    super(app);
    this.options = app.get<ResolvedTaskStatusOptions>(TASK_STATUS_OPTIONS, { strict: false });
    this.admission = app.get(ConnectionAdmission, { strict: false });
  }

  override create(
    port: number,
    options: Record<string, unknown> & { namespace?: string; server?: unknown; path?: string } = {},
  ): WebSocketServer {
    const server = super.create(port, {
      ...options,
      maxPayload: this.options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: true,
      verifyClient: (info: UpgradeInfo, accept: VerifyClientCallback) =>
        this.verifyUpgrade(info, accept, server.clients.size),
    }) as WebSocketServer;
    return server;
  }

  /**
   * Runs synchronously inside ws' handleUpgrade, and ws adds an accepted socket to `clients` in
   * the same tick, so concurrent upgrades cannot overshoot the connection limit.
   */
  private verifyUpgrade(info: UpgradeInfo, accept: VerifyClientCallback, open: number): void {
    if (!this.admission.accepting) {
      this.admission.countRefusal('shutting_down');
      return accept(false, 503, 'Server is shutting down', { 'Retry-After': '1' });
    }
    if (!isOriginAllowed(info.origin, this.options.allowedOrigins)) {
      this.admission.countRefusal('origin');
      return accept(false, 403, 'Origin not allowed');
    }
    if (open >= this.options.maxConnections) {
      this.admission.countRefusal('limit');
      return accept(false, 503, 'Too many connections', { 'Retry-After': '5' });
    }
    accept(true);
  }

  /**
   * As in WsAdapter, but one message at a time per connection (concatMap, not mergeMap), so that
   * answers leave in the order the requests came, whether a handler is synchronous or not.
   */
  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    const handlersMap = new Map(handlers.map((handler) => [handler.message as string, handler]));
    const close$ = fromEvent(client, 'close').pipe(share(), first());
    const context = { connection_id: connectionIdOf(client) };
    fromEvent(client, 'message')
      .pipe(
        concatMap((event) =>
          // Whatever a handler logs, now or after an await, carries the connection's id.
          logContext
            .run(context, () =>
              this.bindMessageHandler(event as { data: unknown }, handlersMap, transform),
            )
            .pipe(
              filter((response) => response !== undefined && response !== null),
              catchError((error: unknown) => {
                this.logger.error(error);
                return EMPTY;
              }),
            ),
        ),
        takeUntil(close$),
      )
      .subscribe((response) => {
        if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify(response));
      });
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

  override bindMessageHandler(
    event: { data: unknown },
    handlers: Map<string, MessageMappingProperties>,
    transform: (data: unknown) => Observable<unknown>,
  ): Observable<unknown> {
    // ws hands text frames over as strings and binary frames as Buffers.
    if (typeof event.data !== 'string') {
      return protocolError(
        'unsupported_frame',
        'Binary frames are not supported; send JSON text frames',
      );
    }
    let message: unknown;
    try {
      message = JSON.parse(event.data);
    } catch {
      return protocolError('invalid_json', 'Message is not valid JSON');
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return protocolError('invalid_message', 'Message must be a JSON object');
    }
    const type = (message as { type?: unknown }).type;
    if (typeof type !== 'string') {
      return protocolError('invalid_message', 'type must be a string', 'type');
    }
    const handler = handlers.get(type);
    if (!handler) {
      const shown = type.length > 32 ? `${type.slice(0, 32)}...` : type;
      return protocolError(
        'unknown_type',
        `Unknown message type ${JSON.stringify(shown)}; expected one of: ${[...handlers.keys()].join(', ')}`,
      );
    }
    try {
      return transform(handler.callback(message, type));
    } catch {
      // Errors reach the client through the exception filter; a throw here must not end the stream.
      return EMPTY;
    }
  }
}
