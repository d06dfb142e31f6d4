import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import type { ServerMessage } from '@task-status/client/protocol';
import type { Principal } from '../../src/auth/principal.js';
import { TaskAccessPolicy } from '../../src/auth/task-access-policy.js';
import { RedisCommandClient } from '../../src/redis/redis-command-client.js';
import { TaskStatusCoreModule } from '../../src/core/task-status-core.module.js';
import { TaskStatusGatewayModule } from '../../src/inbound/task-status-gateway.module.js';
import { mintToken, TEST_SECRET } from '../support/auth-tokens.js';
import { type GatewayFixture, useGateway } from '../support/use-gateway.js';
import type { WsTestClient } from '../support/ws-test-client.js';

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

/** The modules an importing application composes: the core with its policy, and the gateway. */
function gatewayWith(core: DynamicModule): DynamicModule[] {
  return [core, TaskStatusGatewayModule.forRoot({ heartbeatIntervalMs: 0, drainWindowMs: 0 })];
}

async function connectAs(fixture: GatewayFixture, sub: string): Promise<WsTestClient> {
  // The tasks claim allows everything: only the custom policy decides here.
  const token = await mintToken({ sub, tasks: ['*'] });
  return fixture.connect({ headers: { Authorization: `Bearer ${token}` } });
}

const forbidden = (taskId: string): ServerMessage => ({
  type: 'error',
  code: 'forbidden',
  message: 'This token does not allow that task',
  task_id: taskId,
});

describe('a custom TaskAccessPolicy', () => {
  describe('as a class with dependencies from forRootAsync imports', () => {
    const fixture = useGateway({
      start: (redis) => ({
        imports: gatewayWith(
          TaskStatusCoreModule.forRootAsync({
            imports: [TaskOwnersModule],
            useFactory: () => ({
              redis: { url: redis.url },
              auth: { jwtSecret: TEST_SECRET },
            }),
            taskAccessPolicy: TaskOwnerPolicy,
          }),
        ),
      }),
    });

    before(() => {
      const owners = fixture.gateway.app.get(TaskOwners, { strict: false });
      owners.assign('report-alice', 'alice');
      owners.assign('report-bob', 'bob');
      owners.assign('policy-crash', 'alice');
      owners.breakLookupOf('policy-crash');
    });

    it('lets the owner subscribe and refuses everyone else, whatever the tasks claim says', async () => {
      const alice = await connectAs(fixture, 'alice');
      const bob = await connectAs(fixture, 'bob');

      await alice.subscribe('report-alice');
      bob.send({ type: 'subscribe', task_id: 'report-alice' });
      assert.deepEqual(await bob.next(), forbidden('report-alice'));
      await bob.subscribe('report-bob');

      await fixture.publish({ task_id: 'report-alice', status: 'one' });
      await fixture.publish({ task_id: 'report-bob', status: 'two' });
      await alice.next((m) => m.type === 'status_update' && m.task_id === 'report-alice');
      await bob.next((m) => m.type === 'status_update' && m.task_id === 'report-bob');
      assert.deepEqual(bob.updates('report-alice'), []);
      assert.deepEqual(alice.updates('report-bob'), []);
    });

    it('denies when the policy throws (fails closed) and keeps the connection usable', async () => {
      const alice = await connectAs(fixture, 'alice');
      alice.send({ type: 'subscribe', task_id: 'policy-crash' });
      assert.deepEqual(await alice.next(), forbidden('policy-crash'));
      await alice.subscribe('report-alice');
    });
  });

  describe('as a factory with inject, through forRoot', () => {
    const fixture = useGateway({
      start: (redis) => ({
        imports: gatewayWith(
          TaskStatusCoreModule.forRoot({
            redis: { url: redis.url },
            auth: { jwtSecret: TEST_SECRET },
            taskAccessPolicy: {
              useFactory: (commands: RedisCommandClient) => new RedisOwnerPolicy(commands),
              inject: [RedisCommandClient],
            },
          }),
        ),
      }),
    });

    before(async () => {
      await fixture.publisher.set('task:owner:export-7', 'carol');
    });

    it('asks the factory-made policy on every subscribe', async () => {
      const carol = await connectAs(fixture, 'carol');
      const dave = await connectAs(fixture, 'dave');
      await carol.subscribe('export-7');
      dave.send({ type: 'subscribe', task_id: 'export-7' });
      assert.deepEqual(await dave.next(), forbidden('export-7'));
    });
  });
});
