import { Inject, Injectable, Logger } from '@nestjs/common';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { EMPTY, from, of, type Observable } from 'rxjs';
import { concatMap } from 'rxjs/operators';
import { WebSocket } from 'ws';
import { connectionIdOf } from '../connections/connection-id.js';
import type { ConnectionRateLimit } from '../rate-limit/connection-rate-limit.js';
import { MessageRateLimiter } from '../rate-limit/message-rate-limiter.js';
import { RATE_LIMIT_CLOCK, type RateLimitClock } from '../rate-limit/rate-limit-clock.js';
import { RateLimitCounters } from '../rate-limit/rate-limit-counters.js';
import { CloseCode, type ErrorCode, type ErrorMessage } from '@task-status/client/protocol';
import {
  InboundConnection,
  OVER_RATE,
  type InboundConnectionOwner,
  type InboundItem,
} from './inbound-connection.js';
import type { GatewayMessageHandler, GatewayMessageTable } from './gateway-message-table.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from './gateway-options.js';
import { MAX_CLIENT_MESSAGE_NESTING, nestsDeeperThan } from '../core/json-nesting.js';

export const RATE_LIMIT_CLOSE_REASON = 'Rate limit exceeded';

type Transform = (data: unknown) => Observable<unknown>;

/** Where messages of each type go: a table shared by all connections, or one connection's own. */
interface MessageRoutes {
  /** The message types, as the `unknown_type` error lists them. */
  readonly names: string;
  handlerFor(type: string): GatewayMessageHandler | undefined;
}

/** Nest's handlers bound to one connection, as routes: used where no table could be built. */
function boundRoutes(handlers: readonly MessageMappingProperties[]): MessageRoutes {
  return {
    names: handlers.map((candidate) => String(candidate.message)).join(', '),
    handlerFor(type) {
      const handler = handlers.find((candidate) => candidate.message === type);
      return handler && ((_client, message, name) => handler.callback(message, name));
    },
  };
}

function protocolError(code: ErrorCode, message: string, field?: string): Observable<ErrorMessage> {
  // Checked here: the connection's queue stringifies whatever a handler returns, untyped.
  const frame = {
    type: 'error',
    code,
    message,
    ...(field ? { field } : {}),
  } satisfies ErrorMessage;
  return of(frame);
}

/**
 * What happens to each message a client sends, before a handler sees it: the rate limit, one
 * message at a time per connection, JSON and shape checks, and routing by `type` to the
 * gateway's @SubscribeMessage handlers. Frames that cannot be routed are answered with a
 * protocol error instead of being ignored.
 */
@Injectable()
export class InboundRouter implements InboundConnectionOwner {
  private readonly logger = new Logger(InboundRouter.name);
  private readonly rateLimiter: MessageRateLimiter;
  /** Nest's result transform, the same for every connection: kept once rather than per socket. */
  private sharedTransform: Transform | undefined;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly rateLimitCounters: RateLimitCounters,
    @Inject(RATE_LIMIT_CLOCK) rateLimitClock: RateLimitClock,
  ) {
    this.rateLimiter = new MessageRateLimiter(
      {
        perSecond: options.rateLimitPerSecond,
        burst: options.rateLimitBurst,
        maxViolations: options.rateLimitMaxViolations,
        violationWindowMs: options.rateLimitViolationWindowMs,
      },
      rateLimitClock,
    );
  }

  /**
   * One message at a time per connection (as concatMap would), so that answers leave in the
   * order the requests came, whether a handler is synchronous or not; with a plain listener and a
   * small queue instead of an rxjs pipeline per connection, which idle connections would
   * otherwise hold (see docs/benchmarks.md, S1).
   */
  bind(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: Transform,
    table?: GatewayMessageTable,
  ): void {
    // With the gateway's table, Nest's per-connection copies of its handlers are not kept.
    const shared = table?.matches(handlers) === true;
    const routes: MessageRoutes = shared ? table : boundRoutes(handlers);
    const run = shared ? (this.sharedTransform ??= transform) : transform;
    const connectionId = connectionIdOf(client);
    const rateLimit = this.rateLimiter.open(connectionId);
    new InboundConnection(client, this, routes, run, rateLimit, connectionId).listen();
  }

  /** InboundConnection's owner: a message, or one that came over the rate. */
  handle(connection: InboundConnection, item: InboundItem): Observable<unknown> {
    const { client, rateLimit } = connection;
    return item === OVER_RATE
      ? rateLimit
        ? this.answerOverRate(client, rateLimit)
        : EMPTY
      : this.route(
          client,
          item,
          connection.routes as MessageRoutes,
          connection.transform as Transform,
        );
  }

  failed(error: unknown): void {
    this.logger.error(error);
  }

  /**
   * WebSocket pings are answered by ws itself, so a ping flood would cost a pong each: they take
   * tokens from the same bucket, and over-rate ones count as violations (with no answer frame).
   */
  pinged({ client, rateLimit }: InboundConnection): void {
    if (!rateLimit || client.readyState !== WebSocket.OPEN || rateLimit.take()) return;
    this.rateLimitCounters.messagesLimited += 1;
    void rateLimit.violation().then((verdict) => {
      if (verdict === 'close') this.closeForAbuse(client);
    });
  }

  /**
   * Routes one message by its `type` (see bind() for where the routes come from). Nest's
   * bindMessageHandler passes a connection's bound handlers instead, without the client.
   */
  route(
    client: WebSocket | undefined,
    event: { data: unknown },
    routes: MessageRoutes | readonly MessageMappingProperties[],
    transform: Transform,
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
    const table = Array.isArray(routes) ? boundRoutes(routes) : (routes as MessageRoutes);
    const handler = table.handlerFor(type);
    if (!handler) {
      const shown = type.length > 32 ? `${type.slice(0, 32)}...` : type;
      return protocolError(
        'unknown_type',
        `Unknown message type ${JSON.stringify(shown)}; expected one of: ${table.names}`,
      );
    }
    try {
      return transform(handler(client, message, type));
    } catch {
      // Errors reach the client through the exception filter; a throw here must not end the stream.
      return EMPTY;
    }
  }

  /**
   * `rate_limited` while the connection has had fewer than rateLimitMaxViolations of them within
   * the window; past that it is sustained abuse, and the connection is closed with 1008.
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
}
