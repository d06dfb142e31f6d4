import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Injectable, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerMessage } from '@task-status/client/protocol';
import type { Principal } from '../../src/auth/principal.js';
import { TaskAccessPolicy } from '../../src/auth/task-access-policy.js';
import { configureApplication } from '../../src/configure-application.js';
import { RedisCommandClient } from '../../src/redis/redis-command-client.js';
import { RedisSubscriptionStatus } from '../../src/redis/redis-subscription-status.js';
import { RedisSubscriberService } from '../../src/outbound/redis-subscriber.service.js';
import { TaskStatusCoreModule } from '../../src/core/task-status-core.module.js';
import { TaskStatusGatewayModule } from '../../src/inbound/task-status-gateway.module.js';
import { mintToken, TEST_SECRET } from '../support/auth-tokens.js';
import { RedisServer } from '../support/redis-server.js';
import { withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const CHANNEL = 'task_status_updates';

/** The host application's own record of who owns which task (a database in real life). */
@Injectable()
export class TaskOwners {
  private readonly owners = new Map<string, string>();
  private readonly unreachable = new Set<string>();

  assign(taskId: string, userId: string): void {
    this.owners.set(taskId, userId);
  }

  /** Makes the lookup of this task fail, as a database outage would. */
  breakLookupOf(taskId: string): void {
    this.unreachable.add(taskId);
  }

  async ownerOf(taskId: string): Promise<string | undefined> {
    if (this.unreachable.has(taskId)) throw new Error('lookup failed');
    return Promise.resolve(this.owners.get(taskId));
  }
}

@Module({ providers: [TaskOwners], exports: [TaskOwners] })
export class TaskOwnersModule {}

// --- The README's example (Using the module: a custom access policy), verbatim. ---

/** Only a task's owner (the token's `sub`) may watch it. */
@Injectable()
export class TaskOwnerPolicy extends TaskAccessPolicy {
  constructor(private readonly owners: TaskOwners) {
    super();
  }

  async canSubscribe(principal: Principal, taskId: string): Promise<boolean> {
    return (
      principal.subject !== undefined && (await this.owners.ownerOf(taskId)) === principal.subject
    );
  }
}

// --- end of the README example ---

/** The same policy as a factory over Redis: `GET task:owner:{id}`. */
class RedisOwnerPolicy extends TaskAccessPolicy {
  constructor(private readonly redis: RedisCommandClient) {
    super();
  }

  async canSubscribe(principal: Principal, taskId: string): Promise<boolean> {
    return (await this.redis.connection.get(`task:owner:${taskId}`)) === principal.subject;
  }
}

interface Started {
  app: INestApplication;
  wsUrl: string;
  close(): Promise<void>;
}

async function start(core: DynamicModule): Promise<Started> {
  const moduleRef = await Test.createTestingModule({
    imports: [core, TaskStatusGatewayModule.forRoot({ heartbeatIntervalMs: 0, drainWindowMs: 0 })],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'fatal'] });
  configureApplication(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  // Updates published before the subscription exists would be lost.
  if (!app.get(RedisSubscriptionStatus).isUp) {
    await withTimeout(once(app.get(RedisSubscriberService).events, 'subscribed'), 10_000, 'Redis');
  }
  return {
    app,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    close: () => withTimeout(app.close(), 15_000, 'app.close()'),
  };
}

async function connectAs(wsUrl: string, sub: string): Promise<WsTestClient> {
  // The tasks claim allows everything: only the custom policy decides here.
  const token = await mintToken({ sub, tasks: ['*'] });
  return WsTestClient.connect(wsUrl, { headers: { Authorization: `Bearer ${token}` } });
}

const forbidden = (taskId: string): ServerMessage => ({
  type: 'error',
  code: 'forbidden',
  message: 'This token does not allow that task',
  task_id: taskId,
});

describe('a custom TaskAccessPolicy', () => {
  let redis: RedisServer;
  let publisher: Redis;
  const clients: WsTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  after(async () => {
    publisher?.disconnect();
    await redis?.stop();
  });

  describe('as a class with dependencies from forRootAsync imports', () => {
    let gateway: Started;

    before(async () => {
      gateway = await start(
        TaskStatusCoreModule.forRootAsync({
          imports: [TaskOwnersModule],
          useFactory: () => ({
            redis: { url: redis.url },
            auth: { jwtSecret: TEST_SECRET },
          }),
          taskAccessPolicy: TaskOwnerPolicy,
        }),
      );
      const owners = gateway.app.get(TaskOwners, { strict: false });
      owners.assign('report-alice', 'alice');
      owners.assign('report-bob', 'bob');
      owners.assign('policy-crash', 'alice');
      owners.breakLookupOf('policy-crash');
    });

    after(async () => {
      await gateway?.close();
    });

    it('lets the owner subscribe and refuses everyone else, whatever the tasks claim says', async () => {
      const alice = await connectAs(gateway.wsUrl, 'alice');
      const bob = await connectAs(gateway.wsUrl, 'bob');
      clients.push(alice, bob);

      await alice.subscribe('report-alice');
      bob.send({ type: 'subscribe', task_id: 'report-alice' });
      assert.deepEqual(await bob.next(), forbidden('report-alice'));
      await bob.subscribe('report-bob');

      await publisher.publish(CHANNEL, JSON.stringify({ task_id: 'report-alice', status: 'one' }));
      await publisher.publish(CHANNEL, JSON.stringify({ task_id: 'report-bob', status: 'two' }));
      await alice.next((m) => m.type === 'status_update' && m.task_id === 'report-alice');
      await bob.next((m) => m.type === 'status_update' && m.task_id === 'report-bob');
      assert.deepEqual(bob.updates('report-alice'), []);
      assert.deepEqual(alice.updates('report-bob'), []);
    });

    it('denies when the policy throws (fails closed) and keeps the connection usable', async () => {
      const alice = await connectAs(gateway.wsUrl, 'alice');
      clients.push(alice);
      alice.send({ type: 'subscribe', task_id: 'policy-crash' });
      assert.deepEqual(await alice.next(), forbidden('policy-crash'));
      await alice.subscribe('report-alice');
    });
  });

  describe('as a factory with inject, through forRoot', () => {
    let gateway: Started;

    before(async () => {
      gateway = await start(
        TaskStatusCoreModule.forRoot({
          redis: { url: redis.url },
          auth: { jwtSecret: TEST_SECRET },
          taskAccessPolicy: {
            useFactory: (commands: RedisCommandClient) => new RedisOwnerPolicy(commands),
            inject: [RedisCommandClient],
          },
        }),
      );
      await publisher.set('task:owner:export-7', 'carol');
    });

    after(async () => {
      await gateway?.close();
    });

    it('asks the factory-made policy on every subscribe', async () => {
      const carol = await connectAs(gateway.wsUrl, 'carol');
      const dave = await connectAs(gateway.wsUrl, 'dave');
      clients.push(carol, dave);
      await carol.subscribe('export-7');
      dave.send({ type: 'subscribe', task_id: 'export-7' });
      assert.deepEqual(await dave.next(), forbidden('export-7'));
    });
  });
});
