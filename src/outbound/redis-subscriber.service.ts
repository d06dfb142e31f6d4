import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { WebSocket } from 'ws';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters, type DropReason } from '../connections/delivery-counters.js';
import { ThrottledLogger } from '../logging/throttled-logger.js';
import { quitGracefully } from '../redis/quit-gracefully.js';
import { RedisConnectionFactory } from '../redis/redis-connection.factory.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { CANARY_TASK_PREFIX, DataPathCanary } from './data-path-canary.js';
import { TaskUpdateDelivery } from './task-update-delivery.js';
import { parseTaskUpdate, peekTaskId, type TaskUpdate } from './task-update.parser.js';
import { REDIS_OPTIONS, type ResolvedRedisOptions } from '../redis/redis-options.js';

/** Events an importing application can listen to (`subscriber.events.on(...)`). */
export interface RedisSubscriberEvents {
  /** A well-formed update arrived (emitted before delivery, whether or not anyone here watches the task). */
  update: [update: TaskUpdate];
  /**
   * An update went to its subscribers: how many, and the seconds from the message's arrival until
   * its frame was queued for them (the writes follow within the same event-loop turn, joined
   * with the task's next updates from the same read). Timed only while someone listens.
   */
  delivered: [taskId: string, recipients: number, seconds: number];
  /** A message was dropped as malformed. */
  dropped: [reason: DropReason, payload: string];
  /** The subscription is (re-)established: updates flow again. */
  subscribed: [];
  /** The connection to Redis was lost; updates published meanwhile do not reach this instance. */
  disconnected: [];
}

/**
 * Owns the Redis subscriber connection and relays each message on the channel to the sockets
 * subscribed to its task: parsed once, serialized once, the same buffer written to every socket.
 */
@Injectable()
export class RedisSubscriberService implements OnModuleInit, OnApplicationShutdown {
  readonly events = new EventEmitter<RedisSubscriberEvents>();
  private readonly logger = new Logger(RedisSubscriberService.name);
  private readonly dropLog = new ThrottledLogger(this.logger);
  private readonly connection: Redis;
  private stopping = false;

  constructor(
    @Inject(REDIS_OPTIONS) private readonly options: ResolvedRedisOptions,
    private readonly registry: ConnectionRegistry<WebSocket>,
    private readonly counters: DeliveryCounters,
    private readonly status: RedisSubscriptionStatus,
    private readonly delivery: TaskUpdateDelivery,
    private readonly canary: DataPathCanary,
    connectionFactory: RedisConnectionFactory,
  ) {
    // Resubscription is done here on every 'ready', so that "subscribed" is known, not assumed.
    this.connection = connectionFactory.create(options.url, 'subscriber', {
      autoResubscribe: false,
    });
  }

  onModuleInit(): void {
    this.connection.on('ready', () => void this.subscribe());
    this.connection.on('close', () => this.onConnectionLost());
    this.connection.on('error', (error: Error) => this.status.recordError(error));
    // Buffers: ioredis decodes a message to a string only for 'message' listeners, and most
    // messages are dropped by their task id before they need one.
    this.connection.on('messageBuffer', (_channel: Buffer, payload: Buffer) => this.relay(payload));
    this.canary.events.on('stalled', () => this.resubscribe());
    // Not awaited: starting while Redis is unreachable is allowed; ioredis keeps retrying.
    this.connection.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.status.markClosed();
    await quitGracefully(this.connection);
  }

  /** Handles one raw message from the channel; public so that tests can drive it directly. */
  relay(raw: Buffer): void {
    const counters = this.counters;
    // Most messages on a shared channel are for tasks watched elsewhere: drop those before parsing.
    if (this.events.listenerCount('update') === 0) {
      const taskId = peekTaskId(raw);
      if (
        taskId !== undefined &&
        !this.registry.subscribersOf(taskId) &&
        !taskId.startsWith(CANARY_TASK_PREFIX)
      ) {
        counters.messagesReceived += 1;
        counters.updatesUnrouted += 1;
        return;
      }
    }
    // Timed from here: what is dropped above is not delivered, and should not pay for the clock.
    const timed = this.events.listenerCount('delivered') > 0;
    const arrivedAt = timed ? performance.now() : 0;
    const payload = raw.toString();
    const update = parseTaskUpdate(payload);
    if (typeof update === 'string') {
      counters.messagesReceived += 1;
      this.drop(update, payload);
      return;
    }
    const subscribers = this.registry.subscribersOf(update.taskId);
    // Canary task ids cannot be subscribed to, so a canary never has subscribers. Canaries are
    // the gateways' own traffic and stay out of the counts and events.
    if (!subscribers && update.taskId.startsWith(CANARY_TASK_PREFIX)) {
      if (update.taskId === this.canary.taskId) this.canary.receive(update.data);
      return;
    }
    counters.messagesReceived += 1;
    if (this.events.listenerCount('update') > 0) this.events.emit('update', update);
    if (!subscribers) {
      counters.updatesUnrouted += 1;
      return;
    }
    counters.updatesRouted += 1;
    const delivered = this.delivery.deliverLive(update, subscribers);
    if (timed) {
      this.events.emit(
        'delivered',
        update.taskId,
        delivered,
        (performance.now() - arrivedAt) / 1000,
      );
    }
  }

  private async subscribe(): Promise<void> {
    try {
      await this.connection.subscribe(this.options.channel);
      this.status.markSubscribed();
      this.canary.reset();
      this.logger.log(`Subscribed to Redis channel "${this.options.channel}"`);
      this.events.emit('subscribed');
      // Whatever was published while unsubscribed is gone from pub/sub; the stored states are not.
      void this.delivery.resync();
    } catch (error) {
      // The connection dropped mid-subscribe; the next 'ready' tries again.
      if (!this.stopping) {
        this.logger.warn(`Subscribing to "${this.options.channel}" failed: ${String(error)}`);
      }
    }
  }

  /** Drops the connection and lets ioredis reconnect; 'ready' then subscribes and resyncs. */
  private resubscribe(): void {
    if (this.stopping) return;
    this.connection.disconnect(true);
  }

  private onConnectionLost(): void {
    if (this.stopping) return;
    const wasUp = this.status.isUp;
    this.status.markDisconnected();
    if (wasUp) {
      this.logger.warn('Lost the Redis subscriber connection; reconnecting');
      this.events.emit('disconnected');
    }
  }

  private drop(reason: DropReason, payload: string): void {
    this.counters.dropped[reason] += 1;
    if (this.events.listenerCount('dropped') > 0) this.events.emit('dropped', reason, payload);
    const sample = payload.length > 120 ? `${payload.slice(0, 120)}...` : payload;
    this.dropLog.warn(`Dropped a Redis message (${reason}): ${sample}`);
  }
}
