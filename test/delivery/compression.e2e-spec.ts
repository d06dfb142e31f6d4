import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WsTestClient } from '../support/ws-test-client.js';

const CHANNEL = 'task_status_updates';

describe('permessage-deflate', () => {
  let redis: RedisServer;
  let publisher: Redis;
  const apps: TestApp[] = [];
  const clients: WsTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(apps.map((app) => app.close()));
    publisher?.disconnect();
    await redis?.stop();
  });

  async function updatesThrough(perMessageDeflate: boolean, taskId: string) {
    const app = await startTestApp({ redisUrl: redis.url, perMessageDeflate });
    apps.push(app);
    const client = await WsTestClient.connect(app.wsUrl, { perMessageDeflate: true });
    clients.push(client);
    await client.subscribe(taskId);
    // One round trip: the gateway reads them in few reads, so several share a run.
    const pipeline = publisher.pipeline();
    for (let seq = 0; seq < 50; seq += 1) {
      pipeline.publish(CHANNEL, JSON.stringify({ task_id: taskId, status: 'processing', seq }));
    }
    await pipeline.exec();
    const updates = await client.take(50, (m) => m.type === 'status_update', 5_000);
    return { client, seqs: updates.map((m) => (m.type === 'status_update' ? m.data.seq : -1)) };
  }

  it('is not offered by default; updates arrive uncompressed, in order', async () => {
    const { client, seqs } = await updatesThrough(false, 'deflate-off');
    assert.equal(client.socket.extensions, '');
    assert.deepEqual(
      seqs,
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  it('WS_PER_MESSAGE_DEFLATE / perMessageDeflate: negotiated, and every update arrives in order', async () => {
    const { client, seqs } = await updatesThrough(true, 'deflate-on');
    assert.match(client.socket.extensions, /permessage-deflate/);
    assert.deepEqual(
      seqs,
      Array.from({ length: 50 }, (_, i) => i),
    );
  });
});
