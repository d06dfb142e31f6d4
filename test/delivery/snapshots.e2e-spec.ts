import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TaskSnapshotReader } from '../../src/outbound/task-snapshot-reader.js';
import type { ServerMessage } from '@task-status/client/protocol';
import { GatedSnapshotReader } from '../support/gated-snapshot-reader.js';
import { taskIdOf } from '../support/pubsub-layout.js';
import { startTestApp } from '../support/test-app.js';
import { useGateway } from '../support/use-gateway.js';
import { withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const isUpdate = (taskId: string) => (m: ServerMessage) =>
  m.type === 'status_update' && m.task_id === taskId;

// In both pub/sub modes: the one channel and its keys, and the sharded layout (Redis 7).
for (const pubsubMode of ['channel', 'sharded'] as const) {
  describe(`snapshot on subscribe, ordering and terminal states (${pubsubMode} mode)`, () => {
    const fixture = useGateway({
      settings: { pubsubMode, partitions: 64 },
      start: {
        configure: (builder) =>
          builder.overrideProvider(TaskSnapshotReader).useClass(GatedSnapshotReader),
      },
    });
    const reader = (): GatedSnapshotReader => fixture.gateway.app.get(TaskSnapshotReader);

    after(() => reader().release());

    /** What the documented backend integration does: keep the state, then publish it. */
    async function publishState(state: Record<string, unknown>, { publish = true } = {}) {
      const json = JSON.stringify(state);
      const taskId = taskIdOf(state);
      const transaction = fixture.publisher.multi().setex(fixture.stateKeyOf(taskId), 3600, json);
      if (publish) fixture.publishIn(transaction, taskId, json);
      await transaction.exec();
    }

    it('sends the stored state after subscribed, marked as a snapshot', async () => {
      await publishState(
        { task_id: 'snap-1', status: 'processing', progress: 40, message: 'Fetching' },
        { publish: false },
      );
      const client = await fixture.connect();
      client.send({ type: 'subscribe', task_id: 'snap-1' });
      const [subscribed, snapshot] = await client.take(2);
      assert.equal(subscribed.type, 'subscribed');
      assert.deepEqual(snapshot, {
        type: 'status_update',
        task_id: 'snap-1',
        data: { status: 'processing', progress: 40, message: 'Fetching' },
        snapshot: true,
      });
      await client.close();
    });

    it('sends nothing extra when no state is stored', async () => {
      const client = await fixture.connect();
      const readsBefore = reader().reads.length;
      await client.subscribe('snap-none');
      assert.equal(await reader().reads[readsBefore], null);
      await client.ping(); // had the read produced a frame, it would have come before the pong
      assert.deepEqual(client.updates(), []);
      await client.close();
    });

    it('drops the snapshot when a live update reached the client while the read was in flight', async () => {
      await publishState(
        { task_id: 'race', status: 'processing', progress: 10 },
        { publish: false },
      );
      const client = await fixture.connect();
      reader().hold();
      const readWaiting = reader().nextReadWaiting();
      client.send({ type: 'subscribe', task_id: 'race' });
      await client.next((m) => m.type === 'subscribed');
      // The read has fetched progress 10 and is held before answering.
      await withTimeout(readWaiting, 5_000, 'the snapshot read');

      await publishState({ task_id: 'race', status: 'processing', progress: 20 });
      const live = await client.next(isUpdate('race'));
      assert.ok(live.type === 'status_update');
      assert.equal(live.data.progress, 20);

      const pending = reader().reads[reader().reads.length - 1];
      reader().release();
      assert.equal((JSON.parse((await pending) ?? 'null') as { progress: number }).progress, 10);
      await client.ping();
      assert.deepEqual(
        client.updates('race').map((m) => (m.type === 'status_update' ? m.data.progress : null)),
        [20],
        'the older snapshot must not follow the newer live update',
      );
      await client.close();
    });

    it('still sends a held snapshot when nothing newer arrived meanwhile', async () => {
      await publishState({ task_id: 'held', status: 'queued', progress: 0 }, { publish: false });
      const client = await fixture.connect();
      reader().hold();
      const readWaiting = reader().nextReadWaiting();
      await client.subscribe('held');
      await withTimeout(readWaiting, 5_000, 'the snapshot read');
      reader().release();
      const snapshot = await client.next(isUpdate('held'));
      assert.ok(snapshot.type === 'status_update' && snapshot.snapshot === true);
      assert.equal(snapshot.data.status, 'queued');
      await client.close();
    });

    it('never delivers an older version after a newer one', async () => {
      const client = await fixture.connect();
      await client.subscribe('versioned');
      for (const version of [1, 3, 2, 4, 4]) {
        await fixture.publish({ task_id: 'versioned', status: 'processing', version });
      }
      await fixture.publish({ task_id: 'versioned', status: 'x', version: 5 });
      await client.take(5, isUpdate('versioned'));
      await client.ping();
      assert.deepEqual(
        client
          .updates('versioned')
          .map((m) => (m.type === 'status_update' ? m.data.version : null)),
        [1, 3, 4, 4, 5],
      );
      await client.close();
    });

    it('orders by updated_at when there is no version', async () => {
      const client = await fixture.connect();
      await client.subscribe('dated');
      for (const second of ['01', '03', '02', '04']) {
        await fixture.publish({
          task_id: 'dated',
          status: 'processing',
          updated_at: `2026-01-01T00:00:${second}Z`,
        });
      }
      await client.take(3, isUpdate('dated'));
      await client.ping();
      assert.deepEqual(
        client.updates('dated').map((m) => (m.type === 'status_update' ? m.data.updated_at : null)),
        ['2026-01-01T00:00:01Z', '2026-01-01T00:00:03Z', '2026-01-01T00:00:04Z'],
      );
      await client.close();
    });

    it('does not send a stored state older than what subscribers already got', async () => {
      const first = await fixture.connect();
      await first.subscribe('stale-key');
      await fixture.publish({ task_id: 'stale-key', status: 'processing', version: 7 });
      await first.next(isUpdate('stale-key'));
      // The key lags behind what was published (a publisher that stores after publishing).
      await publishState(
        { task_id: 'stale-key', status: 'processing', version: 6 },
        { publish: false },
      );

      const second = await fixture.connect();
      const readsBefore = reader().reads.length;
      await second.subscribe('stale-key');
      await reader().reads[readsBefore];
      await second.ping();
      assert.deepEqual(second.updates('stale-key'), []);
      await first.close();
      await second.close();
    });

    describe('terminal states', () => {
      it('drops late non-terminal updates once the terminal one was delivered', async () => {
        const client = await fixture.connect();
        await client.subscribe('finishing');
        await client.subscribe('sentinel');
        for (const status of ['processing', 'completed', 'processing', 'failed']) {
          await fixture.publish({ task_id: 'finishing', status });
        }
        await fixture.publish({ task_id: 'sentinel', status: 'done' });
        await client.next(isUpdate('sentinel'));
        assert.deepEqual(
          client
            .updates('finishing')
            .map((m) => (m.type === 'status_update' ? m.data.status : null)),
          ['processing', 'completed', 'failed'],
        );
        await client.close();
      });

      it('answers a subscription to a finished task with its final state at once', async () => {
        await publishState({
          task_id: 'finished',
          status: 'completed',
          progress: 100,
          result: 'ok',
        });
        const client = await fixture.connect();
        await client.subscribe('finished');
        const final = await client.next(isUpdate('finished'));
        assert.deepEqual(final, {
          type: 'status_update',
          task_id: 'finished',
          data: { status: 'completed', progress: 100, result: 'ok' },
          snapshot: true,
        });
        // A late non-terminal update after the snapshot is dropped as well.
        await fixture.publish({ task_id: 'finished', status: 'processing' });
        await client.ping();
        await fixture.publish({ task_id: 'finished', status: 'cancelled' });
        const next = await client.next(isUpdate('finished'));
        assert.ok(next.type === 'status_update');
        assert.equal(next.data.status, 'cancelled');
        await client.close();
      });
    });

    it('sends no snapshot when the key prefix is empty', async () => {
      const plain = await startTestApp({
        ...fixture.layout,
        redisUrl: fixture.redis.url,
        snapshotKeyPrefix: '',
      });
      try {
        await publishState({ task_id: 'no-snapshots', status: 'completed' }, { publish: false });
        const client = await WsTestClient.connect(plain.wsUrl);
        await client.subscribe('no-snapshots');
        await client.ping();
        // The read is skipped altogether, so nothing can be in flight behind the pong.
        assert.deepEqual(client.updates(), []);
        await fixture.publish({ task_id: 'no-snapshots', status: 'live' });
        const live = await client.next(isUpdate('no-snapshots'));
        assert.ok(live.type === 'status_update' && live.snapshot === undefined);
        await client.close();
      } finally {
        await plain.close();
      }
    });

    it('refuses subscriptions to the reserved canary task ids', async () => {
      const client = await fixture.connect();
      client.send({ type: 'subscribe', task_id: '__canary__:someone' });
      const error = await client.next();
      assert.ok(error.type === 'error');
      assert.equal(error.code, 'invalid_message');
      assert.equal(error.field, 'task_id');
      await client.close();
    });
  });
}
