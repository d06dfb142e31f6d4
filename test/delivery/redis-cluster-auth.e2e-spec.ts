import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { publishTaskStatus } from '@task-status/client/publisher';
import { parseClusterNode } from '../../src/redis/redis-connection.factory.js';
import { getJson, getStats } from '../support/gateway-stats.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const PASSWORD = 'cluster-secret';
const GATEWAY_USER = 'gateway';
const GATEWAY_PASSWORD = 'gateway:p@ss';
const PARTITIONS = 1024;
const SHARDED = { mode: 'sharded', partitions: PARTITIONS } as const;
const WAIT_MS = 10_000;
/** Enough tasks that, with 1024 partitions over 3 primaries, every primary is all but sure to get some. */
const TASKS = Array.from({ length: 9 }, (_, i) => `auth-${i}`);

interface RedisHealth {
  status: string;
  state?: string;
  lastError?: string;
}

function versions(client: WsTestClient, taskId: string): unknown[] {
  return client.updates(taskId).map((m) => m.type === 'status_update' && m.data.version);
}

describe('sharded pub/sub on a password-protected 3-primary Redis Cluster', () => {
  let cluster: RedisCluster;
  let publisher: Cluster;
  let gateway: TestApp;
  let wrongPassword: TestApp;
  const clients: WsTestClient[] = [];

  before(async () => {
    cluster = await RedisCluster.start({ primaries: 3, password: PASSWORD });
    // An ACL user of its own for the gateway (ACLs are per node), with reserved URL characters.
    for (const port of cluster.ports) {
      const node = new Redis(port, '127.0.0.1', { password: PASSWORD, maxRetriesPerRequest: 1 });
      try {
        await node.call(
          'ACL',
          'SETUSER',
          GATEWAY_USER,
          'on',
          `>${GATEWAY_PASSWORD}`,
          '~*',
          '&*',
          '+@all',
        );
      } finally {
        node.disconnect();
      }
    }
    publisher = new Cluster(cluster.nodes.map(parseClusterNode), {
      redisOptions: { password: PASSWORD, maxRetriesPerRequest: 1 },
    });
    publisher.on('error', () => undefined);
    const settings = {
      clusterNodes: cluster.nodes,
      pubsubMode: 'sharded',
      partitions: PARTITIONS,
      rateLimitPerSecond: 0,
      canaryIntervalMs: 100,
    } as const;
    const encoded = `${encodeURIComponent(GATEWAY_USER)}:${encodeURIComponent(GATEWAY_PASSWORD)}`;
    [gateway, wrongPassword] = await Promise.all([
      // Host, port and db of the URL are not used on a cluster: only who logs in.
      startTestApp({ ...settings, redisUrl: `redis://${encoded}@127.0.0.1:1/5` }),
      startTestApp(
        { ...settings, redisUrl: 'redis://:not-the-password@127.0.0.1:1' },
        { waitForRedis: false },
      ),
    ]);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all([gateway?.close(), wrongPassword?.close()]);
    publisher?.disconnect();
    await cluster?.stop();
  });

  it('is healthy with the credentials of REDIS_URL, every primary subscribed', async () => {
    await waitUntil(
      async () => {
        const { nodes } = (await getStats(gateway.httpUrl)).redis;
        return (
          Object.keys(nodes ?? {}).length === 3 &&
          Object.values(nodes ?? {}).every((n) => n.canary_round_trip_ms !== null)
        );
      },
      WAIT_MS,
      'a canary back through every primary',
    );
    const { status, body } = await getJson<{ status: string }>(`${gateway.httpUrl}/health`);
    assert.equal(status, 200, JSON.stringify(body));
  });

  it('delivers the snapshot, then the live updates in order', async () => {
    for (const taskId of TASKS)
      await publishTaskStatus(
        publisher,
        { task_id: taskId, status: 'queued', version: 1 },
        SHARDED,
      );
    const client = await WsTestClient.connect(gateway.wsUrl);
    clients.push(client);
    for (const taskId of TASKS) await client.subscribe(taskId);
    await waitUntil(
      () => TASKS.every((taskId) => versions(client, taskId).length === 1),
      WAIT_MS,
      'the snapshots',
    );
    for (const taskId of TASKS) {
      const [snapshot] = client.updates(taskId);
      assert.equal(snapshot.type === 'status_update' && snapshot.snapshot, true, taskId);
    }

    for (let version = 2; version <= 3; version += 1) {
      for (const taskId of TASKS) {
        await publishTaskStatus(
          publisher,
          { task_id: taskId, status: 'processing', version },
          SHARDED,
        );
      }
    }
    await waitUntil(
      () => TASKS.every((taskId) => versions(client, taskId).length === 3),
      WAIT_MS,
      'every live update',
    );
    for (const taskId of TASKS) assert.deepEqual(versions(client, taskId), [1, 2, 3], taskId);
  });

  it('with a wrong password, reports the refusal in /health (503) and keeps serving', async () => {
    let redis: RedisHealth | undefined;
    await waitUntil(
      async () => {
        const { status, body } = await getJson<{ checks?: { redis?: RedisHealth } }>(
          `${wrongPassword.httpUrl}/health`,
        );
        redis = body.checks?.redis;
        return status === 503 && /WRONGPASS|NOAUTH|auth/i.test(redis?.lastError ?? '');
      },
      WAIT_MS,
      'an authentication error in /health',
    );
    assert.equal(redis?.status, 'down', JSON.stringify(redis));
    assert.ok(!JSON.stringify(redis).includes('not-the-password'), 'the password is not echoed');
    // Still up: stats answer, and an upgrade is served as usual.
    assert.equal((await getStats(wrongPassword.httpUrl)).redis.status, 'disconnected');
    const client = await WsTestClient.connect(wrongPassword.wsUrl);
    clients.push(client);
  });
});
