import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, RedisServer } from '../support/redis-server.js';
import { SseTestClient } from '../support/sse-test-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { CHANNEL } from '../support/use-gateway.js';

/**
 * A stream the server ends (shutdown) and a client that comes back with Last-Event-ID, over raw
 * HTTP: two gateways in turn on the same port, against one Redis, as across a rolling restart.
 */
describe('Server-Sent Events: end on shutdown, resume with Last-Event-ID', () => {
  let redis: RedisServer;
  let publisher: Redis;
  const apps: TestApp[] = [];
  const clients: SseTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const app of apps) await app.close();
    publisher?.disconnect();
    await redis?.stop();
  });

  async function state(update: Record<string, unknown>, publish: boolean): Promise<void> {
    const json = JSON.stringify(update);
    const transaction = publisher.multi().set(`task:status:${String(update.task_id)}`, json);
    if (publish) transaction.publish(CHANNEL, json);
    await transaction.exec();
  }

  async function start(port: number): Promise<TestApp> {
    const app = await startTestApp(
      { redisUrl: redis.url, sseRetryMs: 250, sseRetryJitterMs: 0, canaryIntervalMs: 0 },
      { port },
    );
    apps.push(app);
    return app;
  }

  async function open(url: string, headers?: Record<string, string>): Promise<SseTestClient> {
    const client = await SseTestClient.open(url, headers);
    clients.push(client);
    return client;
  }

  it('ends the stream with a retry advice; the resumed stream skips what was seen', async () => {
    const port = await freePort();
    const first = await start(port);
    await state({ task_id: 'res-a', status: 'running', version: 1 }, false);
    await state({ task_id: 'res-b', status: 'running', version: 1 }, false);
    const url = `${first.httpUrl}/tasks/events?task_id=res-a&task_id=res-b`;
    const client = await open(url);
    await client.waitForEvents('status_update', 2);
    await state({ task_id: 'res-a', status: 'running', version: 2 }, true);
    await client.waitForEvents('status_update', 3);

    await first.close();
    await client.whenEnded();
    assert.deepEqual(client.comments.slice(-1), [' close 1001 Server shutting down']);
    assert.deepEqual(client.retries, [250, 250]);
    const lastEventId = client.events.at(-1)?.lastEventId;
    assert.equal(lastEventId, 'res-a:v2');

    // While no gateway runs: b moves on, a does not.
    await state({ task_id: 'res-b', status: 'running', version: 2 }, true);
    const second = await start(port);
    const resumed = await open(url, { 'Last-Event-ID': lastEventId ?? '' });
    await resumed.waitForEvents('subscribed', 2);
    const [snapshot] = await resumed.waitForEvents('status_update', 1);
    assert.equal(snapshot.id, 'res-b:v2');
    await state({ task_id: 'res-a', status: 'completed', version: 3 }, true);
    await resumed.waitForEvents('status_update', 2);
    assert.deepEqual(
      resumed.named('status_update').map((event) => event.id),
      ['res-b:v2', 'res-a:v3'],
      'a at v2 was seen: not sent again',
    );
    assert.equal(second.port, port);
  });
});
