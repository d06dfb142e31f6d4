import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import {
  formatTaskStatus,
  partitionOf,
  publishTaskStatus,
  shardKeyOf,
} from '@task-status/client/publisher';
import { ClusterTopologyWatcher } from '../../src/outbound/cluster-topology-watcher.js';
import { slotOfPartition } from '../../src/redis/cluster-slot.js';
import { parseClusterNode } from '../../src/redis/redis-connection.factory.js';
import { getJson } from '../support/gateway-stats.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const KEY_PREFIX = 'task:status:';
const PARTITIONS = 1024;
const SHARDED = { mode: 'sharded', partitions: PARTITIONS } as const;
const TASKS_PER_PRIMARY = 3;
const CLIENTS = 3;
const WAIT_MS = 20_000;
/** Long enough that /health is seen reporting the dead primary before its replica takes over. */
const NODE_TIMEOUT_MS = 3_000;

interface NodeHealth {
  state: string;
  dataPath: string;
  canaryRoundTripMs: number | null;
}

interface Health {
  status: string;
  checks?: { redis?: { status: string; nodes?: Record<string, NodeHealth> } };
}

const nodeKey = (port: number) => `127.0.0.1:${port}`;

/**
 * Topology changes under traffic on a real Redis Cluster (3 primaries, a replica each): a slot
 * holding watched tasks migrates, a primary is killed and its replica promoted, then that one
 * (without a replica now) is killed and restarted. Afterwards
 * every client's last state of every task equals the stored one, and no client ever got a
 * version twice or out of order.
 */
