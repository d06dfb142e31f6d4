import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { ServerMessage } from '@task-status/client/protocol';
import { getStats } from '../support/gateway-stats.js';
import { publishIn, taskIdOf, type PubSubLayout } from '../support/pubsub-layout.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WsTestClient } from '../support/ws-test-client.js';

function seqs(client: WsTestClient, taskId: string): unknown[] {
  return client.updates(taskId).map((m) => (m.type === 'status_update' ? m.data.seq : undefined));
}

function isUpdateFor(taskId: string): (message: ServerMessage) => boolean {
  return (m) => m.type === 'status_update' && m.task_id === taskId;
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/**
 * Two gateway instances against one Redis, as behind a load balancer: each delivers to its own
 * clients only. In channel mode every instance receives every message; in sharded mode only
 * those of the tasks its clients watch.
 */
for (const pubsubMode of ['channel', 'sharded'] as const) {
  describe(`two gateway instances on one Redis (${pubsubMode} mode)`, () => {
    const layout: PubSubLayout = { pubsubMode, partitions: 64 };
    const sharded = pubsubMode === 'sharded';
    let redis: RedisServer;
    let publisher: Redis;
    let one: TestApp;
    let two: TestApp | undefined;
    const clients: WsTestClient[] = [];

    before(async () => {
      redis = await RedisServer.start();
      publisher = new Redis(redis.url);
      [one, two] = await Promise.all([
        startTestApp({ redisUrl: redis.url, instanceId: 'gateway-one', ...layout }),
        startTestApp({ redisUrl: redis.url, instanceId: 'gateway-two', ...layout }),
      ]);
    });

    after(async () => {
      await Promise.all(clients.map((client) => client.close()));
      await Promise.all([one?.close(), two?.close()]);
      publisher?.disconnect();
      await redis?.stop();
    });

    async function connect(app: TestApp, ...taskIds: string[]): Promise<WsTestClient> {
      const client = await WsTestClient.connect(app.wsUrl);
      clients.push(client);
      for (const taskId of taskIds) await client.subscribe(taskId);
      return client;
    }

    /** Publishes in one round trip, in array order. */
    async function publishAll(messages: readonly Record<string, unknown>[]): Promise<void> {
      const pipeline = publisher.pipeline();
      for (const message of messages) {
        publishIn(pipeline, layout, taskIdOf(message), JSON.stringify(message));
      }
      await pipeline.exec();
    }

    // Shared by the tests below, which run in order.
    let sharedOnOne: WsTestClient;
    let sharedOnTwo: WsTestClient;
    let onlyOne: WsTestClient;
    let onlyTwo: WsTestClient;
    const updates = 100;

    it('delivers each instance’s updates to its own clients, and a shared task exactly once to each', async () => {
      assert.ok(two);
      sharedOnOne = await connect(one, 'shared', 'end');
      sharedOnTwo = await connect(two, 'shared', 'end');
      onlyOne = await connect(one, 'own-one', 'end');
      onlyTwo = await connect(two, 'own-two', 'end');

      // Interleaved on the channel: shared, own-one, own-two, shared, ...
      await publishAll(
        range(updates).flatMap((seq) =>
          ['shared', 'own-one', 'own-two'].map((taskId) => ({ task_id: taskId, seq })),
        ),
      );
      await publishAll([{ task_id: 'end', status: 'done' }]);
      const all = [sharedOnOne, sharedOnTwo, onlyOne, onlyTwo];
      await Promise.all(all.map((client) => client.next(isUpdateFor('end'))));

      assert.deepEqual(seqs(sharedOnOne, 'shared'), range(updates));
      assert.deepEqual(seqs(sharedOnTwo, 'shared'), range(updates));
      assert.deepEqual(seqs(onlyOne, 'own-one'), range(updates));
      assert.deepEqual(seqs(onlyTwo, 'own-two'), range(updates));
      for (const client of all) {
        // Besides the sentinel, each client has exactly the 100 updates of its one task.
        assert.equal(client.updates().length, updates + 1);
      }
    });

    it('reports in each instance’s stats only that instance’s connections and deliveries', async () => {
      assert.ok(two);
      const [statsOne, statsTwo] = await Promise.all([
        getStats(one.httpUrl),
        getStats(two.httpUrl),
      ]);

      assert.equal(statsOne.instance_id, 'gateway-one');
      assert.equal(statsOne.total_connections, 2);
      assert.equal(statsOne.total_subscriptions, 4);
      assert.equal(statsOne.tasks_with_subscribers, 3);
      assert.deepEqual(statsOne.connections_per_task, { end: 2, 'own-one': 1, shared: 1 });

      assert.equal(statsTwo.instance_id, 'gateway-two');
      assert.equal(statsTwo.total_connections, 2);
      assert.equal(statsTwo.total_subscriptions, 4);
      assert.equal(statsTwo.tasks_with_subscribers, 3);
      assert.deepEqual(statsTwo.connections_per_task, { end: 2, 'own-two': 1, shared: 1 });

      // In channel mode both instances receive every message and route only what their own
      // clients watch; in sharded mode they receive nothing else (the other's task never arrives).
      const published = 3 * updates + 1;
      const unwatched = sharded ? 0 : updates;
      for (const [stats, own] of [
        [statsOne, 'own-one'],
        [statsTwo, 'own-two'],
      ] as const) {
        assert.equal(stats.messages.received, published - updates + unwatched, `${own}: received`);
        assert.equal(stats.messages.routed, 2 * updates + 1, `${own}: routed`);
        assert.equal(stats.messages.unrouted, unwatched, `${own}: unrouted`);
        assert.equal(stats.messages.dropped, 0, `${own}: dropped`);
        // shared + own task: one frame each; the sentinel: two frames.
        assert.equal(stats.frames_delivered, 2 * updates + 2, `${own}: frames`);
      }
    });

    it('keeps the other instance delivering while one shuts down', async () => {
      assert.ok(two);
      const closing = two;
      two = undefined;
      await closing.close();
      assert.equal((await sharedOnTwo.closed).code, 1001);
      assert.equal((await onlyTwo.closed).code, 1001);

      await publishAll([
        { task_id: 'shared', seq: updates },
        { task_id: 'end', status: 'done again' },
      ]);
      await sharedOnOne.next(isUpdateFor('end'));
      await onlyOne.next(isUpdateFor('end'));
      assert.deepEqual(seqs(sharedOnOne, 'shared'), range(updates + 1));
      const stats = await getStats(one.httpUrl);
      assert.equal(stats.instance_id, 'gateway-one');
      assert.equal(stats.total_connections, 2);
    });
  });
}
