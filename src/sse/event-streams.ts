import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import {
  CloseCode,
  type ErrorMessage,
  type GroupSubscribedMessage,
  type SubscribedMessage,
  type TaskStatusData,
} from '@task-status/client/protocol';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConnectionSessions } from '../auth/connection-sessions.js';
import { JwtVerifier } from '../auth/jwt-verifier.js';
import { AccessVerdicts } from '../auth/access-verdicts.js';
import { CLOCK, systemClock, type Clock, type ClockTimer } from '../clock/clock.js';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import {
  CONNECTION_LIMITS_OPTIONS,
  type ResolvedConnectionLimitsOptions,
} from '../connections/connection-limits-options.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { OpenConnections } from '../connections/open-connections.js';
import { ConnectionGate } from '../core/connection-gate.js';
import { DELIVERY_OPTIONS, type ResolvedDeliveryOptions } from '../outbound/delivery-options.js';
import type { TaskSubscriber } from '../outbound/event-stream-subscriber.js';
import { GroupSubscriptions } from '../outbound/group-subscriptions.js';
import { ShardChannelSubscriptions } from '../outbound/shard-channel-subscriptions.js';
import { TaskUpdateDelivery } from '../outbound/task-update-delivery.js';
import { InvalidStreamRequestError, parseEventStreamRequest } from './event-stream-request.js';
import { releaseStartedResponse } from './release-started-response.js';
import { closingText, SseConnection } from './sse-connection.js';
import { SSE_OPTIONS, type ResolvedSseOptions } from './sse-options.js';

const HEARTBEAT = Buffer.from(':\n\n');
/** Streams written per event-loop turn in a heartbeat round. */
const HEARTBEAT_SLICE = 500;

/** Headers of every stream: no cache or proxy may hold back, buffer or transform it. */
const STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

/**
 * The Server-Sent Events transport: admits a stream through ConnectionGate (the WebSocket rules),
 * subscribes it to its tasks in the shared registry (each task under the per-task policy, with
 * the WebSocket protocol's `subscribed` and `error` messages as events), and leaves delivery to
 * the shared path, which writes the same updates to streams and sockets. It keeps the streams
 * alive with `:` heartbeats and ends them on shutdown with a jittered `retry:` advice.
 */
