import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisSubscriberService } from '../../src/outbound/redis-subscriber.service.js';
import { TaskUpdateDelivery } from '../../src/outbound/task-update-delivery.js';
import type { ServerMessage } from '@task-status/client/protocol';
import { getStats } from '../support/gateway-stats.js';
import { publishIn, stateKeyOf, type PubSubLayout } from '../support/pubsub-layout.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const isUpdate = (taskId: string) => (m: ServerMessage) =>
  m.type === 'status_update' && m.task_id === taskId;
const statusesOf = (client: WsTestClient, taskId: string) =>
  client.updates(taskId).map((m) => (m.type === 'status_update' ? m.data.status : null));

// In both pub/sub modes: the one channel and its keys, and the sharded layout (Redis 7).
for (const pubsubMode of ['channel', 'sharded'] as const) {
  describe(`resync after the Redis subscription is lost (${pubsubMode} mode)`, () => {
    const layout: PubSubLayout = { pubsubMode, partitions: 64 };
    let dataDir: string;
    let redis: RedisServer;
    let publisher: Redis;
    let gateway: TestApp;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'gateway-resync-'));
      redis = await RedisServer.start({ dataDir });
      publisher = new Redis(redis.url, { maxRetriesPerRequest: null });
      publisher.on('error', () => undefined); // it reconnects by itself after the restart
      gateway = await startTestApp({
        ...layout,
        redisUrl: redis.url,
        resyncBatchSize: 100,
        canaryIntervalMs: 0,
      });
    });

    after(async () => {
      await gateway?.close();
      publisher?.disconnect();
      await redis?.stop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    const store = (taskId: string, state: Record<string, unknown>) =>
      publisher.setex(
        stateKeyOf(layout, taskId),
        3600,
        JSON.stringify({ task_id: taskId, ...state }),
      );
    const storeAndPublish = async (taskId: string, state: Record<string, unknown>) => {
      const json = JSON.stringify({ task_id: taskId, ...state });
      const transaction = publisher.multi().setex(stateKeyOf(layout, taskId), 3600, json);
      await publishIn(transaction, layout, taskId, json).exec();
    };

    it('delivers what changed while Redis was away, to the same sockets, and only that', async () => {
      const client = await WsTestClient.connect(gateway.wsUrl);
      for (const taskId of ['changed', 'unchanged', 'new-state', 'no-key']) {
        await client.subscribe(taskId);
      }
      await storeAndPublish('changed', { status: 'processing', progress: 10 });
      await storeAndPublish('unchanged', { status: 'processing', progress: 50 });
      await client.take(2, (m) => m.type === 'status_update');

      // States written while the gateway cannot hear them: the publishes are lost to pub/sub,
      // the keys are not. SAVE keeps them across the restart below.
      await store('changed', { status: 'completed', progress: 100 });
      await store('new-state', { status: 'queued', progress: 0 });
      await publisher.save();

      let closed = false;
      client.socket.once('close', () => (closed = true));
      const subscriber = gateway.app.get(RedisSubscriberService);
      const lost = once(subscriber.events, 'disconnected');
      await redis.kill();
      await withTimeout(lost, 10_000, 'the gateway to notice');
      const resubscribed = once(subscriber.events, 'subscribed');
      await redis.restart();
      await withTimeout(resubscribed, 15_000, 'the gateway to resubscribe');

      await client.next(isUpdate('changed'), 10_000);
      await client.next(isUpdate('new-state'), 10_000);
      await client.ping();
      assert.deepEqual(statusesOf(client, 'changed'), ['processing', 'completed']);
      assert.deepEqual(statusesOf(client, 'new-state'), ['queued']);
      assert.deepEqual(
        statusesOf(client, 'unchanged'),
        ['processing'],
        'no repeat of the same state',
      );
      assert.deepEqual(statusesOf(client, 'no-key'), []);
      assert.equal(closed, false, 'the client never had to reconnect');

      await waitUntil(
        async () => (await getStats(gateway.httpUrl)).redis.resubscriptions >= 1,
        5_000,
        'stats',
      );
      await client.close();
    });

    it('reads the keys of many watched tasks in pipelined batches', async () => {
      // 10 clients x 100 tasks (the default per-connection limit) = 1,000 watched tasks.
      const clients: WsTestClient[] = [];
      for (let c = 0; c < 10; c += 1) {
        const client = await WsTestClient.connect(gateway.wsUrl);
        clients.push(client);
        await Promise.all(
          Array.from({ length: 100 }, (_, i) => client.subscribe(`bulk-${c * 100 + i}`)),
        );
      }
      const pipeline = publisher.pipeline();
      for (let i = 0; i < 1_000; i += 1) {
        const taskId = `bulk-${i}`;
        pipeline.setex(
          stateKeyOf(layout, taskId),
          3600,
          JSON.stringify({ task_id: taskId, status: 'done' }),
        );
      }
      await pipeline.exec();
      const watched = (await getStats(gateway.httpUrl)).tasks_with_subscribers;
      await publisher.config('RESETSTAT');

      await gateway.app.get(TaskUpdateDelivery).resync();

      const info = await publisher.info('commandstats');
      const mgetCalls = Number(/cmdstat_mget:calls=(\d+)/.exec(info)?.[1] ?? 0);
      assert.equal(mgetCalls, Math.ceil(watched / 100), 'one MGET per batch of 100 watched tasks');
      for (const client of clients) {
        const updates = await client.take(100, (m) => m.type === 'status_update', 10_000);
        assert.equal(
          new Set(updates.map((m) => (m.type === 'status_update' ? m.task_id : ''))).size,
          100,
        );
        await client.close();
      }
    });
  });
}