describe('sharded pub/sub across Redis Cluster topology changes', () => {
  let cluster: RedisCluster;
  let publisher: Cluster;
  let app: TestApp;
  const clients: WsTestClient[] = [];
  /** Tasks chosen on every primary, by the port of the primary owning them at the start. */
  const tasksOf = new Map<number, string[]>();
  /** Two tasks of one partition, whose slot the test migrates. */
  const migrating: string[] = [];
  const allTasks = (): string[] => [...migrating, ...[...tasksOf.values()].flat()];
  /** The last version each task was published with (whether or not Redis took it). */
  const published = new Map<string, number>();
  let publishing: Promise<void> | undefined;
  let stopPublishing = false;
  let publishErrors = 0;
  /** The replica promoted by the failover test: a primary without a replica afterwards. */
  let promoted: number | undefined;
  /** Tasks the publisher leaves alone for now. */
  const paused = new Set<string>();
  /** Resolves at the end of the publisher's next round over the tasks. */
  let roundEnd: Promise<void> = Promise.resolve();
  let endRound: () => void = () => undefined;

  before(async () => {
    cluster = await RedisCluster.start({
      primaries: 3,
      replicasPerPrimary: 1,
      nodeTimeoutMs: NODE_TIMEOUT_MS,
    });
    publisher = new Cluster(cluster.nodes.map(parseClusterNode), {
      slotsRefreshInterval: 500,
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    publisher.on('error', () => undefined);
    publisher.on('node error', () => undefined);

    const owners = await cluster.slotOwners();
    const ownerOfTask = (taskId: string): number => {
      const slot = slotOfPartition(partitionOf(taskId, PARTITIONS));
      return owners.find(({ from, to }) => slot >= from && slot <= to)?.port ?? 0;
    };
    for (const port of cluster.ports) tasksOf.set(port, []);
    for (let i = 0; [...tasksOf.values()].some((t) => t.length < TASKS_PER_PRIMARY); i += 1) {
      const taskId = `topo-${i}`;
      const tasks = tasksOf.get(ownerOfTask(taskId));
      if (tasks && tasks.length < TASKS_PER_PRIMARY) tasks.push(taskId);
    }
    // A second task in the partition of the first task on the first primary: both migrate.
    const [first] = tasksOf.get(cluster.ports[0]) ?? [];
    migrating.push(first);
    tasksOf.get(cluster.ports[0])?.shift();
    for (let i = 0; migrating.length < 2; i += 1) {
      const taskId = `topo-migrating-${i}`;
      if (partitionOf(taskId, PARTITIONS) === partitionOf(first, PARTITIONS))
        migrating.push(taskId);
    }

    app = await startTestApp({
      redisUrl: 'redis://127.0.0.1:1', // not used: clusterNodes wins
      clusterNodes: cluster.nodes,
      pubsubMode: 'sharded',
      partitions: PARTITIONS,
      instanceId: 'topology',
      rateLimitPerSecond: 0,
      canaryIntervalMs: 200,
      canaryTimeoutMs: 15_000,
      clusterSlotsRefreshMs: 1_000,
      clusterHeartbeatIntervalMs: 1_000,
      metrics: false,
      demoPage: false,
    });
    for (const taskId of allTasks()) await publish(taskId, 1);
    for (let i = 0; i < CLIENTS; i += 1) {
      const client = await WsTestClient.connect(app.wsUrl);
      clients.push(client);
      for (const taskId of allTasks()) await client.subscribe(taskId);
    }
    await waitUntil(
      () => clients.every((client) => allTasks().every((id) => lastVersion(client, id) === 1)),
      WAIT_MS,
      'every snapshot',
    );
    publishing = publishUntilStopped();
  });

  after(async () => {
    stopPublishing = true;
    await publishing?.catch(() => undefined);
    await Promise.all(clients.map((client) => client.close()));
    await app?.close();
    publisher?.disconnect();
    await cluster?.stop();
  });

  function lastVersion(client: WsTestClient, taskId: string): number | undefined {
    const updates = client.updates(taskId);
    const last = updates[updates.length - 1];
    return last?.type === 'status_update' ? Number(last.data.version) : undefined;
  }

  async function publish(taskId: string, version: number): Promise<void> {
    // Set first: a transaction that failed on the way back may still have run, so a version is
    // never used twice and every client must see strictly increasing ones.
    published.set(taskId, version);
    await publishTaskStatus(publisher, { task_id: taskId, status: 'processing', version }, SHARDED);
  }

  /** Versioned updates round the tasks; one that fails (a moving slot, a dead primary) is skipped. */
  async function publishUntilStopped(): Promise<void> {
    while (!stopPublishing) {
      roundEnd = new Promise((resolve) => (endRound = resolve));
      for (const taskId of allTasks()) {
        if (paused.has(taskId)) continue;
        const version = (published.get(taskId) ?? 0) + 1;
        try {
          await publish(taskId, version);
        } catch {
          publishErrors += 1;
        }
      }
      endRound();
      await delay(5); // a steady stream, not a busy loop on two shared cores
    }
    endRound();
  }

  /**
   * Stops publishing `taskIds` (once no publish of theirs is in flight) and stores a newer state
   * of each without publishing it, as when the message was lost while its slot moved: only a
   * resync can bring it. Returns the versions stored.
   */
  async function storeWithoutPublishing(taskIds: readonly string[]): Promise<Map<string, number>> {
    for (const taskId of taskIds) paused.add(taskId);
    await withTimeout(roundEnd, WAIT_MS, 'the publisher round under way');
    const stored = new Map<string, number>();
    for (const taskId of taskIds) {
      const version = (published.get(taskId) ?? 0) + 1;
      published.set(taskId, version);
      const state = formatTaskStatus({ task_id: taskId, status: 'processing', version });
      await publisher.set(shardKeyOf(KEY_PREFIX, taskId, PARTITIONS), state, 'EX', 3_600);
      stored.set(taskId, version);
    }
    return stored;
  }

  async function resynced(stored: ReadonlyMap<string, number>, what: string): Promise<void> {
    await waitUntil(
      () =>
        clients.every((client) =>
          [...stored].every(([taskId, version]) => lastVersion(client, taskId) === version),
        ),
      WAIT_MS,
      what,
    );
  }

  /** Waits until every client has a version of each of `taskIds` above the one published now. */
  async function liveAgain(taskIds: readonly string[], what: string): Promise<void> {
    const floor = new Map(taskIds.map((id) => [id, published.get(id) ?? 0]));
    await waitUntil(
      () =>
        clients.every((client) =>
          taskIds.every((id) => (lastVersion(client, id) ?? 0) > (floor.get(id) ?? 0)),
        ),
      WAIT_MS,
      what,
    );
  }

  async function health(): Promise<{ status: number; body: Health }> {
    return getJson<Health>(`${app.httpUrl}/health`);
  }

  it('reports every primary subscribed, with its own canary', async () => {
    await waitUntil(
      async () => {
        const nodes = (await health()).body.checks?.redis?.nodes ?? {};
        return cluster.ports.every((port) => {
          const node = nodes[nodeKey(port)];
          return node?.state === 'subscribed' && node.canaryRoundTripMs !== null;
        });
      },
      WAIT_MS,
      'a canary round trip through every primary',
    );
    const { status, body } = await health();
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(Object.keys(body.checks?.redis?.nodes ?? {}).sort(), cluster.nodes.sort());
  });

  it('keeps delivering the tasks of a slot migrated under traffic', async () => {
    await liveAgain(allTasks(), 'updates flowing before the migration');
    const slot = slotOfPartition(partitionOf(migrating[0], PARTITIONS));
    const source = await cluster.ownerOf(slot);
    const target = cluster.ports.find((port) => port !== source) ?? 0;
    const rounds = app.app.get(ClusterTopologyWatcher).resubscriptionRounds;
    // One task of the slot keeps its traffic through the move; the other's last state is lost.
    const lost = await storeWithoutPublishing(migrating.slice(1));

    await cluster.migrateSlot(slot, target);

    assert.equal(await cluster.ownerOf(slot), target);
    await resynced(lost, 'the states of the migrated tasks stored meanwhile, by a resync');
    paused.clear();
    await liveAgain(migrating, 'live updates of the migrated tasks from their new primary');
    await liveAgain(allTasks(), 'live updates of every task after the migration');
    assert.ok(
      app.app.get(ClusterTopologyWatcher).resubscriptionRounds > rounds,
      'the gateway subscribed the moved partition again',
    );
  });

  it('reports a killed primary down, and delivers again once its replica took over', async () => {
    const victim = cluster.ports[2];
    const victimTasks = tasksOf.get(victim) ?? [];
    await liveAgain(victimTasks, 'updates flowing before the kill');
    const lost = await storeWithoutPublishing(victimTasks.slice(0, 1));
    // On the replica too before the kill, as a write acknowledged before a failover would be.
    const replicated = await cluster.waitForReplicas(victim);
    assert.equal(replicated, 1);

    const promotion = cluster.killPrimary(victim);
    let seenDown: { status: number; body: Health } | undefined;
    await waitUntil(
      async () => {
        const response = await health();
        const state = response.body.checks?.redis?.nodes?.[nodeKey(victim)]?.state;
        if (state === 'down') seenDown = response;
        return seenDown !== undefined;
      },
      WAIT_MS,
      `/health reporting ${nodeKey(victim)} down`,
    );
    const replica = await promotion;
    assert.ok(replica !== undefined, 'a replica was promoted');
    promoted = replica;
    assert.equal(seenDown?.status, 503, JSON.stringify(seenDown?.body));
    assert.equal(seenDown?.body.status, 'unhealthy');
    assert.equal(seenDown?.body.checks?.redis?.status, 'down');

    await waitUntil(
      async () => {
        const { status, body } = await health();
        const nodes = body.checks?.redis?.nodes ?? {};
        return (
          status === 200 &&
          nodes[nodeKey(replica)]?.state === 'subscribed' &&
          nodes[nodeKey(replica)]?.canaryRoundTripMs !== null &&
          nodes[nodeKey(victim)] === undefined
        );
      },
      WAIT_MS,
      `/health healthy again with ${nodeKey(replica)} in place of ${nodeKey(victim)}`,
    );
    await resynced(lost, 'the states stored before the failover, by a resync');
    paused.clear();
    await liveAgain(victimTasks, 'live updates of the failed-over tasks from the promoted replica');
  });

  it('reports a primary without a replica down until it is restarted, then delivers again', async () => {
    const node = promoted;
    assert.ok(node !== undefined, 'the failover test promoted a replica');
    const tasks = tasksOf.get(cluster.ports[2]) ?? []; // on the promoted replica now
    await liveAgain(tasks, 'updates flowing before the kill');

    await cluster.killNode(node);
    await waitUntil(
      async () => {
        const { status, body } = await health();
        return status === 503 && body.checks?.redis?.nodes?.[nodeKey(node)]?.state === 'down';
      },
      WAIT_MS,
      `/health reporting ${nodeKey(node)} down`,
    );
    // Nothing can take its slots over: it stays down until it is back.
    await cluster.restartNode(node);

    await waitUntil(
      async () => {
        const { status, body } = await health();
        return status === 200 && body.checks?.redis?.nodes?.[nodeKey(node)]?.state === 'subscribed';
      },
      WAIT_MS,
      `/health healthy again with ${nodeKey(node)} back`,
    );
    await liveAgain(tasks, 'live updates of the tasks of the restarted primary');
  });

  it('leaves no client stale and delivered no version twice or out of order', async () => {
    stopPublishing = true;
    await publishing;
    const stored = new Map<string, number>();
    for (const taskId of allTasks()) {
      const raw = await publisher.get(shardKeyOf(KEY_PREFIX, taskId, PARTITIONS));
      assert.ok(raw, `a stored state of ${taskId}`);
      stored.set(taskId, Number((JSON.parse(raw) as { version: number }).version));
    }
    // What was stored last (published while its subscription was moving, at worst) arrives by a
    // resync or is already there.
    await waitUntil(
      () =>
        clients.every((client) =>
          allTasks().every((taskId) => lastVersion(client, taskId) === stored.get(taskId)),
        ),
      WAIT_MS,
      'every client at the stored state of every task',
    );
    for (const [index, client] of clients.entries()) {
      for (const taskId of allTasks()) {
        const versions = client
          .updates(taskId)
          .map((m) => (m.type === 'status_update' ? Number(m.data.version) : NaN));
        for (let i = 1; i < versions.length; i += 1) {
          assert.ok(
            versions[i] > versions[i - 1],
            `client ${index}, ${taskId}: ${versions[i - 1]} then ${versions[i]}`,
          );
        }
        assert.equal(
          versions[versions.length - 1],
          stored.get(taskId),
          `client ${index}, ${taskId}`,
        );
      }
    }
    // The stream went on through both changes, and the dead primary refused some of it.
    assert.ok(Math.min(...stored.values()) >= 5, JSON.stringify([...stored]));
    assert.ok(publishErrors > 0, 'publishes failed while the primary was dead');
  });
});
