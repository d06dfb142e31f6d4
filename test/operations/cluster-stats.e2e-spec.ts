import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ClusterHeartbeat } from '../../src/cluster/cluster-heartbeat.js';
import { CLUSTER_INDEX_KEY, instanceHeartbeatKey } from '../../src/core/instance-heartbeat.js';
import type { ClusterStats } from '../../src/stats/merge-cluster-stats.js';
import { getJson, getStats } from '../support/gateway-stats.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

/** Short, so that keys expire (3 intervals) within a bounded wait. */
// Keys live three intervals: at 100 ms a busy machine's late heartbeat let an instance's key
// expire between two assertions. At 1 s it takes a 2 s stall.
const HEARTBEAT_MS = 1_000;
const WAIT_MS = 15_000;

async function clusterStats(httpUrl: string, query = ''): Promise<ClusterStats> {
  const { status, body } = await getJson<ClusterStats>(`${httpUrl}/ws/stats?scope=cluster${query}`);
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** Polls the cluster view of `httpUrl` until `condition` holds; fails with the last view. */
async function waitForCluster(
  httpUrl: string,
  condition: (stats: ClusterStats) => boolean,
  what: string,
): Promise<ClusterStats> {
  let last: ClusterStats | undefined;
  try {
    await waitUntil(
      async () => {
        last = await clusterStats(httpUrl);
        return condition(last);
      },
      WAIT_MS,
      what,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last view: ${JSON.stringify(last)}`);
  }
  return last as ClusterStats;
}

function ids(stats: ClusterStats): string[] {
  return stats.instances.map((entry) => entry.instance_id);
}

/**
 * GET /ws/stats?scope=cluster: instances publish heartbeats to Redis; any of them answers for all
 * the live ones.
 */
describe('the cluster view of /ws/stats', () => {
  let redis: RedisServer;
  let inspector: Redis;
  let one: TestApp;
  let two: TestApp | undefined;
  let elsewhere: TestApp;
  const clients: WsTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    inspector = new Redis(redis.url);
    inspector.on('error', () => undefined); // Redis is stopped in the last test.
    [one, two, elsewhere] = await Promise.all([
      startTestApp({
        redisUrl: redis.url,
        instanceId: 'cluster-one',
        clusterHeartbeatIntervalMs: HEARTBEAT_MS,
      }),
      startTestApp({
        redisUrl: redis.url,
        instanceId: 'cluster-two',
        clusterHeartbeatIntervalMs: HEARTBEAT_MS,
      }),
      // Same Redis, another channel: another deployment, not part of this cluster.
      startTestApp({
        redisUrl: redis.url,
        channel: 'other_channel',
        instanceId: 'cluster-elsewhere',
        clusterHeartbeatIntervalMs: HEARTBEAT_MS,
      }),
    ]);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all([one?.close(), two?.close(), elsewhere?.close()]);
    inspector?.disconnect();
    await redis?.stop();
  });

  async function connect(app: TestApp, ...taskIds: string[]): Promise<WsTestClient> {
    const client = await WsTestClient.connect(app.wsUrl);
    clients.push(client);
    for (const taskId of taskIds) await client.subscribe(taskId);
    return client;
  }

  it('sums both instances, from either of them, with an entry per instance', async () => {
    assert.ok(two);
    await connect(one, 'shared', 'only-one');
    await connect(one, 'shared');
    await connect(two, 'shared', 'only-two');
    const settled = (stats: ClusterStats): boolean =>
      stats.instance_count === 2 && stats.total_subscriptions === 5;

    for (const app of [one, two]) {
      const stats = await waitForCluster(app.httpUrl, settled, `${app.httpUrl}: both instances`);
      assert.equal(stats.scope, 'cluster');
      assert.equal(stats.answered_by, app === one ? 'cluster-one' : 'cluster-two');
      assert.deepEqual(ids(stats), ['cluster-one', 'cluster-two']);
      assert.equal(stats.total_connections, 3);
      assert.equal(stats.total_subscriptions, 5);
      // Per instance 2 and 2: a task watched on both instances counts on each.
      assert.equal(stats.tasks_with_subscribers, 4);
      assert.deepEqual(stats.connections_per_task, { shared: 3, 'only-one': 1, 'only-two': 1 });
      assert.equal(stats.connections_per_task_exact, true);
      assert.equal(stats.connections_per_task_truncated, false);

      const [first, second] = stats.instances;
      assert.deepEqual(
        [first.total_connections, first.total_subscriptions, first.tasks_with_subscribers],
        [2, 3, 2],
      );
      assert.deepEqual(
        [second.total_connections, second.total_subscriptions, second.tasks_with_subscribers],
        [1, 2, 2],
      );
      for (const entry of stats.instances) {
        assert.deepEqual(entry.redis, {
          status: 'connected',
          state: 'subscribed',
          data_path: 'ok',
        });
        assert.equal(entry.accepting_connections, true);
        assert.equal(entry.heartbeat_interval_ms, HEARTBEAT_MS);
        const age = entry.last_heartbeat_age_ms;
        assert.ok(age !== null && age >= 0 && age <= 3 * HEARTBEAT_MS, `age ${age}`);
      }
    }
  });

  it('applies ?limit= to the merged task list', async () => {
    const stats = await clusterStats(one.httpUrl, '&limit=1');
    assert.deepEqual(stats.connections_per_task, { shared: 3 });
    assert.equal(stats.connections_per_task_limit, 1);
    assert.equal(stats.connections_per_task_truncated, true);
  });

  it('leaves the per-instance answer as it was without scope, and refuses an unknown scope', async () => {
    const plain = await getStats(one.httpUrl);
    const instance = await getStats(one.httpUrl, '?scope=instance');
    assert.equal(plain.instance_id, 'cluster-one');
    assert.equal(plain.total_connections, 2);
    assert.equal('scope' in plain || 'instances' in plain, false);
    assert.deepEqual(Object.keys(instance), Object.keys(plain));

    const { status } = await getJson(`${one.httpUrl}/ws/stats?scope=everything`);
    assert.equal(status, 400);
  });

  it('drops an instance at once when it shuts down: its key is deleted', async () => {
    assert.ok(two);
    const closing = two;
    two = undefined;
    await closing.close();

    assert.equal(await inspector.exists(instanceHeartbeatKey('cluster-two')), 0);
    assert.equal(await inspector.zscore(CLUSTER_INDEX_KEY, 'cluster-two'), null);
    const stats = await clusterStats(one.httpUrl);
    assert.deepEqual(ids(stats), ['cluster-one']);
    assert.equal(stats.total_connections, 2);
    assert.deepEqual(stats.connections_per_task, { shared: 2, 'only-one': 1 });
  });

  it('drops an instance that stopped sending heartbeats once its key expires', async () => {
    const silent = await startTestApp({
      redisUrl: redis.url,
      instanceId: 'cluster-silent',
      clusterHeartbeatIntervalMs: HEARTBEAT_MS,
    });
    try {
      await waitForCluster(
        one.httpUrl,
        (stats) => ids(stats).includes('cluster-silent'),
        'the new instance to appear',
      );

      // As after a crash: no more heartbeats, and nothing deleted.
      silent.app.get(ClusterHeartbeat).stop();
      const ttl = await inspector.pttl(instanceHeartbeatKey('cluster-silent'));
      assert.ok(ttl > 0 && ttl <= 3 * HEARTBEAT_MS, `PTTL ${ttl}`);
      const stats = await waitForCluster(
        one.httpUrl,
        (view) => !ids(view).includes('cluster-silent'),
        'the silent instance to expire',
      );

      assert.deepEqual(ids(stats), ['cluster-one']);
      assert.equal(await inspector.exists(instanceHeartbeatKey('cluster-silent')), 0);
      // Still indexed: liveness is the key's, the index only lists candidates.
      assert.notEqual(await inspector.zscore(CLUSTER_INDEX_KEY, 'cluster-silent'), null);
    } finally {
      await silent.close();
    }
  });

  it('answers 503 for the cluster view while Redis is unreachable, 200 without scope', async () => {
    await redis.stop();

    const { status, body } = await getJson<{ message: string }>(
      `${one.httpUrl}/ws/stats?scope=cluster`,
    );
    assert.equal(status, 503);
    assert.match(body.message, /^Cluster view unavailable/);
    const plain = await getStats(one.httpUrl);
    assert.equal(plain.instance_id, 'cluster-one');
  });
});