@Injectable()
export class EventStreams implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(EventStreams.name);
  private readonly streams = new Set<SseConnection>();
  private heartbeat: ClockTimer | undefined;
  /**
   * The `close` listener of every stream, called with the stream as `this`: one function for all
   * of them rather than a closure (and once's wrapper) per stream. A stream closes once.
   */
  private readonly streamClosed: (this: SseConnection) => void;
  /** The comment that opens every stream, built once. */
  private readonly padding: string;

  constructor(
    @Inject(SSE_OPTIONS) private readonly options: ResolvedSseOptions,
    @Inject(CONNECTION_LIMITS_OPTIONS) private readonly limits: ResolvedConnectionLimitsOptions,
    @Inject(DELIVERY_OPTIONS) private readonly delivery: ResolvedDeliveryOptions,
    private readonly gate: ConnectionGate,
    private readonly openConnections: OpenConnections,
    private readonly admission: ConnectionAdmission,
    private readonly registry: ConnectionRegistry<TaskSubscriber>,
    private readonly updates: TaskUpdateDelivery,
    private readonly verifier: JwtVerifier,
    private readonly sessions: ConnectionSessions<TaskSubscriber>,
    private readonly access: AccessVerdicts,
    private readonly groups: GroupSubscriptions,
    private readonly shardChannels: ShardChannelSubscriptions,
    // Times the heartbeats and the end of the shutdown; tests move it by hand.
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.padding = options.paddingBytes > 0 ? `:${' '.repeat(options.paddingBytes)}\n` : '';
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listener's own `this` is the stream
    const streams = this;
    this.streamClosed = function (this: SseConnection) {
      streams.release(this);
    };
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  onModuleInit(): void {
    this.openConnections.count('sse', () => this.streams.size);
    if (this.options.heartbeatMs <= 0) return;
    this.heartbeat = this.clock.setInterval(() => this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * Serves one `GET /tasks/events` (or `/tasks/{task_id}/events`): 400 for a request that names
   * no valid task, the gate's status for a refused one, else the stream.
   */
  open(request: IncomingMessage, response: ServerResponse, pathTaskId?: string): void {
    let asked: ReturnType<typeof parseEventStreamRequest>;
    try {
      asked = parseEventStreamRequest(
        request.url ?? '/',
        headerValue(request.headers['last-event-id']),
        pathTaskId,
      );
    } catch (error) {
      if (!(error instanceof InvalidStreamRequestError)) throw error;
      return refuse(response, 400, error.message);
    }
    this.gate.verify(request, response, (accepted, status = 503, message = '', headers = {}) => {
      // An EventSource gives up for good on any refusal: while shutting down (refused, counted
      // as such) it gets a stream that ends at once with the retry advice, and comes back later,
      // to another instance or to this one restarted.
      if (!accepted && !this.admission.accepting) return this.endAtOnce(response);
      if (!accepted) return refuse(response, status, message, headers);
      if (request.socket.destroyed || response.destroyed) return;
      // In the tick that accepted: the stream counts against the limit from here on.
      const stream = this.start(request, response);
      void this.subscribeAll(stream, asked.taskIds, asked.resume).then(() =>
        this.subscribeGroups(stream, asked.groupIds, asked.resume),
      );
    });
  }

  /** Ends every stream with a retry advice, so clients reconnect (elsewhere), spread by its jitter. */
  async beforeApplicationShutdown(): Promise<void> {
    this.admission.close();
    this.clock.clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const streams = [...this.streams];
    if (streams.length === 0) return;
    this.logger.log(`Ending ${streams.length} event stream(s)`);
    const closed = streams.map((stream) => once(stream, 'close'));
    for (const stream of streams) stream.close(CloseCode.GOING_AWAY, 'Server shutting down');
    let deadline: ClockTimer | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        deadline = this.clock.setTimeout(resolve, this.delivery.slowClientCloseGraceMs);
      }),
    ]);
    this.clock.clearTimeout(deadline);
    for (const stream of streams) if (stream.readyState !== 3) stream.terminate();
  }

  /** A stream ended as every open one is on shutdown: the retry advice and close code 1001. */
  private endAtOnce(response: ServerResponse): void {
    if (response.headersSent || response.destroyed) return;
    response.writeHead(200, STREAM_HEADERS);
    response.end(
      this.padding + closingText(this.retryAdvice(), CloseCode.GOING_AWAY, 'Server shutting down'),
    );
  }

  private start(request: IncomingMessage, response: ServerResponse): SseConnection {
    const retryMs = this.retryAdvice();
    const stream = new SseConnection(response, retryMs);
    this.streams.add(stream);
    this.registry.addConnection(stream);
    // With auth on, the gate verified the token and left the principal for this request.
    if (this.verifier.enabled) this.sessions.open(stream, request);
    stream.on('close', this.streamClosed);
    // A stream is quiet between updates: the server's idle timeout must not end it.
    request.socket.setTimeout(0);
    request.socket.setNoDelay(true);
    response.writeHead(200, STREAM_HEADERS);
    response.write(`${this.padding}retry: ${retryMs}\n\n`);
    releaseStartedResponse(request, response, stream.writesDirect);
    return stream;
  }

  /**
   * Subscribes the stream to each task in turn, as a WebSocket client's `subscribe` messages
   * would: the policy first (a denied task gets an `error` event, `forbidden`), then the registry
   * (past the subscription limit, `subscription_limit`), then `subscribed` and the snapshot,
   * which a resumed task gets only if it is newer than the position it had seen.
   */
  private async subscribeAll(
    stream: SseConnection,
    taskIds: readonly string[],
    resume: ReadonlyMap<string, TaskStatusData>,
  ): Promise<void> {
    for (const taskId of taskIds) {
      if (this.verifier.enabled) {
        const principal = this.sessions.principalOf(stream);
        if (!principal || !(await this.access.mayWatchTask(principal, taskId))) {
          this.sendError(stream, 'forbidden', 'This token does not allow that task', taskId);
          continue;
        }
        // The policy may have taken a while: a stream that ended meanwhile is not registered.
        if (stream.readyState !== 1) return;
      }
      const result = await this.whenHeld(stream, taskId, false, () =>
        this.registry.subscribe(stream, taskId),
      );
      if (result === undefined || stream.readyState !== 1) return;
      if (result === 'limit_reached') {
        this.sendError(
          stream,
          'subscription_limit',
          `A connection may hold at most ${this.limits.maxSubscriptionsPerConnection} subscriptions; ask for fewer tasks`,
          taskId,
        );
        continue;
      }
      if (result !== 'subscribed') continue;
      const subscribed = {
        type: 'subscribed',
        task_id: taskId,
        message: 'Successfully subscribed',
      } satisfies SubscribedMessage;
      stream.send(Buffer.from(`event: subscribed\ndata: ${JSON.stringify(subscribed)}\n\n`));
      void this.updates.subscribed(stream, taskId, resume.get(taskId));
    }
  }

  /**
   * Then each group, as a WebSocket `subscribe` with `group` would: the `groups` claim, the
   * limits (groups count in the subscription limit, and against the group limit), `subscribed`
   * with `group` and the group's snapshots. A task of the group that the stream holds on its own
   * had its snapshot already; a task named in Last-Event-ID gets its state only if newer.
   */
  private async subscribeGroups(
    stream: SseConnection,
    groupIds: readonly string[],
    resume: ReadonlyMap<string, TaskStatusData>,
  ): Promise<void> {
    for (const groupId of groupIds) {
      if (stream.readyState !== 1) return;
      if (this.verifier.enabled) {
        const principal = this.sessions.principalOf(stream);
        if (!principal || !(await this.access.mayWatchGroup(principal, groupId))) {
          this.sendGroupError(stream, 'forbidden', 'This token does not allow that group', groupId);
          continue;
        }
        if (stream.readyState !== 1) return;
      }
      const result = await this.whenHeld(stream, groupId, true, () =>
        this.groups.subscribe(stream, groupId),
      );
      if (result === undefined || stream.readyState !== 1) return;
      switch (result) {
        case 'limit_reached':
          this.sendGroupError(
            stream,
            'subscription_limit',
            `A connection may hold at most ${this.limits.maxSubscriptionsPerConnection} subscriptions (tasks and groups); ask for fewer`,
            groupId,
          );
          continue;
        case 'group_limit_reached':
          this.sendGroupError(
            stream,
            'subscription_limit',
            this.limits.maxGroupsPerConnection === 0
              ? 'This server allows no group subscriptions'
              : `A connection may hold at most ${this.limits.maxGroupsPerConnection} group subscriptions; ask for fewer groups`,
            groupId,
          );
          continue;
        case 'already_subscribed':
          continue;
        case 'subscribed':
          break;
      }
      const subscribed = {
        type: 'subscribed',
        group: groupId,
        message: 'Successfully subscribed',
      } satisfies GroupSubscribedMessage;
      stream.send(Buffer.from(`event: subscribed\ndata: ${JSON.stringify(subscribed)}\n\n`));
      void this.groups.subscribed(stream, groupId, resume);
    }
  }

  /**
   * Sharded mode: records the subscription once the task's (or group's) shard channel is held,
   * as a WebSocket `subscribe` is answered, so that every update published after `subscribed`
   * comes. Undefined when the stream ended meanwhile.
   */
  private async whenHeld<T>(
    stream: SseConnection,
    id: string,
    group: boolean,
    record: () => T,
  ): Promise<T | undefined> {
    if (!this.shardChannels.enabled) return record();
    const channels = this.shardChannels;
    try {
      await (group ? channels.reserveGroup(id) : channels.reserve(id));
      return stream.readyState === 1 ? record() : undefined;
    } finally {
      if (group) channels.releaseGroup(id);
      else channels.release(id);
    }
  }

  private release(stream: SseConnection): void {
    this.streams.delete(stream);
    this.sessions.close(stream);
    const groups = [...this.registry.groupsOf(stream)];
    for (const taskId of this.registry.removeConnection(stream)) this.updates.forget(taskId);
    this.groups.released(groups);
  }

  private sendError(
    stream: SseConnection,
    code: ErrorMessage['code'],
    message: string,
    taskId: string,
  ): void {
    const error = { type: 'error', code, message, task_id: taskId } satisfies ErrorMessage;
    stream.send(Buffer.from(`event: error\ndata: ${JSON.stringify(error)}\n\n`));
  }

  private sendGroupError(
    stream: SseConnection,
    code: ErrorMessage['code'],
    message: string,
    groupId: string,
  ): void {
    const error = { type: 'error', code, message, group: groupId } satisfies ErrorMessage;
    stream.send(Buffer.from(`event: error\ndata: ${JSON.stringify(error)}\n\n`));
  }

  /** A comment on each idle stream; one with bytes still buffered is not idle. */
  /**
   * A heartbeat round, every SSE_HEARTBEAT_MS: a stream that sent nothing since the last round
   * gets a comment, one that carried events needs none (so none is silent for two intervals).
   * Written a slice of streams per event-loop turn: 10,000 writes in one go would hold up the
   * updates behind them by tens of milliseconds.
   */
  private beat(): void {
    const streams = [...this.streams];
    const round = (from: number): void => {
      const to = Math.min(from + HEARTBEAT_SLICE, streams.length);
      for (let index = from; index < to; index += 1) streams[index].beat(HEARTBEAT);
      if (to < streams.length) setImmediate(() => round(to));
    };
    round(0);
  }

  private retryAdvice(): number {
    return this.options.retryMs + Math.floor(Math.random() * (this.options.retryJitterMs + 1));
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** A refusal before the stream starts: a JSON body, as Nest's HTTP errors have. */
function refuse(
  response: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent || response.destroyed) return;
  const body = JSON.stringify({ statusCode: status, message });
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}
