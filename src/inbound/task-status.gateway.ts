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
import {
  CloseCode,
  type AuthenticatedMessage,
  type ErrorMessage,
  type GroupSubscribedMessage,
  type GroupUnsubscribedMessage,
  type PongMessage,
  type SubscribedMessage,
  type UnsubscribedMessage,
} from '@task-status/client/protocol';
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { ConnectionSessions } from '../auth/connection-sessions.js';
import { JwtVerifier } from '../auth/jwt-verifier.js';
import type { Principal } from '../auth/principal.js';
import { AccessVerdicts } from '../auth/access-verdicts.js';
import { TokenRejectedError } from '../auth/token-rejected.error.js';
import { CLOCK, systemClock, type Clock } from '../clock/clock.js';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { connectionIdOf } from '../connections/connection-id.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { logContext } from '../logging/log-context.js';
import { drainConnections } from './connection-drain.js';
import { ConnectionHeartbeat } from './connection-heartbeat.js';
import { CANARY_TASK_PREFIX } from '../outbound/data-path-canary.js';
import { GroupSubscriptions } from '../outbound/group-subscriptions.js';
import { AuthenticateDto } from './dto/authenticate.dto.js';
import { SubscribeTaskDto } from './dto/subscribe-task.dto.js';
import { UnsubscribeTaskDto } from './dto/unsubscribe-task.dto.js';
import { ProtocolErrorException } from './protocol-error.exception.js';
import {
  CONNECTION_LIMITS_OPTIONS,
  type ResolvedConnectionLimitsOptions,
} from '../connections/connection-limits-options.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from './gateway-options.js';
import { ShardChannelSubscriptions } from '../outbound/shard-channel-subscriptions.js';
import { TaskUpdateDelivery } from '../outbound/task-update-delivery.js';
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
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    @Inject(CONNECTION_LIMITS_OPTIONS) private readonly limits: ResolvedConnectionLimitsOptions,
    private readonly registry: ConnectionRegistry<WebSocket>,
    private readonly heartbeat: ConnectionHeartbeat,
    private readonly admission: ConnectionAdmission,
    private readonly delivery: TaskUpdateDelivery,
    private readonly verifier: JwtVerifier,
    private readonly sessions: ConnectionSessions<WebSocket>,
    private readonly access: AccessVerdicts,
    private readonly shardChannels: ShardChannelSubscriptions,
    private readonly groups: GroupSubscriptions,
    // Times the shutdown drain; tests move it by hand.
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  afterInit(server: WebSocketServer): void {
    this.server = server;
    this.heartbeat.start(server);
  }

  handleConnection(client: WebSocket, request?: IncomingMessage): void {
    // With auth on, only an upgrade the adapter verified opens a socket; anything else is a bug.
    if (this.verifier.enabled && !this.sessions.open(client, request)) {
      client.terminate();
      return;
    }
    this.registry.addConnection(client);
    this.heartbeat.watch(client);
    logContext.run({ connection_id: connectionIdOf(client) }, () =>
      this.logger.debug(`Connection opened from ${request?.socket.remoteAddress ?? 'unknown'}`),
    );
  }

  handleDisconnect(client: WebSocket): void {
    this.sessions.close(client);
    const groups = [...this.registry.groupsOf(client)];
    const tasks = this.registry.removeConnection(client);
    for (const taskId of tasks) this.delivery.forget(taskId);
    this.groups.released(groups);
    logContext.run({ connection_id: connectionIdOf(client) }, () =>
      this.logger.debug(`Connection closed; ${tasks.length} subscription(s) released`),
    );
  }

  @SubscribeMessage('subscribe')
  subscribe(
    @ConnectedSocket() client: WebSocket,
    @MessageBody() { task_id, group }: SubscribeTaskDto,
  ):
    | SubscribedMessage
    | GroupSubscribedMessage
    | Promise<SubscribedMessage | GroupSubscribedMessage | undefined> {
    if (group !== undefined) return this.subscribeGroup(client, taskIdOrGroup(task_id, group));
    // The DTO's validation guarantees a task_id here.
    if (task_id === undefined) throw missingTaskId();
    if (task_id.startsWith(CANARY_TASK_PREFIX)) {
      throw new ProtocolErrorException(
        'invalid_message',
        `task_id must not start with "${CANARY_TASK_PREFIX}" (reserved)`,
        { field: 'task_id' },
      );
    }
    if (!this.verifier.enabled) return this.register(client, task_id);
    return this.subscribeIfAllowed(client, task_id);
  }

  /** Asks the access policy first; a denied task never reaches the registry, nor its snapshot. */
  private async subscribeIfAllowed(
    client: WebSocket,
    task_id: string,
  ): Promise<SubscribedMessage | undefined> {
    const principal = this.sessions.principalOf(client);
    if (!principal || !(await this.access.mayWatchTask(principal, task_id))) {
      throw new ProtocolErrorException('forbidden', 'This token does not allow that task', {
        task_id,
      });
    }
    // The policy may have taken a while: a socket that closed meanwhile must not be registered.
    if (client.readyState !== client.OPEN || !this.sessions.principalOf(client)) return undefined;
    return this.register(client, task_id);
  }

  private register(
    client: WebSocket,
    task_id: string,
  ): SubscribedMessage | Promise<SubscribedMessage | undefined> {
    if (this.shardChannels.enabled && !this.registry.tasksOf(client).has(task_id)) {
      return this.registerOnceSubscribed(client, task_id);
    }
    return this.registerNow(client, task_id);
  }

  /**
   * Sharded mode: the task's channel may not be subscribed here yet. The answer waits for the
   * SSUBSCRIBE, so that every update published after `subscribed` reaches the client (the
   * protocol's promise), and the client enters the registry only then, so that no update
   * overtakes the answer.
   */
  private async registerOnceSubscribed(
    client: WebSocket,
    task_id: string,
  ): Promise<SubscribedMessage | undefined> {
    try {
      await this.shardChannels.reserve(task_id);
      if (client.readyState !== client.OPEN) return undefined;
      return this.registerNow(client, task_id);
    } finally {
      this.shardChannels.release(task_id);
    }
  }

  private registerNow(client: WebSocket, task_id: string): SubscribedMessage {
    const result = this.registry.subscribe(client, task_id);
    if (result === 'limit_reached') {
      throw new ProtocolErrorException(
        'subscription_limit',
        `A connection may hold at most ${this.limits.maxSubscriptionsPerConnection} subscriptions; unsubscribe from a task first`,
        { task_id },
      );
    }
    // Sent after this answer: the read needs a round trip to Redis, the answer does not.
    if (result === 'subscribed') void this.delivery.subscribed(client, task_id);
    return { type: 'subscribed', task_id, message: 'Successfully subscribed' };
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(
    @ConnectedSocket() client: WebSocket,
    @MessageBody() { task_id, group }: UnsubscribeTaskDto,
  ): UnsubscribedMessage | GroupUnsubscribedMessage {
    if (group !== undefined) {
      const groupId = taskIdOrGroup(task_id, group);
      this.groups.unsubscribe(client, groupId);
      return { type: 'unsubscribed', group: groupId, message: 'Successfully unsubscribed' };
    }
    if (task_id === undefined) throw missingTaskId();
    if (this.registry.unsubscribe(client, task_id)) this.delivery.unsubscribed(client, task_id);
    return { type: 'unsubscribed', task_id, message: 'Successfully unsubscribed' };
  }

  /** A group subscription: every task whose updates name the group (docs/protocol.md#groups). */
  private subscribeGroup(
    client: WebSocket,
    group: string,
  ): GroupSubscribedMessage | Promise<GroupSubscribedMessage | undefined> {
    if (!this.verifier.enabled) return this.registerGroupWhenHeld(client, group);
    return this.subscribeGroupIfAllowed(client, group);
  }

  private async subscribeGroupIfAllowed(
    client: WebSocket,
    group: string,
  ): Promise<GroupSubscribedMessage | undefined> {
    const principal = this.sessions.principalOf(client);
    if (!principal || !(await this.access.mayWatchGroup(principal, group))) {
      throw new ProtocolErrorException('forbidden', 'This token does not allow that group', {
        group,
      });
    }
    if (client.readyState !== client.OPEN || !this.sessions.principalOf(client)) return undefined;
    return this.registerGroupWhenHeld(client, group);
  }

  /**
   * Sharded mode: as for a task, the answer waits for the SSUBSCRIBE of the group's shard
   * channel (its first watcher here), so that every update published after `subscribed` comes.
   */
  private registerGroupWhenHeld(
    client: WebSocket,
    group: string,
  ): GroupSubscribedMessage | Promise<GroupSubscribedMessage | undefined> {
    if (!this.shardChannels.enabled || this.registry.groupsOf(client).has(group)) {
      return this.registerGroup(client, group);
    }
    return this.registerGroupOnceSubscribed(client, group);
  }

  private async registerGroupOnceSubscribed(
    client: WebSocket,
    group: string,
  ): Promise<GroupSubscribedMessage | undefined> {
    try {
      await this.shardChannels.reserveGroup(group);
      if (client.readyState !== client.OPEN) return undefined;
      return this.registerGroup(client, group);
    } finally {
      this.shardChannels.releaseGroup(group);
    }
  }

  private registerGroup(client: WebSocket, group: string): GroupSubscribedMessage {
    const result = this.groups.subscribe(client, group);
    switch (result) {
      case 'limit_reached':
        throw new ProtocolErrorException(
          'subscription_limit',
          `A connection may hold at most ${this.limits.maxSubscriptionsPerConnection} subscriptions (tasks and groups); unsubscribe first`,
          { group },
        );
      case 'group_limit_reached':
        throw new ProtocolErrorException(
          'subscription_limit',
          this.limits.maxGroupsPerConnection === 0
            ? 'This server allows no group subscriptions'
            : `A connection may hold at most ${this.limits.maxGroupsPerConnection} group subscriptions; unsubscribe from a group first`,
          { group },
        );
      case 'subscribed':
        // After this answer, as for a task: the snapshots need round trips to Redis.
        void this.groups.subscribed(client, group);
        break;
      case 'already_subscribed':
        break;
    }
    return { type: 'subscribed', group, message: 'Successfully subscribed' };
  }

  @SubscribeMessage('ping')
  ping(): PongMessage {
    return { type: 'pong' };
  }

  /**
   * Replaces the connection's token. A rejected token changes nothing (the previous one stays in
   * effect); an accepted one re-arms the expiry timer, and the subscriptions it no longer allows
   * are dropped, each reported as a `forbidden` error before the answer.
   */
  @SubscribeMessage('auth')
  async authenticate(
    @ConnectedSocket() client: WebSocket,
    @MessageBody() { token }: AuthenticateDto,
  ): Promise<AuthenticatedMessage | undefined> {
    if (!this.verifier.enabled) {
      throw new ProtocolErrorException(
        'invalid_message',
        'Authentication is not enabled on this server',
      );
    }
    let principal: Principal;
    try {
      principal = await this.verifier.verify(token);
    } catch (error) {
      const reason = error instanceof TokenRejectedError ? error.message : 'Token rejected';
      throw new ProtocolErrorException(
        'unauthorized',
        `${reason}; the previous token stays in effect`,
      );
    }
    const held = [...this.registry.tasksOf(client)];
    const heldGroups = [...this.registry.groupsOf(client)];
    const [allowed, allowedGroups] = await Promise.all([
      Promise.all(held.map((taskId) => this.access.mayWatchTask(principal, taskId))),
      Promise.all(heldGroups.map((groupId) => this.access.mayWatchGroup(principal, groupId))),
    ]);
    if (client.readyState !== client.OPEN) return undefined;
    // From here on synchronous: no update for a revoked task is written after the switch.
    this.sessions.replace(client, principal);
    held.forEach((taskId, index) => {
      if (allowed[index]) return;
      if (this.registry.unsubscribe(client, taskId)) this.delivery.unsubscribed(client, taskId);
      const revoked = {
        type: 'error',
        code: 'forbidden',
        message: 'The new token does not allow this task; unsubscribed',
        task_id: taskId,
      } satisfies ErrorMessage;
      client.send(JSON.stringify(revoked));
    });
    heldGroups.forEach((groupId, index) => {
      if (allowedGroups[index]) return;
      this.groups.unsubscribe(client, groupId);
      const revoked = {
        type: 'error',
        code: 'forbidden',
        message: 'The new token does not allow this group; unsubscribed',
        group: groupId,
      } satisfies ErrorMessage;
      client.send(JSON.stringify(revoked));
    });
    return {
      type: 'authenticated',
      expires_at:
        principal.expiresAt === undefined
          ? null
          : new Date(principal.expiresAt * 1000).toISOString(),
    };
  }

  /** Refuses new upgrades, then closes every socket with 1001 so clients reconnect elsewhere. */
  async beforeApplicationShutdown(): Promise<void> {
    this.admission.close();
    this.heartbeat.stop();
    const sockets = [...(this.server?.clients ?? [])];
    if (sockets.length === 0) return;
    // The window and the handshakes share half the shutdown budget; Redis and HTTP need the rest.
    const budgetMs = Math.floor(this.options.shutdownTimeoutMs / 2);
    const windowMs = Math.min(this.options.drainWindowMs, Math.floor(budgetMs / 2));
    this.logger.log(`Closing ${sockets.length} WebSocket connection(s) over ${windowMs} ms`);
    await drainConnections(sockets, {
      windowMs,
      graceMs: budgetMs - windowMs,
      code: CloseCode.GOING_AWAY,
      reason: 'Server shutting down',
      timers: this.clock,
    });
  }
}

/** A message names a task or a group, never both. */
function taskIdOrGroup(taskId: string | undefined, group: string): string {
  if (taskId !== undefined) {
    throw new ProtocolErrorException(
      'invalid_message',
      'A message names either task_id or group, not both',
      { field: 'group' },
    );
  }
  return group;
}

function missingTaskId(): ProtocolErrorException {
  return new ProtocolErrorException('invalid_message', 'task_id is required', {
    field: 'task_id',
  });
}
