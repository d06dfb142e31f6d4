import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { publishIn, type PubSubLayout } from '../support/pubsub-layout.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WsTestClient } from '../support/ws-test-client.js';

const SHARDED: PubSubLayout = { pubsubMode: 'sharded', partitions: 64 };

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

  async function updatesThrough(
    perMessageDeflate: boolean,
    taskId: string,
    layout: PubSubLayout = {},
  ) {
    const app = await startTestApp({ redisUrl: redis.url, perMessageDeflate, ...layout });
    apps.push(app);
    const client = await WsTestClient.connect(app.wsUrl, { perMessageDeflate: true });
    clients.push(client);
    await client.subscribe(taskId);
    // One round trip: the gateway reads them in few reads, so several share a run.
    const pipeline = publisher.pipeline();
    for (let seq = 0; seq < 50; seq += 1) {
      const message = JSON.stringify({ task_id: taskId, status: 'processing', seq });
      publishIn(pipeline, layout, taskId, message);
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

  // The sharded subscriber hands the relay the same runs: one case of it is enough.
  it('negotiated in sharded mode too: every update of the shard channel arrives in order', async () => {
    const { client, seqs } = await updatesThrough(true, 'deflate-sharded', SHARDED);
    assert.match(client.socket.extensions, /permessage-deflate/);
    assert.deepEqual(
      seqs,
      Array.from({ length: 50 }, (_, i) => i),
    );
  });
});
