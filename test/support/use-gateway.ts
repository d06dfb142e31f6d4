import { after, afterEach, before } from 'node:test';
import { Redis } from 'ioredis';
import type { ClientOptions } from 'ws';
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

  constructor(options: GatewayFixtureOptions = {}) {
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

  /** PUBLISH on the gateway's channel, as a worker does. */
  publish(update: Record<string, unknown>, channel = CHANNEL): Promise<number> {
    return this.publisher.publish(channel, JSON.stringify(update));
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
