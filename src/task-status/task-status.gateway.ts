import {
  Inject,
  Logger,
  UseFilters,
  UsePipes,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { once } from 'node:events';
import { WebSocket, type WebSocketServer } from 'ws';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { ConnectionHeartbeat } from './connection-heartbeat.js';
import { SubscribeTaskDto } from './dto/subscribe-task.dto.js';
import { UnsubscribeTaskDto } from './dto/unsubscribe-task.dto.js';
import { ProtocolErrorException } from './protocol-error.exception.js';
import {
  CloseCode,
  type PongMessage,
  type SubscribedMessage,
  type UnsubscribedMessage,
} from './protocol.js';
import { TASK_STATUS_OPTIONS } from './task-status.module-definition.js';
import type { ResolvedTaskStatusOptions } from './task-status-module-options.js';
import { createWsValidationPipe } from './ws-validation.pipe.js';
import { WsExceptionFilter } from './ws-exception.filter.js';

/**
 * The WebSocket endpoint: validates client messages and records subscriptions in the registry.
 * Delivery of updates does not pass through here (see RedisSubscriberService).
 */
@WebSocketGateway({ path: '/ws' })
@UseFilters(WsExceptionFilter)
@UsePipes(createWsValidationPipe())
export class TaskStatusGateway
  implements
    OnGatewayInit<WebSocketServer>,
    OnGatewayConnection<WebSocket>,
    OnGatewayDisconnect<WebSocket>,
    BeforeApplicationShutdown
{
  private readonly logger = new Logger(TaskStatusGateway.name);
  private server: WebSocketServer | undefined;

  constructor(
    @Inject(TASK_STATUS_OPTIONS) private readonly options: ResolvedTaskStatusOptions,
    private readonly registry: ConnectionRegistry<WebSocket>,
    private readonly heartbeat: ConnectionHeartbeat,
    private readonly admission: ConnectionAdmission,
  ) {}

  afterInit(server: WebSocketServer): void {
    this.server = server;
    this.heartbeat.start(server);
  }

  handleConnection(client: WebSocket): void {
    this.registry.addConnection(client);
    this.heartbeat.watch(client);
  }

  handleDisconnect(client: WebSocket): void {
    this.registry.removeConnection(client);
  }

  @SubscribeMessage('subscribe')
  subscribe(
    @ConnectedSocket() client: WebSocket,
    @MessageBody() { task_id }: SubscribeTaskDto,
  ): SubscribedMessage {
    if (this.registry.subscribe(client, task_id) === 'limit_reached') {
      throw new ProtocolErrorException(
        'subscription_limit',
        `A connection may hold at most ${this.options.maxSubscriptionsPerConnection} subscriptions; unsubscribe from a task first`,
        { task_id },
      );
    }
    return { type: 'subscribed', task_id, message: 'Successfully subscribed' };
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(
    @ConnectedSocket() client: WebSocket,
    @MessageBody() { task_id }: UnsubscribeTaskDto,
  ): UnsubscribedMessage {
    this.registry.unsubscribe(client, task_id);
    return { type: 'unsubscribed', task_id, message: 'Successfully unsubscribed' };
  }

  @SubscribeMessage('ping')
  ping(): PongMessage {
    return { type: 'pong' };
  }

  /** Refuses new upgrades, then closes every socket with 1001 so clients reconnect elsewhere. */
  async beforeApplicationShutdown(): Promise<void> {
    this.admission.close();
    this.heartbeat.stop();
    const sockets = [...(this.server?.clients ?? [])];
    if (sockets.length === 0) return;
    this.logger.log(`Closing ${sockets.length} WebSocket connection(s)`);
    const closed = sockets.map((socket) => {
      if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
      const done = once(socket, 'close').then(() => undefined);
      socket.close(CloseCode.GOING_AWAY, 'Server shutting down');
      return done;
    });
    const graceMs = Math.floor(this.options.shutdownTimeoutMs / 2);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    // Peers that did not answer the close handshake in time are cut off.
    for (const socket of sockets) {
      if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
    }
  }
}
