import { after, afterEach, before } from 'node:test';
import { Redis } from 'ioredis';
import type { ClientOptions } from 'ws';
import {
  channelOf,
  publishIn,
  stateKeyOf,
  taskIdOf,
  type PubSubLayout,
  type Publishing,
} from './pubsub-layout.js';
import { RedisServer } from './redis-server.js';
import { startTestApp, type TestApp, type TestAppOptions } from './test-app.js';
import { WsTestClient } from './ws-test-client.js';

export const CHANNEL = 'task_status_updates';

type StartOptions = NonNullable<Parameters<typeof startTestApp>[1]>;

export interface GatewayFixtureOptions {
  /** Settings of the gateway; redisUrl is the fixture's own Redis. */
  settings?: Omit<TestAppOptions, 'redisUrl'>;
  /** Passed to startTestApp: provider overrides, a fixed port, routes before listen, modules. */
  start?: StartOptions | ((redis: RedisServer) => StartOptions);
}

/**
 * A running gateway for the tests of one `describe`: a redis-server of its own on a free port, a
 * publisher connection to it, and the app booted through the Nest testing module. Registers
 * `before`, `afterEach` and `after` hooks, so clients opened with connect() are closed after each
 * test, and everything is torn down after the last, whatever the tests did.
 */
export class GatewayFixture {
  private redisServer: RedisServer | undefined;
  private publisherConnection: Redis | undefined;
  private testApp: TestApp | undefined;
  private readonly clients: WsTestClient[] = [];
  /** Where the gateway looks for updates and states: the settings' mode, partitions, channel. */
  readonly layout: PubSubLayout;

  constructor(options: GatewayFixtureOptions = {}) {
    const { pubsubMode, partitions, channel } = options.settings ?? {};
    this.layout = { pubsubMode, partitions, channel };
    before(async () => {
      this.redisServer = await RedisServer.start();
      this.publisherConnection = new Redis(this.redisServer.url);
      const start =
        typeof options.start === 'function' ? options.start(this.redisServer) : options.start;
      this.testApp = await startTestApp(
        { ...options.settings, redisUrl: this.redisServer.url },
        start,
      );
    });
    afterEach(async () => {
      await Promise.all(this.clients.splice(0).map((client) => client.close()));
    });
    after(async () => {
      await Promise.all(this.clients.splice(0).map((client) => client.close()));
      await this.testApp?.close();
      this.publisherConnection?.disconnect();
      await this.redisServer?.stop();
    });
  }

  get redis(): RedisServer {
    return required(this.redisServer, 'redis');
  }

  /** A command connection to the fixture's Redis, as a worker would have. */
  get publisher(): Redis {
    return required(this.publisherConnection, 'publisher');
  }

  get gateway(): TestApp {
    return required(this.testApp, 'gateway');
  }

  get wsUrl(): string {
    return this.gateway.wsUrl;
  }

  get httpUrl(): string {
    return this.gateway.httpUrl;
  }

  /**
   * Publishes as a worker of the gateway's layout does: PUBLISH on its channel, or SPUBLISH on the
   * task's shard channel in sharded mode. A `channel` given explicitly is PUBLISHed to as it is.
   */
  async publish(update: Record<string, unknown>, channel?: string): Promise<number> {
    const json = JSON.stringify(update);
    if (channel !== undefined) return this.publisher.publish(channel, json);
    if (this.layout.pubsubMode !== 'sharded') return this.publisher.publish(CHANNEL, json);
    return Number(await publishIn(this.publisher, this.layout, taskIdOf(update), json));
  }

  /** Queues the publish of the layout on a pipeline or MULTI (or sends it on a connection). */
  publishIn<R>(target: Publishing<R>, taskId: string, message: string): R {
    return publishIn(target, this.layout, taskId, message);
  }

  /** The channel of a task's updates in the gateway's layout. */
  channelOf(taskId: string): string {
    return channelOf(this.layout, taskId);
  }

  /** The key of a task's stored state in the gateway's layout. */
  stateKeyOf(taskId: string, keyPrefix?: string): string {
    return stateKeyOf(this.layout, taskId, keyPrefix);
  }

  /** A WebSocket client to the gateway, closed after the test. */
  async connect(options?: ClientOptions, url = this.wsUrl): Promise<WsTestClient> {
    const client = await WsTestClient.connect(url, options);
    this.clients.push(client);
    return client;
  }
}

/** Registers the fixture's hooks in the enclosing `describe`; see GatewayFixture. */
export function useGateway(options: GatewayFixtureOptions = {}): GatewayFixture {
  return new GatewayFixture(options);
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined)
    throw new Error(
      `The gateway fixture's ${name} is not started yet (use it inside a test or hook)`,
    );
  return value;
}
