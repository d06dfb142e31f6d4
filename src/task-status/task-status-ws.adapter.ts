import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { EMPTY, from, of, type Observable } from 'rxjs';
import { concatMap } from 'rxjs/operators';
import { WebSocket, type WebSocketServer } from 'ws';
import { UpgradeAuthenticator } from '../auth/upgrade-authenticator.js';
import { selectSubprotocol } from '../auth/upgrade-token.js';
import { clientAddressOf } from '../connections/client-address.js';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { connectionIdOf } from '../connections/connection-id.js';
import { ConnectionsPerIp } from '../connections/connections-per-ip.js';
import { logContext } from '../logging/log-context.js';
import type { ConnectionRateLimit } from '../rate-limit/connection-rate-limit.js';
import { MessageRateLimiter } from '../rate-limit/message-rate-limiter.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { MAX_CLIENT_MESSAGE_NESTING, nestsDeeperThan } from './json-nesting.js';
import { ConnectionMessageQueue } from './connection-message-queue.js';
import { isOriginAllowed } from './origin-policy.js';
import { CloseCode, type ErrorCode, type ErrorMessage } from './protocol.js';
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

/** Stands in for a message that arrived over the connection's rate: it is never read. */
const OVER_RATE = Symbol('over rate');
export const RATE_LIMIT_CLOSE_REASON = 'Rate limit exceeded';

/**
 * The platform-ws adapter with this service's runtime options (decorators cannot read injected
 * config) and its message routing: `{"type": ...}` selects the @SubscribeMessage handler, and
 * frames that cannot be routed are answered with a protocol error instead of being ignored.
 */
export class TaskStatusWsAdapter extends WsAdapter {
  private readonly options: ResolvedTaskStatusOptions;
  private readonly admission: ConnectionAdmission;
  private readonly authenticator: UpgradeAuthenticator;
  private readonly connectionsPerIp: ConnectionsPerIp;
  private readonly rateLimiter: MessageRateLimiter;
  private readonly rateLimitCounters: RateLimitCounters;

