import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLOCK } from '../../src/clock/clock.js';
import { ManualClock } from '../support/manual-clock.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const CLIENTS = 60;
const DRAIN_WINDOW_MS = 1_000;
// 60 sockets over 1000 ms with batches at least 100 ms apart.
const BATCHES = 10;
const BATCH_SIZE = 6;
const SLOT_MS = DRAIN_WINDOW_MS / BATCHES;

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
    // The drain's batches fire when this clock is moved, not when a loaded machine gets round
    // to them: a late timer would otherwise land several batches in the same instant.
    const clock = new ManualClock();
    gateway = await startTestApp(
      {
        redisUrl: redis.url,
        drainWindowMs: DRAIN_WINDOW_MS,
        shutdownTimeoutMs: 10_000,
        canaryIntervalMs: 0,
      },
      { configure: (builder) => builder.overrideProvider(CLOCK).useValue(clock) },
    );
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, () => WsTestClient.connect(gateway!.wsUrl)),
    );
    const isClosed = clients.map(() => false);
    clients.forEach((client, i) => void client.closed.then(() => (isClosed[i] = true)));
    const closedCount = () => isClosed.filter(Boolean).length;
    const stillOpen = () => clients.filter((_, i) => !isClosed[i]);

    const scheduled = clock.nextScheduled();
    const closing = gateway.close();
    gateway = undefined;
    await withTimeout(scheduled, 5_000, 'the drain to schedule its batches');

    // Every batch but the first has a timer at its slot, moved by at most a quarter of a slot;
    // the last timer is the deadline (window plus grace, half the shutdown budget).
    const pending = clock.pending();
    assert.equal(pending.length, BATCHES, `timers pending: ${pending.join(', ')}`);
    assert.equal(pending[BATCHES - 1], 5_000);
    const batchDelays = pending.slice(0, BATCHES - 1);
    batchDelays.forEach((delay, i) => {
      const slot = (i + 1) * SLOT_MS;
      assert.ok(Math.abs(delay - slot) <= SLOT_MS / 4, `batch ${i + 1} at ${delay} ms`);
    });

    for (let batch = 0; batch < BATCHES; batch += 1) {
      // The first batch goes at once; each later one only when its timer fires.
      if (batch > 0) clock.runNext();
      const expected = (batch + 1) * BATCH_SIZE;
      await waitUntil(() => closedCount() >= expected, 5_000, `${expected} clients closed`);
      assert.equal(closedCount(), expected, `after batch ${batch}`);
      // The others have not been told to close: they are still served.
      await Promise.all(stillOpen().map((client) => client.ping()));
    }
    await withTimeout(closing, 15_000, 'app.close()');

    const closes = await Promise.all(clients.map((client) => client.closed));
    assert.ok(
      closes.every(({ code }) => code === 1001),
      'every client saw 1001',
    );
    assert.ok(closes.every(({ reason }) => reason === 'Server shutting down'));
    console.log(
      `drain: ${CLIENTS} clients closed in ${BATCHES} batches, at 0, ${batchDelays.map(Math.round).join(', ')} ms`,
    );
  });
});
