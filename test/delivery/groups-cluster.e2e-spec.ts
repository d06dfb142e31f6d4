import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import {
  groupShardChannelOf,
  publishTaskStatus,
  shardChannelOf,
} from '@task-status/client/publisher';
import { parseClusterNode } from '../../src/redis/redis-connection.factory.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const CHANNEL = 'task_status_updates';
const PARTITIONS = 1024;
const SHARDED = { mode: 'sharded', partitions: PARTITIONS } as const;
const WAIT_MS = 10_000;

/**
 * A group on a real 3-primary Redis Cluster: the group's shard channel and index live in another
 * slot (another primary, here) than its tasks' channels and keys, and a task watched on its own
 * and through its group comes on two subscriber connections, in no common order.
 */
describe('group subscriptions on a 3-primary Redis Cluster', () => {
  let cluster: RedisCluster;
  const nodes = new Map<number, Redis>();
  let publisher: Cluster;
  let app: TestApp;
  const clients: WsTestClient[] = [];
  let ranges: Array<[number, number, [string, number]]>;

  before(async () => {
    cluster = await RedisCluster.start({ primaries: 3 });
    for (const port of cluster.ports) {
      nodes.set(port, new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 }));
    }
    publisher = new Cluster(cluster.nodes.map(parseClusterNode), {
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    publisher.on('error', () => undefined);
    const [anyNode] = nodes.values();
    ranges = (await anyNode.call('CLUSTER', 'SLOTS')) as typeof ranges;
    app = await startTestApp({
      redisUrl: 'redis://127.0.0.1:1', // not used: clusterNodes wins
      clusterNodes: cluster.nodes,
      pubsubMode: 'sharded',
      partitions: PARTITIONS,
      rateLimitPerSecond: 0,
      canaryIntervalMs: 0,
      unsubscribeGraceMs: 0,
    });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.close();
    publisher?.disconnect();
    for (const node of nodes.values()) node.disconnect();
    await cluster?.stop();
  });

  /** The primary (its port) that owns a key or shard channel. */
  async function ownerOf(name: string): Promise<number> {
    const [anyNode] = nodes.values();
    const slot = Number(await anyNode.call('CLUSTER', 'KEYSLOT', name));
    return Number(ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1]);
  }

  async function shardSubscribers(channel: string): Promise<number> {
    const node = nodes.get(await ownerOf(channel));
    assert.ok(node, `no primary for ${channel}`);
    const reply = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as Array<string | number>;
    return Number(reply[1]);
  }

  it('holds the group channel on its primary, sends snapshots and each update once, in order', async () => {
    // A group and a task of it on two primaries, and another task of it.
    const group = 'cluster-g';
    const groupChannel = groupShardChannelOf(CHANNEL, group, PARTITIONS);
    const groupOwner = await ownerOf(groupChannel);
    let watched = '';
    for (let i = 0; watched === ''; i += 1) {
      const taskId = `cluster-g-task-${i}`;
      if ((await ownerOf(shardChannelOf(CHANNEL, taskId, PARTITIONS))) !== groupOwner) {
        watched = taskId;
      }
    }
    const other = 'cluster-g-other';
    const publish = (taskId: string, version: number) =>
      publishTaskStatus(
        publisher,
        { task_id: taskId, group, status: `v${version}`, version },
        SHARDED,
      );
    await publish(watched, 1);
    await publish(other, 1);

    const client = await WsTestClient.connect(app.wsUrl);
    clients.push(client);
    await client.subscribe(watched);
    client.send({ type: 'subscribe', group });
    await waitUntil(
      () => client.received.some((m) => m.type === 'subscribed' && m.group === group),
      WAIT_MS,
      'the group subscribed',
    );
    await waitUntil(() => client.updates().length >= 2, WAIT_MS, 'the snapshots');
    assert.equal(await shardSubscribers(groupChannel), 1);

    for (let version = 2; version <= 5; version += 1) {
      await publish(watched, version);
      await publish(other, version);
    }
    const versions = (taskId: string) =>
      client.updates(taskId).map((m) => m.type === 'status_update' && m.data.version);
    await waitUntil(
      () => versions(watched).at(-1) === 5 && versions(other).at(-1) === 5,
      WAIT_MS,
      'every live update',
    );
    await client.ping();

    // Its snapshot through the task, the other's through the group's index (another slot).
    assert.deepEqual(versions(watched), [1, 2, 3, 4, 5]);
    assert.deepEqual(versions(other), [1, 2, 3, 4, 5]);

    client.send({ type: 'unsubscribe', group });
    await waitUntil(
      async () => (await shardSubscribers(groupChannel)) === 0,
      WAIT_MS,
      'SUNSUBSCRIBE of the group channel',
    );
  });
});
