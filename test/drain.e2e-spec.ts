import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisServer } from './support/redis-server.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { WsTestClient } from './support/ws-test-client.js';

describe('draining connections on shutdown', () => {
  let redis: RedisServer;
  let gateway: TestApp | undefined;

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    await gateway?.close();
    await redis?.stop();
  });

  it('closes sockets with 1001 in batches spread over the drain window, not all at once', async () => {
    gateway = await startTestApp({
      redisUrl: redis.url,
      drainWindowMs: 1_000,
      shutdownTimeoutMs: 10_000,
      canaryIntervalMs: 0,
    });
    const clients = await Promise.all(
      Array.from({ length: 60 }, () => WsTestClient.connect(gateway!.wsUrl)),
    );
    const closedAt: number[] = [];
    for (const client of clients) {
      void client.closed.then(() => closedAt.push(performance.now()));
    }

    const started = performance.now();
    await gateway.close();
    gateway = undefined;
    const closes = await Promise.all(clients.map((client) => client.closed));

    assert.ok(
      closes.every(({ code }) => code === 1001),
      'every client saw 1001',
    );
    assert.ok(closes.every(({ reason }) => reason === 'Server shutting down'));
    const offsets = closedAt.map((at) => at - started).sort((a, b) => a - b);
    const spread = offsets[offsets.length - 1] - offsets[0];
    assert.ok(spread >= 400, `closes spread over ${Math.round(spread)} ms`);
    // No 100 ms slice holds more than a third of the clients.
    const perSlice = new Map<number, number>();
    for (const offset of offsets) {
      const slice = Math.floor(offset / 100);
      perSlice.set(slice, (perSlice.get(slice) ?? 0) + 1);
    }
    const peak = Math.max(...perSlice.values());
    assert.ok(peak <= 20, `peak of ${peak} closes in one 100 ms slice`);
    console.log(
      `drain: ${clients.length} clients closed over ${Math.round(spread)} ms, peak ${peak} per 100 ms`,
    );
  });
});
