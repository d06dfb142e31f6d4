import { Inject, Injectable } from '@nestjs/common';
import type { WebSocket, WebSocketServer } from 'ws';
import { CLOCK, systemClock, type Clock, type ClockTimer } from '../clock/clock.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from './gateway-options.js';

/**
 * Protocol-level keepalive: every interval each socket that answered the previous ping gets a
 * new one, and each that did not is terminated (its close handler then frees its subscriptions).
 */
@Injectable()
export class ConnectionHeartbeat {
  private readonly awaitingPong = new WeakSet<WebSocket>();
  private timer: ClockTimer | undefined;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly counters: DeliveryCounters,
    // Times the beats; tests move it by hand.
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** One listener for every socket (ws calls it with the socket as `this`): no closure each. */
  private readonly onPong = ((awaitingPong) =>
    function (this: WebSocket): void {
      awaitingPong.delete(this);
    })(this.awaitingPong);

  watch(socket: WebSocket): void {
    socket.on('pong', this.onPong);
  }

  start(server: WebSocketServer): void {
    if (this.options.heartbeatIntervalMs <= 0 || this.timer) return;
    this.timer = this.clock.setInterval(() => this.beat(server), this.options.heartbeatIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  private beat(server: WebSocketServer): void {
    for (const socket of server.clients) {
      if (this.awaitingPong.has(socket)) {
        this.counters.heartbeatTerminations += 1;
        socket.terminate();
        continue;
      }
      this.awaitingPong.add(socket);
      socket.ping();
    }
  }
}
