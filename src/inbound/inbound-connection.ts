import type { Observable } from 'rxjs';
import { WebSocket } from 'ws';
import { logContext } from '../logging/log-context.js';
import type { ConnectionRateLimit } from '../rate-limit/connection-rate-limit.js';
import { ConnectionMessageQueue, type MessageQueueHandler } from './connection-message-queue.js';

/** Stands in for a message that arrived over the connection's rate: it is never read. */
export const OVER_RATE = Symbol('over rate');
export type InboundItem = { data: unknown } | typeof OVER_RATE;

/** What the router does for a connection's messages, pings and errors. */
export interface InboundConnectionOwner {
  handle(connection: InboundConnection, item: InboundItem): Observable<unknown>;
  pinged(connection: InboundConnection): void;
  failed(error: unknown): void;
}

const INBOUND = Symbol('inbound connection');
type Tagged = WebSocket & { [INBOUND]?: InboundConnection };

/**
 * One connection's inbound state, in one object: its message queue (answers in request order),
 * its rate limit, the routes and the log context. The socket's listeners are functions shared by
 * every connection that find this object on the socket, so an idle connection holds no closures
 * of its own here (docs/benchmarks.md, S1).
 */
export class InboundConnection<
  TRoutes = unknown,
  TTransform = unknown,
> implements MessageQueueHandler<InboundItem> {
  private readonly queue = new ConnectionMessageQueue<InboundItem>(this);
  /** Whatever a handler logs, now or after an await, carries the connection's id. */
  readonly context: { connection_id: string };

  constructor(
    readonly client: WebSocket,
    private readonly owner: InboundConnectionOwner,
    readonly routes: TRoutes,
    readonly transform: TTransform,
    readonly rateLimit: ConnectionRateLimit | undefined,
    connectionId: string,
  ) {
    this.context = { connection_id: connectionId };
  }

  /** Starts reading the socket's messages (and pings, while rate-limited). */
  listen(): void {
    (this.client as Tagged)[INBOUND] = this;
    this.client.on('message', onMessage);
    if (this.rateLimit) this.client.on('ping', onPing);
    this.client.on('close', onClose);
  }

  handle(item: InboundItem): Observable<unknown> {
    return logContext.run(this.context, () => this.owner.handle(this, item));
  }

  answer(response: unknown): void {
    if (this.client.readyState === WebSocket.OPEN) this.client.send(JSON.stringify(response));
  }

  fail(error: unknown): void {
    this.owner.failed(error);
  }

  received(data: Buffer, isBinary: boolean): void {
    // Nothing more is read from a connection that is being closed.
    if (this.client.readyState !== WebSocket.OPEN) return;
    // As each message arrives, before it is parsed or queued behind a slower one: an
    // over-rate message is answered (or ends the connection) without being read.
    if (this.rateLimit !== undefined && !this.rateLimit.take()) {
      this.queue.push(OVER_RATE);
      return;
    }
    // ws hands a text message over as a Buffer; handlers get the text, binary stays a Buffer.
    this.queue.push({ data: isBinary ? data : data.toString() });
  }

  pinged(): void {
    this.owner.pinged(this);
  }

  closed(): void {
    this.queue.close();
    this.rateLimit?.release();
    (this.client as Tagged)[INBOUND] = undefined;
  }

  static of(client: WebSocket): InboundConnection | undefined {
    return (client as Tagged)[INBOUND];
  }
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  InboundConnection.of(this)?.received(data, isBinary);
}

function onPing(this: WebSocket): void {
  InboundConnection.of(this)?.pinged();
}

function onClose(this: WebSocket): void {
  InboundConnection.of(this)?.closed();
}
