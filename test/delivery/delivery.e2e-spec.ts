import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerMessage } from '@task-status/client/protocol';
import { getStats, waitForStats } from '../support/gateway-stats.js';
import { taskIdOf } from '../support/pubsub-layout.js';
import { useGateway } from '../support/use-gateway.js';
import type { WsTestClient } from '../support/ws-test-client.js';

/** The `seq` of each status update for `taskId` that the client has received, in arrival order. */
function seqs(client: WsTestClient, taskId: string): unknown[] {
  return client.updates(taskId).map((m) => (m.type === 'status_update' ? m.data.seq : undefined));
}

function isUpdateFor(taskId: string): (message: ServerMessage) => boolean {
  return (m) => m.type === 'status_update' && m.task_id === taskId;
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/** A small seeded PRNG (mulberry32), so that the fan-out layout is the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `work` over `items` with at most `limit` calls in flight. */
async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(range(Math.min(limit, items.length)).map(() => worker()));
  return results;
}

// In both pub/sub modes: the one channel, and a shard channel per task (Redis 7).
for (const pubsubMode of ['channel', 'sharded'] as const) {
  describe(`delivery (${pubsubMode} mode)`, () => {
    const fixture = useGateway({ settings: { pubsubMode, partitions: 64 } });

    /** Publishes in one round trip, in array order. */
    async function publishAll(messages: readonly Record<string, unknown>[]): Promise<void> {
      const pipeline = fixture.publisher.pipeline();
      for (const message of messages) {
        fixture.publishIn(pipeline, taskIdOf(message), JSON.stringify(message));
      }
      const results = await pipeline.exec();
      for (const [error] of results ?? []) assert.equal(error, null);
    }

    /** Sends all the subscribes at once, then waits for every confirmation. */
    async function subscribeAll(client: WsTestClient, taskIds: readonly string[]): Promise<void> {
      for (const taskId of taskIds) client.send({ type: 'subscribe', task_id: taskId });
      const confirmations = await client.take(taskIds.length, (m) => m.type !== 'status_update');
      assert.deepEqual(
        confirmations.map((m) => (m.type === 'subscribed' ? m.task_id : m)),
        [...taskIds],
      );
    }

    const noConnections = () =>
      waitForStats(fixture.httpUrl, (s) => s.total_connections === 0, 'no open connections');

    it('gives each client the updates of its own tasks only', async () => {
      const [a, b, c] = await Promise.all([
        fixture.connect(),
        fixture.connect(),
        fixture.connect(),
      ]);
      // Every client also watches the sentinel: updates reach a socket in publish order, so once
      // the sentinel is in, anything meant for that client is in too.
      await subscribeAll(a, ['iso-t1', 'iso-end']);
      await subscribeAll(b, ['iso-t2', 'iso-end']);
      await subscribeAll(c, ['iso-t1', 'iso-t2', 'iso-end']);

      // iso-t10 and iso-t: ids that share a prefix with watched ones are different tasks.
      for (const taskId of ['iso-t1', 'iso-t2', 'iso-t3', 'iso-t10', 'iso-t']) {
        await fixture.publish({ task_id: taskId, status: 'processing', seq: taskId });
      }
      await fixture.publish({ task_id: 'iso-end', status: 'done' });
      await Promise.all([a, b, c].map((client) => client.next(isUpdateFor('iso-end'))));

      const tasksSeen = (client: WsTestClient) =>
        client.updates().map((m) => (m.type === 'status_update' ? m.task_id : m.type));
      assert.deepEqual(tasksSeen(a), ['iso-t1', 'iso-end']);
      assert.deepEqual(tasksSeen(b), ['iso-t2', 'iso-end']);
      assert.deepEqual(tasksSeen(c), ['iso-t1', 'iso-t2', 'iso-end']);
      assert.deepEqual(c.updates('iso-t2')[0], {
        type: 'status_update',
        task_id: 'iso-t2',
        data: { status: 'processing', seq: 'iso-t2' },
      });
    });

    it('delivers 1,000 back-to-back updates of one task to two subscribers, complete and in order', async () => {
      const [first, second] = await Promise.all([fixture.connect(), fixture.connect()]);
      await first.subscribe('order-1');
      await second.subscribe('order-1');

      const count = 1_000;
      await publishAll(
        range(count).map((seq) => ({
          task_id: 'order-1',
          status: 'processing',
          progress: seq,
          seq,
        })),
      );
      // A sentinel in the same task: a duplicate or a late copy would show up before it.
      await fixture.publish({ task_id: 'order-1', status: 'completed', seq: count });

      for (const client of [first, second]) {
        const updates = await client.take(count + 1, isUpdateFor('order-1'), 15_000);
        assert.deepEqual(
          updates.map((m) => (m.type === 'status_update' ? m.data.seq : undefined)),
          range(count + 1),
        );
        assert.deepEqual(seqs(client, 'order-1'), range(count + 1));
      }
    });

    it('fans out to 200 clients x 20 overlapping tasks: none lost, duplicated or foreign, order kept', async () => {
      const clientCount = 200;
      const tasksPerClient = 20;
      const taskPool = range(100).map((i) => `fan-${i}`);
      const updatesPerTask = 3;

      // Deterministic, overlapping draws: each task ends up with about 40 subscribers.
      const random = seededRandom(20_260_101);
      const plan = range(clientCount).map(() => {
        const chosen = new Set<string>();
        while (chosen.size < tasksPerClient) {
          chosen.add(taskPool[Math.floor(random() * taskPool.length)]);
        }
        return [...chosen];
      });
      const watchers = new Map<string, number>();
      for (const tasks of plan) for (const t of tasks) watchers.set(t, (watchers.get(t) ?? 0) + 1);
      assert.ok(
        [...watchers.values()].some((n) => n > 1),
        'the draw should make clients share tasks',
      );

      await noConnections();
      const fanClients = await mapWithConcurrency(plan, 20, async (tasks) => {
        const client = await fixture.connect();
        await subscribeAll(client, [...tasks, 'fan-end']);
        return client;
      });
      const stats = await getStats(fixture.httpUrl);
      assert.equal(stats.total_connections, clientCount);
      assert.equal(stats.total_subscriptions, clientCount * (tasksPerClient + 1));

      // Round-major, so that the updates of different tasks interleave on the channel.
      const messages = range(updatesPerTask).flatMap((seq) =>
        taskPool.map((taskId) => ({ task_id: taskId, status: 'processing', seq })),
      );
      await publishAll(messages);
      await fixture.publish({ task_id: 'fan-end', status: 'done' });
      await Promise.all(fanClients.map((client) => client.next(isUpdateFor('fan-end'), 15_000)));

      fanClients.forEach((client, index) => {
        const byTask = new Map<string, unknown[]>();
        for (const m of client.updates()) {
          if (m.type !== 'status_update' || m.task_id === 'fan-end') continue;
          byTask.set(m.task_id, [...(byTask.get(m.task_id) ?? []), m.data.seq]);
        }
        assert.deepEqual(
          [...byTask.keys()].sort(),
          [...plan[index]].sort(),
          `client ${index} received updates of exactly its tasks`,
        );
        for (const [taskId, received] of byTask) {
          assert.deepEqual(received, range(updatesPerTask), `client ${index}, ${taskId}`);
        }
        assert.equal(client.updates('fan-end').length, 1);
      });
    });

    it('stops a task’s updates at the unsubscribe confirmation, mid-stream', async () => {
      await noConnections();
      const [leaving, staying] = await Promise.all([fixture.connect(), fixture.connect()]);
      await subscribeAll(leaving, ['mid-x', 'mid-end']);
      await subscribeAll(staying, ['mid-x', 'mid-end']);

      await publishAll(range(200).map((seq) => ({ task_id: 'mid-x', seq })));
      // Unsubscribe while the first batch is still arriving.
      await leaving.next(
        (m) => m.type === 'status_update' && m.task_id === 'mid-x' && m.data.seq === 10,
      );
      leaving.send({ type: 'unsubscribe', task_id: 'mid-x' });
      await leaving.next((m) => m.type === 'unsubscribed' && m.task_id === 'mid-x');
      // Published after the server confirmed: none of these may reach the client that left.
      await publishAll(range(200).map((seq) => ({ task_id: 'mid-x', seq: 200 + seq })));
      await fixture.publish({ task_id: 'mid-end', status: 'done' });
      await Promise.all([leaving, staying].map((client) => client.next(isUpdateFor('mid-end'))));

      assert.deepEqual(seqs(staying, 'mid-x'), range(400));
      const got = seqs(leaving, 'mid-x');
      assert.ok(got.length >= 11 && got.length <= 200, `received ${got.length} updates`);
      assert.deepEqual(got, range(got.length), 'a gap-free prefix of the stream');
      const confirmedAt = leaving.received.findIndex((m) => m.type === 'unsubscribed');
      assert.equal(
        leaving.received.slice(confirmedAt).filter(isUpdateFor('mid-x')).length,
        0,
        'no update of the task after the unsubscribe confirmation',
      );

      const stats = await getStats(fixture.httpUrl);
      assert.equal(stats.total_subscriptions, 3);
      assert.deepEqual(stats.connections_per_task, { 'mid-end': 2, 'mid-x': 1 });
    });

    it('forgets every subscription of a client that disconnects, cleanly or abruptly', async () => {
      await noConnections();
      const [clean, abrupt, last] = await Promise.all([
        fixture.connect(),
        fixture.connect(),
        fixture.connect(),
      ]);
      await subscribeAll(clean, ['dc-a', 'dc-b']);
      await subscribeAll(abrupt, ['dc-a', 'dc-c']);
      await subscribeAll(last, ['dc-a']);

      let stats = await getStats(fixture.httpUrl);
      assert.equal(stats.total_connections, 3);
      assert.equal(stats.total_subscriptions, 5);
      assert.equal(stats.tasks_with_subscribers, 3);
      assert.deepEqual(stats.connections_per_task, { 'dc-a': 3, 'dc-b': 1, 'dc-c': 1 });

      await clean.close();
      stats = await waitForStats(
        fixture.httpUrl,
        (s) => s.total_connections === 2,
        '2 connections',
      );
      assert.equal(stats.total_subscriptions, 3);
      assert.equal(stats.tasks_with_subscribers, 2);
      assert.deepEqual(stats.connections_per_task, { 'dc-a': 2, 'dc-c': 1 });

      abrupt.socket.terminate(); // no close handshake: the server sees a reset TCP connection
      await abrupt.closed;
      stats = await waitForStats(fixture.httpUrl, (s) => s.total_connections === 1, '1 connection');
      assert.equal(stats.total_subscriptions, 1);
      assert.equal(stats.tasks_with_subscribers, 1);
      assert.deepEqual(stats.connections_per_task, { 'dc-a': 1 });

      // Updates for the tasks the departed clients held are no longer routed anywhere.
      const before = stats;
      await fixture.publish({ task_id: 'dc-b', seq: 0 });
      await fixture.publish({ task_id: 'dc-c', seq: 0 });
      await fixture.publish({ task_id: 'dc-a', seq: 0 });
      await last.next(isUpdateFor('dc-a'));
      const afterPublish = await getStats(fixture.httpUrl);
      assert.equal(afterPublish.messages.unrouted - before.messages.unrouted, 2);
      assert.equal(afterPublish.messages.routed - before.messages.routed, 1);
      assert.equal(afterPublish.frames_delivered - before.frames_delivered, 1);

      await last.close();
      stats = await waitForStats(
        fixture.httpUrl,
        (s) => s.total_connections === 0,
        '0 connections',
      );
      assert.equal(stats.total_subscriptions, 0);
      assert.equal(stats.tasks_with_subscribers, 0);
      assert.deepEqual(stats.connections_per_task, {});
    });
  });
}
