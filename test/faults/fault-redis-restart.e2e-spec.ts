import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisSubscriberService } from '../../src/outbound/redis-subscriber.service.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const CHANNEL = 'task_status_updates';
const CLIENTS = 1_000;
const TASKS = 100;

/**
 * Fault test: Redis is SIGKILLed and restarted under load while a publisher keeps writing
 * key + publish. Afterwards every client must hold the last published state of its task.
 */
describe('Redis restarted under load', () => {
  let redis: RedisServer;
  let publisher: Redis;
  let gateway: TestApp;
  const clients: WsTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url, { maxRetriesPerRequest: null });
    publisher.on('error', () => undefined);
    gateway = await startTestApp({
      redisUrl: redis.url,
      maxConnections: CLIENTS + 10,
      canaryIntervalMs: 0,
    });
    for (let start = 0; start < CLIENTS; start += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () => WsTestClient.connect(gateway.wsUrl, {}, 10_000)),
      );
      clients.push(...batch);
    }
    await Promise.all(clients.map((client, i) => client.subscribe(`load-${i % TASKS}`)));
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await gateway?.close();
    publisher?.disconnect();
    await redis?.stop();
  });

  it('leaves every client on the last published state of its task, never going backwards', async () => {
    const lastVersion = new Map<string, number>();
    let version = 0;
    const publishOne = async (taskId: string) => {
      version += 1;
      lastVersion.set(taskId, version);
      const json = JSON.stringify({ task_id: taskId, status: 'processing', version });
      await publisher
        .multi()
        .setex(`task:status:${taskId}`, 3600, json)
        .publish(CHANNEL, json)
        .exec();
    };

    // The publisher goes on through the outage (ioredis queues while Redis is away).
    let publishing = true;
    let published = 0;
    const publisherLoop = (async () => {
      for (let round = 0; publishing && round < 100_000; round += 1) {
        await publishOne(`load-${round % TASKS}`).catch(() => undefined);
        published += 1;
      }
    })();

    await waitUntil(() => published >= 500, 10_000, 'traffic before the kill');
    const subscriber = gateway.app.get(RedisSubscriberService);
    const lost = once(subscriber.events, 'disconnected');
    const killedAt = performance.now();
    await redis.kill();
    await withTimeout(lost, 10_000, 'the gateway to notice');
    const back = once(subscriber.events, 'subscribed');
    await redis.restart();
    await withTimeout(back, 15_000, 'the gateway to resubscribe');
    await waitUntil(() => published >= 1_500, 15_000, 'traffic after the restart');
    publishing = false;
    await withTimeout(publisherLoop, 15_000, 'the publisher to stop');
    // A final state for every task, written after the restart (the restart emptied Redis).
    for (let i = 0; i < TASKS; i += 1) await publishOne(`load-${i}`);
    const publishedAt = performance.now();

    const latestOf = (client: WsTestClient, taskId: string) => {
      const updates = client.updates(taskId);
      const last = updates[updates.length - 1];
      return last?.type === 'status_update' ? last.data.version : undefined;
    };
    const stale = () =>
      clients.filter((client, i) => {
        const taskId = `load-${i % TASKS}`;
        return latestOf(client, taskId) !== lastVersion.get(taskId);
      }).length;
    await waitUntil(() => stale() === 0, 20_000, 'every client to converge');
    const convergedMs = performance.now() - publishedAt;

    let backwards = 0;
    for (const client of clients) {
      const versions = client
        .updates()
        .map((m) => (m.type === 'status_update' ? (m.data.version as number) : 0));
      for (let k = 1; k < versions.length; k += 1)
        if (versions[k] < versions[k - 1]) backwards += 1;
    }
    assert.equal(stale(), 0);
    assert.equal(backwards, 0, 'no client saw an older state after a newer one');
    console.log(
      `redis restart under load: ${CLIENTS} clients, ${TASKS} tasks, ${version} updates published, ` +
        `outage handled in ${Math.round(publishedAt - killedAt)} ms, converged ${Math.round(convergedMs)} ms ` +
        `after the last publish, stale clients 0, backwards 0`,
    );
  });
});
