import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Cluster, Redis } from 'ioredis';
import { EventEmitter } from 'node:events';
import { quitGracefully } from '../redis/quit-gracefully.js';
import { RedisConnectionFactory, type RedisConnection } from '../redis/redis-connection.factory.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { SubscriberPushReader } from '../redis/subscriber-push-reader.js';
import { SubscriberSocketConnector } from '../redis/subscriber-socket-connector.js';
import { ClusterTopologyWatcher } from './cluster-topology-watcher.js';
import { DataPathCanary } from './data-path-canary.js';
import { LiveUpdateRelay } from './live-update-relay.js';
import { shardChannelTaskId } from './shard-channel-task.js';
import { ShardChannelSubscriptions } from './shard-channel-subscriptions.js';
import { TaskUpdateDelivery } from './task-update-delivery.js';
import { REDIS_OPTIONS, type ResolvedRedisOptions } from '../redis/redis-options.js';

/** `g`, the first byte of a group shard channel's hash tag. */
const GROUP_TAG = 0x67;

/** Events an importing application can listen to (`subscriber.events.on(...)`). */
export interface RedisSubscriberEvents {
  /** The subscription is (re-)established: updates flow again. */
  subscribed: [];
  /** The connection to Redis was lost; updates published meanwhile do not reach this instance. */
  disconnected: [];
}

/**
 * Owns the Redis subscriber connection: subscribes on every (re)connect, hands each message's
 * bytes to LiveUpdateRelay (the hot path), and resyncs stored states after a gap. In `channel`
 * mode it subscribes to the one channel; in `sharded` mode to the canary's shard channel and, via
 * ShardChannelSubscriptions, to the channel of every task watched here; on a Redis Cluster,
 * ClusterTopologyWatcher keeps those subscribed across moved slots and failovers.
 */
@Injectable()
export class RedisSubscriberService implements OnModuleInit, OnApplicationShutdown {
  readonly events = new EventEmitter<RedisSubscriberEvents>();
  private readonly logger = new Logger(RedisSubscriberService.name);
  private readonly connection: RedisConnection;
  private stopping = false;

  constructor(
    @Inject(REDIS_OPTIONS) private readonly options: ResolvedRedisOptions,
    private readonly status: RedisSubscriptionStatus,
    private readonly delivery: TaskUpdateDelivery,
    private readonly relay: LiveUpdateRelay,
    private readonly canary: DataPathCanary,
    private readonly shardChannels: ShardChannelSubscriptions,
    private readonly topology: ClusterTopologyWatcher,
    connectionFactory: RedisConnectionFactory,
  ) {
    // Resubscription is done here on every 'ready', so that "subscribed" is known, not assumed.
    // In sharded mode a (un)subscribe left over from the old connection must not be replayed
    // after the resubscription: the wanted set may have changed meanwhile.
    // On a Redis Cluster, ioredis keeps one subscriber connection per primary and routes each
    // SSUBSCRIBE (all its channels in one slot: one partition) to the owner of the slot. The
    // periodic slot refresh notices a moved slot even when no sunsubscribe push or MOVED came.
    this.connection =
      options.clusterNodes.length > 0
        ? connectionFactory.createCluster(options.clusterNodes, options.url, 'subscriber', {
            shardedSubscribers: true,
            ...(options.clusterSlotsRefreshMs > 0
              ? { slotsRefreshInterval: options.clusterSlotsRefreshMs }
              : {}),
          })
        : connectionFactory.create(options.url, 'subscriber', {
            autoResubscribe: false,
            ...(shardChannels.enabled ? { autoResendUnfulfilledCommands: false } : {}),
            // Reads the socket into one reused buffer and drops irrelevant updates there (S5).
            Connector: SubscriberSocketConnector.dropping((bytes, start, end) =>
              relay.dropUnwatched(bytes, start, end),
            ),
          });
  }

  onModuleInit(): void {
    this.connection.on('ready', () => void this.subscribe());
    this.connection.on('close', () => this.onConnectionLost());
    this.connection.on('error', (error: Error) => this.status.recordError(error));
    // Buffers: ioredis decodes a message to a string only for 'message' listeners, and most
    // messages are dropped by their task id before they need one.
    if (this.shardChannels.enabled) {
      // `{channel}:{g<p>}:…` is a group's shard channel, `{channel}:{<p>}:…` a task's: one byte
      // tells a group's copy of an update from the task's. A task's channel must carry that
      // task's updates only.
      const mark = Buffer.byteLength(this.options.channel) + 2;
      this.connection.on('smessageBuffer', (channel: Buffer, payload: Buffer) =>
        channel[mark] === GROUP_TAG
          ? this.relay.relay(payload, 'group')
          : this.relay.relay(payload, 'task', shardChannelTaskId(channel)),
      );
    } else {
      this.connection.on('messageBuffer', (_channel: Buffer, payload: Buffer) =>
        this.relay.relay(payload),
      );
    }
    // Irrelevant updates are dropped from the bytes read, before ioredis decodes them (S5 in
    // docs/benchmarks.md): by the connector's reader on plain TCP, else by a reader put in front
    // of ioredis' decoder (TLS, unix socket). A Cluster's per-node subscribers keep the path above.
    if (this.connection instanceof Redis) {
      SubscriberPushReader.attach(
        this.connection,
        (bytes, start, end) => this.relay.dropUnwatched(bytes, start, end),
        () => this.logger.warn('Redis socket not as expected; updates are read by ioredis alone'),
      );
    }
    this.canary.events.on('stalled', () => this.resubscribe());
    // Not awaited: starting while Redis is unreachable is allowed; ioredis keeps retrying.
    this.connection.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.status.markClosed();
    await quitGracefully(this.connection);
  }

  private async subscribe(): Promise<void> {
    try {
      if (this.shardChannels.enabled) {
        // On a cluster, the watcher first aims one canary at each primary of the slot map.
        const cluster = this.connection instanceof Cluster ? this.connection : undefined;
        if (cluster) this.topology.attach(cluster);
        const canaryChannels = this.canary.enabled ? this.canary.channels : [];
        await this.shardChannels.attach(this.connection, canaryChannels);
        if (cluster) this.topology.attached();
        this.logger.log(
          `Subscribed to ${this.shardChannels.channelCount} shard channel(s) of "${this.options.channel}"`,
        );
      } else {
        await this.connection.subscribe(this.options.channel);
        this.logger.log(`Subscribed to Redis channel "${this.options.channel}"`);
      }
      this.status.markSubscribed();
      this.canary.reset();
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
    this.shardChannels.detach();
    this.topology.detach();
    if (this.stopping) return;
    const wasUp = this.status.isUp;
    this.status.markDisconnected();
    if (wasUp) {
      this.logger.warn('Lost the Redis subscriber connection; reconnecting');
      this.events.emit('disconnected');
    }
  }
}