  /** `rateLimitClock`: monotonic ms for the message rate limit; tests pass one they move by hand. */
  constructor(
    app: INestApplicationContext,
    rateLimitClock: () => number = () => performance.now(),
  ) {
    super(app);
    this.options = app.get<ResolvedTaskStatusOptions>(TASK_STATUS_OPTIONS, { strict: false });
    this.admission = app.get(ConnectionAdmission, { strict: false });
    this.authenticator = app.get(UpgradeAuthenticator, { strict: false });
    this.connectionsPerIp = new ConnectionsPerIp(this.options.maxConnectionsPerIp);
    this.rateLimitCounters = app.get(RateLimitCounters, { strict: false });
    this.rateLimiter = new MessageRateLimiter(
      {
        perSecond: this.options.rateLimitPerSecond,
        burst: this.options.rateLimitBurst,
        maxViolations: this.options.rateLimitMaxViolations,
        violationWindowMs: this.options.rateLimitViolationWindowMs,
      },
      rateLimitClock,
    );
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
      verifyClient: (info: UpgradeInfo, accept: VerifyClientCallback) =>
        this.verifyUpgrade(info, accept, server),
    }) as WebSocketServer;
    return server;
  }

  /**
   * Checks an upgrade in ws' handleUpgrade. ws adds an accepted socket to `clients` in the same
   * tick as `accept(true)`, so checking the limit right before accepting, synchronously, keeps
   * concurrent upgrades from overshooting it. Token verification is asynchronous (a key set may
   * have to be fetched): the limit and shutdown are checked before it, to spare the work, and
   * again after it, in the tick that accepts.
   */
  private verifyUpgrade(
    info: UpgradeInfo,
    accept: VerifyClientCallback,
    server: WebSocketServer,
  ): void {
    if (!this.admission.accepting) return this.refuseShuttingDown(accept);
    if (!isOriginAllowed(info.origin, this.options.allowedOrigins)) {
      this.admission.countRefusal('origin');
      return accept(false, 403, 'Origin not allowed');
    }
    if (server.clients.size >= this.options.maxConnections) return this.refuseFull(accept);
    const address = this.connectionsPerIp.enabled ? this.addressOf(info.req) : '';
    if (this.connectionsPerIp.isFull(address)) return this.refusePerIp(accept);
    if (!this.authenticator.enabled) return this.acceptFrom(address, info.req, accept);
    void this.authenticator.authenticate(info.req).then((outcome) => {
      if (!outcome.ok) {
        this.admission.countRefusal('auth');
        return accept(false, outcome.status, outcome.body, outcome.headers);
      }
      if (!this.admission.accepting) return this.refuseShuttingDown(accept);
      if (server.clients.size >= this.options.maxConnections) return this.refuseFull(accept);
      this.acceptFrom(address, info.req, accept);
    });
  }

  private addressOf(request: IncomingMessage): string {
    return clientAddressOf(request, this.options.trustProxy);
  }

  /**
   * Accepts, holding one of the address' slots (WS_MAX_CONNECTIONS_PER_IP) until the TCP socket
   * closes, which it does whether or not the handshake then completes.
   */
  private acceptFrom(
    address: string,
    request: IncomingMessage,
    accept: VerifyClientCallback,
  ): void {
    const socket = request.socket;
    if (this.connectionsPerIp.enabled && !socket.destroyed) {
      if (!this.connectionsPerIp.tryAcquire(address)) return this.refusePerIp(accept);
      socket.once('close', () => this.connectionsPerIp.release(address));
    }
    accept(true);
  }

  private refusePerIp(accept: VerifyClientCallback): void {
    this.admission.countRefusal('per_ip');
    accept(false, 429, 'Too many connections from this address', { 'Retry-After': '5' });
  }

  private refuseShuttingDown(accept: VerifyClientCallback): void {
    this.admission.countRefusal('shutting_down');
    accept(false, 503, 'Server is shutting down', { 'Retry-After': '1' });
  }

  private refuseFull(accept: VerifyClientCallback): void {
    this.admission.countRefusal('limit');
    accept(false, 503, 'Too many connections', { 'Retry-After': '5' });
  }

  /**
   * As in WsAdapter, but one message at a time per connection (as concatMap would), so that
   * answers leave in the order the requests came, whether a handler is synchronous or not; and
   * with a plain listener and a small queue instead of an rxjs pipeline per connection, which
   * idle connections would otherwise hold (see docs/benchmarks.md, S1).
   */
  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    const context = { connection_id: connectionIdOf(client) };
    const rateLimit = this.rateLimiter.open(context.connection_id);
    if (rateLimit) this.limitProtocolPings(client, rateLimit);
    const queue = new ConnectionMessageQueue<{ data: unknown } | typeof OVER_RATE>(
      // Whatever a handler logs, now or after an await, carries the connection's id.
      (event) =>
        logContext.run(context, () =>
          event === OVER_RATE && rateLimit
            ? this.answerOverRate(client, rateLimit)
            : this.route(event as { data: unknown }, handlers, transform),
        ),
      (response) => {
        if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify(response));
      },
      (error) => this.logger.error(error),
    );
    client.on('message', (data: Buffer, isBinary: boolean) => {
      // Nothing more is read from a connection that is being closed.
      if (client.readyState !== WebSocket.OPEN) return;
      // As each message arrives, before it is parsed or queued behind a slower one: an
      // over-rate message is answered (or ends the connection) without being read.
      if (rateLimit !== undefined && !rateLimit.take()) {
        queue.push(OVER_RATE);
        return;
      }
      // ws hands a text message over as a Buffer; handlers get the text, binary stays a Buffer.
      queue.push({ data: isBinary ? data : data.toString() });
    });
    client.once('close', () => queue.close());
  }

  /**
   * `rate_limited` while the connection has had fewer than WS_RATE_LIMIT_MAX_VIOLATIONS of them
   * within the window; past that it is sustained abuse, and the connection is closed with 1008.
   */
  private answerOverRate(client: WebSocket, rateLimit: ConnectionRateLimit): Observable<unknown> {
    this.rateLimitCounters.messagesLimited += 1;
    return from(rateLimit.violation()).pipe(
      concatMap((verdict) => {
        if (verdict === 'answer') {
          return protocolError(
            'rate_limited',
            `Too many messages: at most ${this.options.rateLimitPerSecond} per second, in bursts of ` +
              `${this.options.rateLimitBurst}; this one was not read`,
          );
        }
        this.closeForAbuse(client);
        return EMPTY;
      }),
    );
  }

  private closeForAbuse(client: WebSocket): void {
    if (client.readyState !== WebSocket.OPEN) return;
    this.rateLimitCounters.connectionsClosed += 1;
    client.close(CloseCode.POLICY_VIOLATION, RATE_LIMIT_CLOSE_REASON);
  }

  /**
   * WebSocket pings are answered by ws itself, so a ping flood would cost a pong each: they take
   * tokens from the same bucket, and over-rate ones count as violations (with no answer frame).
   * The connection's state is released when it closes.
   */
  private limitProtocolPings(client: WebSocket, rateLimit: ConnectionRateLimit): void {
    client.on('ping', () => {
      if (client.readyState !== WebSocket.OPEN || rateLimit.take()) return;
      this.rateLimitCounters.messagesLimited += 1;
      void rateLimit.violation().then((verdict) => {
        if (verdict === 'close') this.closeForAbuse(client);
      });
    });
    client.once('close', () => rateLimit.release());
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
    return this.route(event, [...handlers.values()], transform);
  }

  /**
   * Routes one message by its `type`. The handlers are the connection's own (Nest binds them to
   * it); a scan of the few of them saves a Map per connection.
   */
  private route(
    event: { data: unknown },
    handlers: readonly MessageMappingProperties[],
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
    if (nestsDeeperThan(event.data, MAX_CLIENT_MESSAGE_NESTING)) {
      return protocolError(
        'invalid_message',
        `Message is nested more than ${MAX_CLIENT_MESSAGE_NESTING} levels deep`,
      );
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return protocolError('invalid_message', 'Message must be a JSON object');
    }
    const type = (message as { type?: unknown }).type;
    if (typeof type !== 'string') {
      return protocolError('invalid_message', 'type must be a string', 'type');
    }
    const handler = handlers.find((candidate) => candidate.message === type);
    if (!handler) {
      const shown = type.length > 32 ? `${type.slice(0, 32)}...` : type;
      return protocolError(
        'unknown_type',
        `Unknown message type ${JSON.stringify(shown)}; expected one of: ${handlers.map((candidate) => String(candidate.message)).join(', ')}`,
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
