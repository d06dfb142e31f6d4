import type { INestApplication } from '@nestjs/common';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configureApplication } from '../../src/configure-application.js';
import { RedisSubscriptionStatus } from '../../src/redis/redis-subscription-status.js';
import { RedisSubscriberService } from '../../src/outbound/redis-subscriber.service.js';
import type { TaskStatusModuleOptions } from '../../src/core/task-status-module-options.js';
import { TaskStatusModule } from '../../src/core/task-status.module.js';
import { withTimeout } from './with-timeout.js';

export interface TestApp {
  app: INestApplication;
  port: number;
  httpUrl: string;
  wsUrl: string;
  /** Resolves once the Redis subscription is established (immediately if it already is). */
  subscribed(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Boots TaskStatusModule the way an importing application would, through the Nest testing module,
 * on a free loopback port, and waits until it is subscribed to Redis.
 */
export async function startTestApp(
  options: TaskStatusModuleOptions,
  {
    waitForRedis = true,
    configure = (builder) => builder,
    port: requestedPort = 0,
    beforeListen = () => undefined,
  }: {
    waitForRedis?: boolean;
    /** A port chosen beforehand (e.g. with freePort()), for a URL known before the app starts. */
    port?: number;
    /** Overrides providers, e.g. to put a test double in front of one. */
    configure?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
    /** Runs on the configured application before it listens, e.g. setupApiDocs. */
    beforeListen?: (app: INestApplication) => void;
  } = {},
): Promise<TestApp> {
  const moduleRef = await configure(
    Test.createTestingModule({
      // Heartbeats and the shutdown drain window off unless a test asks: they only add waiting.
      imports: [TaskStatusModule.forRoot({ heartbeatIntervalMs: 0, drainWindowMs: 0, ...options })],
    }),
  ).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'fatal'] });
  configureApplication(app, options.allowedOrigins ?? []);
  beforeListen(app);
  await app.listen(requestedPort, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const { port } = server.address() as AddressInfo;

  const status = app.get(RedisSubscriptionStatus);
  const subscriber = app.get(RedisSubscriberService);
  const subscribed = async (): Promise<void> => {
    if (status.isUp) return;
    await withTimeout(once(subscriber.events, 'subscribed'), 10_000, 'Redis subscription');
  };
  if (waitForRedis) await subscribed();

  return {
    app,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    subscribed,
    close: () => withTimeout(app.close(), 15_000, 'app.close()'),
  };
}
