import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { WebSocket } from 'ws';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import type { LiveUpdateRun } from './live-update-run.js';
import { CloseCode } from '@task-status/client/protocol';
import { SocketBacklog } from './socket-backlog.js';
import { checkWsInternals, rawTransportOf } from './ws-internals.js';
import { DELIVERY_OPTIONS, type ResolvedDeliveryOptions } from './delivery-options.js';
import { EventStreamSubscriber, type TaskSubscriber } from './event-stream-subscriber.js';

const SEND_AS_TEXT = { binary: false } as const;
const FLUSH_INTERVAL_MS = 20;
/**
 * Stalled sockets closed per flush at most: clients that stalled together (a network outage) are
 * closed over a few flushes, so that the work does not delay the live ones in one burst.
 */
const STALL_CLOSES_PER_FLUSH = 20;

/**
 * Keeps a client that stops reading from growing the gateway's memory or delaying anyone else.
 * While a socket's send buffer is above WS_BACKPRESSURE_BYTES, frames for it are held back and
 * coalesced to the newest per task (a terminal state is never replaced), then flushed as the
 * buffer drains. Past WS_SLOW_CLIENT_MAX_BYTES (buffered + held) it is closed with 1013, and so
 * is one that has read nothing for WS_SLOW_CLIENT_STALL_MS while held back: a client that stopped
 * reading altogether would otherwise pin its kernel socket buffers (megabytes, in no process's
 * RSS) until the heartbeat ends it. Server-Sent Events streams are bounded by the same limits and
 * counted in the same counters; what is held for them is event text, and "closed" ends the stream.
 */
@Injectable()
export class SlowConsumerGuard implements OnModuleDestroy {
  private readonly backlogs = new Map<TaskSubscriber, SocketBacklog>();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    @Inject(DELIVERY_OPTIONS) private readonly options: ResolvedDeliveryOptions,
    private readonly counters: DeliveryCounters,
  ) {
    checkWsInternals();
  }

  /** Sockets currently held back. */
  get backloggedCount(): number {
    return this.backlogs.size;
  }

  /** The live path: one write of the run's frames unless this socket is (or becomes) slow. */
  sendRun(socket: WebSocket, run: LiveUpdateRun, wire: Buffer): void {
    const backlog = this.backlogFor(socket);
    if (backlog) {
      this.hold(socket, backlog, run.taskId, run.payloads, run.terminals, true);
      return;
    }
    const transport = rawTransportOf(socket);
    if (transport) transport.write(wire);
    else for (const payload of run.payloads) socket.send(payload, SEND_AS_TEXT);
    this.counters.framesDelivered += run.payloads.length;
  }

  /** The live path of an event stream: the run's events in one write, unless it is (or becomes) slow. */
  sendEvents(stream: EventStreamSubscriber, run: LiveUpdateRun): void {
    const backlog = this.backlogFor(stream);
    if (backlog) {
      this.hold(stream, backlog, run.taskId, run.events(), run.terminals, true);
      return;
    }
    stream.send(run.eventWire());
    this.counters.framesDelivered += run.payloads.length;
    this.counters.eventStreamFramesDelivered += run.payloads.length;
  }

  /**
   * One message (a snapshot), already encoded for the subscriber's transport: a plain send unless
   * it is (or becomes) slow.
   */
  send(socket: TaskSubscriber, taskId: string, frame: Buffer, terminal: boolean): void {
    const backlog = this.backlogFor(socket);
    if (backlog) this.hold(socket, backlog, taskId, [frame], [terminal], false);
    else socket.send(frame, SEND_AS_TEXT);
  }

  /**
   * The socket's subscription to the task ended (unsubscribe, or a token that no longer allows
   * it): what is held back for that task is never written, so no update follows the answer.
   */
  forgetTask(socket: TaskSubscriber, taskId: string): void {
    if (this.backlogs.size === 0) return;
    const backlog = this.backlogs.get(socket);
    if (!backlog) return;
    this.counters.framesDropped += backlog.remove(taskId);
    if (backlog.byTask.size === 0) this.backlogs.delete(socket);
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const socket of this.backlogs.keys()) this.drop(socket);
  }

  /** The socket's backlog when its frames are to be held back (started now if it just fell behind). */
  private backlogFor(socket: TaskSubscriber): SocketBacklog | undefined {
    if (this.backlogs.size > 0) {
      const backlog = this.backlogs.get(socket);
      if (backlog) return backlog;
    }
    if (socket.bufferedAmount <= this.options.backpressureBytes) return undefined;
    const backlog = new SocketBacklog(socket.bufferedAmount, performance.now());
    this.backlogs.set(socket, backlog);
    this.counters.slowConsumers += 1;
    this.timer ??= setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    return backlog;
  }

  private hold(
    socket: TaskSubscriber,
    backlog: SocketBacklog,
    taskId: string,
    frames: readonly Buffer[],
    terminals: readonly boolean[],
    update: boolean,
  ): void {
    for (let index = 0; index < frames.length; index += 1) {
      const replaced = backlog.add(taskId, {
        frame: frames[index],
        terminal: terminals[index],
        update,
      });
      if (replaced?.update) this.counters.framesCoalesced += 1;
    }
    if (socket.bufferedAmount + backlog.bytes > this.options.slowClientMaxBytes) {
      this.closeSlow(socket, 'Client too slow to keep up');
    }
  }

  /**
   * Its held-back frames are dropped, so the close frame is the next thing written; it still waits
   * behind what the socket already buffered, so the client sees 1013 once it has read that. One
   * that reads nothing will never answer the handshake: it is cut off after the grace.
   */
  private closeSlow(socket: TaskSubscriber, reason: string): void {
    this.drop(socket);
    this.counters.slowConsumerCloses += 1;
    socket.close(CloseCode.TRY_AGAIN_LATER, reason);
    const cutOff = setTimeout(() => socket.terminate(), this.options.slowClientCloseGraceMs);
    cutOff.unref();
    socket.once('close', () => clearTimeout(cutOff));
  }

  /** Lets go of a socket's backlog: its frames will never be written. */
  private drop(socket: TaskSubscriber): void {
    const backlog = this.backlogs.get(socket);
    if (!backlog) return;
    this.backlogs.delete(socket);
    this.counters.framesDropped += backlog.updateCount();
  }

  private flush(): void {
    const now = performance.now();
    const stallMs = this.options.slowClientStallMs;
    let stallCloses = 0;
    for (const [socket, backlog] of this.backlogs) {
      if (socket.readyState !== WebSocket.OPEN) {
        this.drop(socket);
        continue;
      }
      if (socket.bufferedAmount < backlog.lastBuffered) backlog.drainedAt = now;
      else if (
        stallMs > 0 &&
        now - backlog.drainedAt >= stallMs &&
        stallCloses < STALL_CLOSES_PER_FLUSH
      ) {
        stallCloses += 1;
        this.closeSlow(socket, 'Client stopped reading');
        continue;
      }
      const stream = socket instanceof EventStreamSubscriber;
      for (const [taskId, frames] of backlog.byTask) {
        if (socket.bufferedAmount > this.options.backpressureBytes) break;
        for (const { frame, update } of frames) {
          socket.send(frame, SEND_AS_TEXT);
          backlog.bytes -= frame.length;
          if (!update) continue;
          this.counters.framesDelivered += 1;
          if (stream) this.counters.eventStreamFramesDelivered += 1;
        }
        backlog.byTask.delete(taskId);
      }
      backlog.lastBuffered = socket.bufferedAmount;
      if (backlog.byTask.size === 0) this.backlogs.delete(socket);
    }
    if (this.backlogs.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
