import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import {
  formatTaskStatus,
  publishTaskStatus,
  shardChannelOf,
  shardKeyOf,
} from '@task-status/client/publisher';
import { TaskUpdateDelivery } from '../../src/outbound/task-update-delivery.js';
import { parseClusterNode } from '../../src/redis/redis-connection.factory.js';
import { getJson, getStats } from '../support/gateway-stats.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const CHANNEL = 'task_status_updates';
const KEY_PREFIX = 'task:status:';
const PARTITIONS = 1024;
const SHARDED = { mode: 'sharded', partitions: PARTITIONS } as const;
const TASKS_PER_PRIMARY = 4;
const WAIT_MS = 10_000;

function lastVersion(client: WsTestClient, taskId: string): unknown {
  const updates = client.updates(taskId);
  const last = updates[updates.length - 1];
  return last?.type === 'status_update' ? last.data.version : undefined;
}

async function unsubscribe(client: WsTestClient, taskId: string): Promise<void> {
  client.send({ type: 'unsubscribe', task_id: taskId });
  await waitUntil(
    () => client.received.some((m) => m.type === 'unsubscribed' && m.task_id === taskId),
    WAIT_MS,
    `unsubscribed from ${taskId}`,
  );
}

describe('sharded pub/sub on a 3-primary Redis Cluster', () => {
  let cluster: RedisCluster;
  /** A plain connection to each primary, by port, to ask a node about itself. */
  const nodes = new Map<number, Redis>();
  let publisher: Cluster;
  let one: TestApp;
  let two: TestApp;
  const clients: WsTestClient[] = [];
  /** The primary (its port) that owns each chosen task's slot. */
  const ownerOf = new Map<string, number>();
  /** Tasks of every primary: even positions watched on one, odd ones on two. */
  const onOneTasks: string[] = [];
  const onTwoTasks: string[] = [];

  before(async () => {
    cluster = await RedisCluster.start({ primaries: 3 });
    for (const port of cluster.ports) {
      nodes.set(port, new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 }));
    }
    publisher = new Cluster(cluster.nodes.map(parseClusterNode), {
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    publisher.on('error', () => undefined);

    // Which primary owns which slot, then tasks until every primary has its share.
    const [anyNode] = nodes.values();
    const ranges = (await anyNode.call('CLUSTER', 'SLOTS')) as Array<
      [number, number, [string, number]]
    >;
    const perPrimary = new Map<number, string[]>(cluster.ports.map((port) => [port, []]));
    for (let i = 0; [...perPrimary.values()].some((t) => t.length < TASKS_PER_PRIMARY); i += 1) {
      const taskId = `cluster-${i}`;
      const slot = Number(
        await anyNode.call('CLUSTER', 'KEYSLOT', shardChannelOf(CHANNEL, taskId, PARTITIONS)),
      );
      const port = Number(ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1]);
      const tasks = perPrimary.get(port);
      if (!tasks || tasks.length >= TASKS_PER_PRIMARY) continue;
      tasks.push(taskId);
      ownerOf.set(taskId, port);
    }
    for (const tasks of perPrimary.values()) {
      tasks.forEach((taskId, i) => (i % 2 === 0 ? onOneTasks : onTwoTasks).push(taskId));
    }

    const settings = {
      redisUrl: 'redis://127.0.0.1:1', // not used: clusterNodes wins
      clusterNodes: cluster.nodes,
      pubsubMode: 'sharded',
      partitions: PARTITIONS,
      rateLimitPerSecond: 0,
      clusterHeartbeatIntervalMs: 200,
      // The tests below expect SUNSUBSCRIBE as soon as the last watcher leaves.
      unsubscribeGraceMs: 0,
    } as const;
    [one, two] = await Promise.all([
      startTestApp({ ...settings, instanceId: 'cluster-one', canaryIntervalMs: 100 }),
      startTestApp({ ...settings, instanceId: 'cluster-two', canaryIntervalMs: 100 }),
    ]);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all([one?.close(), two?.close()]);
    publisher?.disconnect();
    for (const node of nodes.values()) node.disconnect();
    await cluster?.stop();
  });

  async function connect(app: TestApp): Promise<WsTestClient> {
    const client = await WsTestClient.connect(app.wsUrl);
    clients.push(client);
    return client;
  }

  const publish = (taskId: string, version: number, status = 'processing') =>
    publishTaskStatus(publisher, { task_id: taskId, status, version }, SHARDED);

  /** Subscribers of each task's shard channel, asked of the primary that owns it. */
  async function shardSubscribers(taskIds: readonly string[]): Promise<number[]> {
    return Promise.all(
      taskIds.map(async (taskId) => {
        const node = nodes.get(ownerOf.get(taskId) ?? 0);
        assert.ok(node, `no primary for ${taskId}`);
        const channel = shardChannelOf(CHANNEL, taskId, PARTITIONS);
        const reply = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as Array<string | number>;
        return Number(reply[1]);
      }),
    );
  }

  it('chose tasks on every primary, for each instance', () => {
    for (const tasks of [onOneTasks, onTwoTasks]) {
      assert.deepEqual(new Set(tasks.map((taskId) => ownerOf.get(taskId))), new Set(cluster.ports));
    }
  });

  it('is ready, with the canary coming back through the cluster', async () => {
    for (const app of [one, two]) {
      await waitUntil(
        async () => (await getStats(app.httpUrl)).redis.canary_round_trip_ms !== null,
        WAIT_MS,
        `a canary round trip on ${app.httpUrl}`,
      );
      const { status, body } = await getJson<{ status: string }>(`${app.httpUrl}/health`);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.status, 'healthy');
    }
  });

  it('shows each primary in /ws/stats redis.nodes, as /health does', async () => {
    const primaries = [...cluster.nodes].sort();
    for (const app of [one, two]) {
      // Every primary carries this instance's canary, so each is subscribed once its canary came back.
      await waitUntil(
        async () => {
          const { nodes } = (await getStats(app.httpUrl)).redis;
          return (
            nodes !== null &&
            Object.keys(nodes).join() === primaries.join() &&
            Object.values(nodes).every(
              (n) => n.state === 'subscribed' && n.canary_round_trip_ms !== null,
            )
          );
        },
        WAIT_MS,
        `every primary subscribed in the stats of ${app.httpUrl}`,
      );
      const { nodes } = (await getStats(app.httpUrl)).redis;
      const { body } = await getJson<{
        checks: { redis: { nodes: Record<string, { state: string; dataPath: string }> } };
      }>(`${app.httpUrl}/health`);
      assert.deepEqual(
        Object.fromEntries(
          Object.entries(nodes ?? {}).map(([node, n]) => [node, [n.state, n.data_path]]),
        ),
        Object.fromEntries(
          Object.entries(body.checks.redis.nodes).map(([node, n]) => [node, [n.state, n.dataPath]]),
        ),
      );
    }
  });

  it('subscribes, sends snapshots, relays live updates to the instance that watches each task only, and unsubscribes', async () => {
    const all = [...onOneTasks, ...onTwoTasks];
    for (const taskId of all) await publish(taskId, 1, 'queued');
    const onOne = await connect(one);
    const onTwo = await connect(two);
    for (const taskId of onOneTasks) await onOne.subscribe(taskId);
    for (const taskId of onTwoTasks) await onTwo.subscribe(taskId);

    // Snapshots, read from the primary of each task's slot.
    for (const [client, tasks] of [
      [onOne, onOneTasks],
      [onTwo, onTwoTasks],
    ] as const) {
      await waitUntil(
        () => tasks.every((taskId) => lastVersion(client, taskId) === 1),
        WAIT_MS,
        'the snapshots',
      );
      for (const taskId of tasks) {
        const [snapshot] = client.updates(taskId);
        assert.equal(snapshot.type === 'status_update' && snapshot.snapshot, true, taskId);
      }
    }
    assert.deepEqual(
      await shardSubscribers(all),
      all.map(() => 1),
    );
    const before = await Promise.all([getStats(one.httpUrl), getStats(two.httpUrl)]);

    for (let version = 2; version <= 4; version += 1) {
      for (const taskId of all) await publish(taskId, version);
    }
    await waitUntil(
      () =>
        onOneTasks.every((id) => lastVersion(onOne, id) === 4) &&
        onTwoTasks.every((id) => lastVersion(onTwo, id) === 4),
      WAIT_MS,
      'every live update on its instance',
    );
    const afterLive = await Promise.all([getStats(one.httpUrl), getStats(two.httpUrl)]);
    for (const [i, stats] of afterLive.entries()) {
      assert.equal(
        stats.messages.unrouted,
        0,
        `instance ${i + 1} got updates nobody there watches`,
      );
      // Its 6 tasks × 3 versions, nothing else.
      assert.equal(stats.messages.received - before[i].messages.received, 6 * 3);
    }
    for (const [client, tasks] of [
      [onOne, onOneTasks],
      [onTwo, onTwoTasks],
    ] as const) {
      assert.deepEqual(
        new Set(client.updates().map((m) => 'task_id' in m && m.task_id)),
        new Set(tasks),
      );
      for (const taskId of tasks) {
        const versions = client
          .updates(taskId)
          .map((m) => m.type === 'status_update' && m.data.version);
        assert.deepEqual(versions, [1, 2, 3, 4], taskId);
      }
    }

    for (const taskId of onOneTasks) await unsubscribe(onOne, taskId);
    await onTwo.close();
    await waitUntil(
      async () => (await shardSubscribers(all)).every((n) => n === 0),
      WAIT_MS,
      'SUNSUBSCRIBE on every primary',
    );
  });

  it('resyncs stored states with one MGET per slot (no CROSSSLOT error)', async () => {
    const client = await connect(one);
    for (const taskId of onOneTasks) await client.subscribe(taskId);
    await waitUntil(
      () => onOneTasks.every((id) => lastVersion(client, id) === 4),
      WAIT_MS,
      'the snapshots',
    );
    // Stored without a publish: only a resync can bring version 5.
    for (const taskId of onOneTasks) {
      const state = formatTaskStatus({ task_id: taskId, status: 'processing', version: 5 });
      await publisher.set(shardKeyOf(KEY_PREFIX, taskId, PARTITIONS), state);
    }
    await one.app.get(TaskUpdateDelivery).resync();
    await waitUntil(
      () => onOneTasks.every((id) => lastVersion(client, id) === 5),
      WAIT_MS,
      'the resynced states',
    );
  });

  it('answers the cluster view of /ws/stats from either instance (heartbeat keys in one slot)', async () => {
    for (const app of [one, two]) {
      await waitUntil(
        async () => {
          const { status, body } = await getJson<{ instances?: Array<{ instance_id: string }> }>(
            `${app.httpUrl}/ws/stats?scope=cluster`,
          );
          const ids = (body.instances ?? []).map((entry) => entry.instance_id).sort();
          return status === 200 && ids.join() === 'cluster-one,cluster-two';
        },
        WAIT_MS,
        `both instances in the cluster view of ${app.httpUrl}`,
      );
    }
  });
});
