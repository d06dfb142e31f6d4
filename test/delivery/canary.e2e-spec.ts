import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ServerMessage } from '@task-status/client/protocol';
import { getJson, getStats } from '../support/gateway-stats.js';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil } from '../support/with-timeout.js';

const isUpdate = (taskId: string) => (m: ServerMessage) =>
  m.type === 'status_update' && m.task_id === taskId;
const CANARY_INTERVAL_MS = 100;
// Far above a round trip on a busy machine (at 600 ms a slow turn flagged a healthy path), and
// far below the time writes are held, so that the stall is seen while it lasts.
const CANARY_TIMEOUT_MS = 2_000;
const WRITES_HELD_MS = 6_000;

// Both pub/sub modes. The wedge (6 s of held writes) runs in channel mode only: SPUBLISH is held
// like PUBLISH, and the sharded canary's round trip and recovery are proven by the tests below.
for (const pubsubMode of ['channel', 'sharded'] as const) {
  describe(`readiness that proves the data path (${pubsubMode} mode)`, () => {
    const fixture = useGateway({
      settings: {
        pubsubMode,
        partitions: 64,
        canaryIntervalMs: CANARY_INTERVAL_MS,
        canaryTimeoutMs: CANARY_TIMEOUT_MS,
      },
    });

    // A test that fails while writes are held must not leave them held for the teardown.
    afterEach(() => fixture.publisher.client('UNPAUSE').catch(() => undefined));

    const ready = async () => (await getJson(`${fixture.httpUrl}/health/ready`)).status === 200;

    it('measures the round trip and keeps canaries away from clients and counts', async () => {
      await waitUntil(
        async () => (await getStats(fixture.httpUrl)).redis.canary_round_trip_ms !== null,
        5_000,
        'a canary round trip',
      );
      const stats = await getStats(fixture.httpUrl);
      assert.equal(stats.redis.data_path, 'ok');
      assert.ok((stats.redis.canary_round_trip_ms ?? -1) >= 0);
      assert.equal(stats.messages.received, 0, 'canaries are not counted as updates');
      const health = await getJson<{ checks: { redis: { canaryRoundTripMs: number } } }>(
        `${fixture.httpUrl}/health`,
      );
      assert.equal(typeof health.body.checks.redis.canaryRoundTripMs, 'number');
      assert.ok(await ready());
    });

    it(
      'fails readiness when updates stop coming back, and recovers by itself',
      { skip: pubsubMode === 'sharded' && 'channel mode only (the wedge is the same in both)' },
      async () => {
        const client = await fixture.connect();
        await client.subscribe('through-the-wedge');

        // Redis keeps the connections but holds every write (PUBLISH included): the subscription
        // looks fine, yet nothing arrives through it.
        await fixture.publisher.client('PAUSE', WRITES_HELD_MS, 'WRITE');
        const pausedAt = performance.now();
        await waitUntil(async () => !(await ready()), WRITES_HELD_MS, 'readiness to fail');
        const detectedMs = performance.now() - pausedAt;
        const stalled = await getStats(fixture.httpUrl);
        assert.equal(stalled.redis.data_path, 'stalled');

        await waitUntil(ready, WRITES_HELD_MS + 10_000, 'readiness to come back');
        const recoveredMs = performance.now() - pausedAt;
        await fixture.publish({ task_id: 'through-the-wedge', status: 'after' });
        const update = await client.next(isUpdate('through-the-wedge'), 5_000);
        assert.ok(update.type === 'status_update');
        assert.equal(update.data.status, 'after');
        await client.close();
        console.log(
          `wedged subscription (writes held ${WRITES_HELD_MS} ms, canary every ${CANARY_INTERVAL_MS} ms, ` +
            `timeout ${CANARY_TIMEOUT_MS} ms): readiness ` +
            `failed after ${Math.round(detectedMs)} ms, back after ${Math.round(recoveredMs)} ms`,
        );
      },
    );
  });

  describe(`a subscriber dropped by Redis for a full output buffer (${pubsubMode} mode)`, () => {
    const fixture = useGateway({ settings: { pubsubMode, partitions: 64, canaryIntervalMs: 0 } });

    it('reconnects, resyncs and lets its clients converge on the last state', async () => {
      const client = await fixture.connect();
      await client.subscribe('flood');
      await fixture.publisher.config('SET', 'client-output-buffer-limit', 'pubsub 64kb 32kb 1');

      // Messages far beyond the 64 KiB hard limit make Redis drop the subscriber connection.
      const pad = 'x'.repeat(256 * 1024);
      const last = 4;
      const pipeline = fixture.publisher.pipeline();
      for (let seq = 0; seq <= last; seq += 1) {
        const json = JSON.stringify({ task_id: 'flood', status: 'processing', seq, pad });
        pipeline.setex(fixture.stateKeyOf('flood'), 3600, json);
        fixture.publishIn(pipeline, 'flood', json);
      }
      const floodedAt = performance.now();
      await pipeline.exec();
      await fixture.publisher.config('SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');

      await waitUntil(
        async () => (await getStats(fixture.httpUrl)).redis.resubscriptions >= 1,
        10_000,
        'the gateway to be dropped and to resubscribe',
      );
      await waitUntil(
        () => {
          const updates = client.updates('flood');
          const latest = updates[updates.length - 1];
          return latest?.type === 'status_update' && latest.data.seq === last;
        },
        10_000,
        'the client to converge on the last state',
      );
      const seqs = client
        .updates('flood')
        .map((m) => (m.type === 'status_update' ? (m.data.seq as number) : -1));
      assert.ok(seqs.length < last + 1, `some updates were lost to the drop (${seqs.length})`);
      console.log(
        `subscriber dropped for its output buffer: ${last + 1} updates of 256 KiB published, ` +
          `${seqs.length} reached the client, which held the last state ` +
          `${Math.round(performance.now() - floodedAt)} ms after the burst`,
      );
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        'never an older state after a newer one',
      );
      await client.close();
    });
  });
}
