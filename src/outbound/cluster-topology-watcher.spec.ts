import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { systemClock } from '../clock/clock.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { CLUSTER_SLOTS, clusterSlotOf, slotOfPartition } from '../redis/cluster-slot.js';
import type { RedisCommandClient } from '../redis/redis-command-client.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';
import { ClusterTopologyWatcher, type ClusterTopologySource } from './cluster-topology-watcher.js';
import { DataPathCanary } from './data-path-canary.js';
import { ShardChannelSubscriptions } from './shard-channel-subscriptions.js';
import type { TaskUpdateDelivery } from './task-update-delivery.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const PARTITIONS = 4;

/** A Cluster as the watcher sees it: a slot map, events, and SSUBSCRIBEs that can fail. */
class FakeCluster extends EventEmitter implements ClusterTopologySource {
  readonly slots: string[][] = [];
  readonly commands: string[][] = [];
  failOn = new Set<string>();

  constructor() {
    super();
    // Partitions 0 and 1 on A (with every other slot), 2 and 3 on B.
    for (let slot = 0; slot < CLUSTER_SLOTS; slot += 1) this.slots[slot] = [A];
    this.own(2, B);
    this.own(3, B);
  }

  own(partition: number, node: string): void {
    this.slots[slotOfPartition(partition)] = [node];
  }

  ownerOfPartition(partition: number): string {
    return this.slots[slotOfPartition(partition)][0];
  }

  ssubscribe(...channels: string[]): Promise<unknown> {
    this.commands.push(channels);
    const slotOwner = this.slots[clusterSlotOf(channels[0])][0];
    if (this.failOn.has(slotOwner)) return Promise.reject(new Error('Connection is closed.'));
    return Promise.resolve(channels.length);
  }

  sunsubscribe(...channels: string[]): Promise<unknown> {
    return Promise.resolve(channels.length);
  }
}

/** Enough event-loop turns for a scheduled round and its answers. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

function setup({ canary = true } = {}) {
  const options = resolveRedisOptions({
    channel: 'c',
    pubsubMode: 'sharded',
    partitions: PARTITIONS,
    clusterNodes: ['127.0.0.1:7001'],
  });
  const layout = new TaskChannelLayout(options);
  const registry = new ConnectionRegistry<object>();
  const status = new RedisSubscriptionStatus();
  const shardChannels = new ShardChannelSubscriptions(layout, registry, options, systemClock);
  const dataPathCanary = new DataPathCanary(
    { intervalMs: canary ? 1_000 : 0, timeoutMs: 5_000 },
    'spec',
    status,
    {} as RedisCommandClient,
    layout,
  );
  let resyncs = 0;
  const delivery = {
    resync: () => {
      resyncs += 1;
      return Promise.resolve();
    },
  } as unknown as TaskUpdateDelivery;
  const watcher = new ClusterTopologyWatcher(
    options,
    status,
    shardChannels,
    dataPathCanary,
    delivery,
  );
  const cluster = new FakeCluster();
  /** Watches one task in `partition` and returns its channel. */
  const watch = (partition: number): string => {
    for (let i = 0; ; i += 1) {
      const taskId = `task-${partition}-${i}`;
      if (layout.partitionOf(taskId) !== partition) continue;
      registry.subscribe({}, taskId);
      return layout.channelOf(taskId);
    }
  };
  /** Watches a group whose channel is in `{g<partition>}` and returns its channel. */
  const watchGroup = (partition: number): string => {
    for (let i = 0; ; i += 1) {
      const groupId = `group-${partition}-${i}`;
      if (layout.partitionOf(groupId) !== partition) continue;
      registry.subscribeGroup({}, groupId);
      return layout.groupChannelOf(groupId);
    }
  };
  /** What RedisSubscriberService does on 'ready'. */
  const connect = async (): Promise<void> => {
    watcher.attach(cluster);
    await shardChannels.attach(cluster, dataPathCanary.enabled ? dataPathCanary.channels : []);
    watcher.attached();
    await settle();
    cluster.commands.length = 0;
  };
  return {
    watcher,
    cluster,
    status,
    dataPathCanary,
    watch,
    watchGroup,
    connect,
    resyncs: () => resyncs,
  };
}

describe('ClusterTopologyWatcher', () => {
  it('aims one canary at each primary, on a partition that primary owns', async () => {
    // Arrange
    const { cluster, dataPathCanary, connect, status } = setup();

    // Act
    await connect();

    // Assert
    const byNode = dataPathCanary.partitionByNode;
    assert.deepEqual([...byNode.keys()].sort(), [A, B]);
    for (const [node, partition] of byNode) assert.equal(cluster.ownerOfPartition(partition), node);
    assert.deepEqual([...status.nodes].map(([node, s]) => [node, s.state]).sort(), [
      [A, 'subscribed'],
      [B, 'subscribed'],
    ]);
  });

  it('sends nothing and resyncs nothing on a refresh that changed no owner', async () => {
    // Arrange
    const { watcher, cluster, watch, connect, resyncs } = setup();
    watch(1);
    await connect();

    // Act
    cluster.emit('refresh');
    cluster.emit('subscribersReady');
    await settle();

    // Assert
    assert.deepEqual(cluster.commands, []);
    assert.equal(resyncs(), 0);
    assert.equal(watcher.resubscriptionRounds, 0);
  });

  it('subscribes a moved partition again on its new owner, then resyncs', async () => {
    // Arrange
    const { cluster, watch, connect, resyncs, status } = setup({ canary: false });
    const moving = watch(1);
    watch(2);
    await connect();

    // Act: partition 1's slot moves from A to B.
    cluster.own(1, B);
    cluster.emit('refresh');
    await settle();

    // Assert
    assert.deepEqual(cluster.commands, [[moving]]);
    assert.equal(resyncs(), 1);
    assert.equal(status.nodes.get(B)?.state, 'subscribed');
  });

  it('subscribes a watched group again when the slot of its own hash tag moves', async () => {
    // Arrange: the group's `{g1}` slot is on A, like every slot not given to B.
    const { cluster, watch, watchGroup, connect, resyncs } = setup({ canary: false });
    const moving = watchGroup(1);
    watch(1);
    await connect();

    // Act: `{g1}` moves to B; the task partition 1 (`{1}`) stays on A.
    cluster.slots[clusterSlotOf('{g1}')] = [B];
    cluster.emit('refresh');
    await settle();

    // Assert
    assert.deepEqual(cluster.commands, [[moving]]);
    assert.equal(resyncs(), 1);
  });

  it('re-aims the canary of a primary whose slots moved away, and subscribes the new one', async () => {
    // Arrange
    const { cluster, dataPathCanary, connect } = setup();
    await connect();
    const before = dataPathCanary.partitionByNode.get(B);

    // Act: B loses its partitions to A; a new primary C takes partition 3.
    cluster.own(2, A);
    cluster.own(3, '127.0.0.1:7003');
    cluster.emit('refresh');
    await settle();

    // Assert
    assert.equal(before, 2);
    assert.deepEqual(
      [...dataPathCanary.partitionByNode].sort(),
      [
        [A, 0],
        ['127.0.0.1:7003', 3],
      ].sort(),
    );
    assert.ok(
      cluster.commands.some((channels) => channels.some((c) => c.startsWith('c:{3}:__canary__'))),
      JSON.stringify(cluster.commands),
    );
  });

  it('reports a primary whose sharded subscriber was lost as down, retries, and resyncs once it answers', async (context) => {
    // Arrange
    context.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_000 });
    const { cluster, watch, connect, resyncs, status } = setup();
    const onA = watch(1);
    await connect();
    cluster.failOn.add(A);

    // Act: the subscriber of A ends; its SSUBSCRIBEs fail while A is down.
    cluster.emit('-node', null, A);
    await settle();
    const whileDown = status.nodes.get(A)?.state;
    const healthyWhileDown = status.nodesHealthy;
    const resyncsWhileDown = resyncs();
    const sentWhileDown = cluster.commands.length;
    cluster.emit('subscribersReady'); // still down: within the backoff, nothing is sent
    await settle();
    const sentWithinBackoff = cluster.commands.length - sentWhileDown;
    cluster.failOn.delete(A);
    context.mock.timers.tick(5_000); // the retry
    await settle();

    // Assert
    assert.equal(whileDown, 'down');
    assert.equal(healthyWhileDown, false);
    assert.equal(resyncsWhileDown, 0);
    assert.ok(sentWhileDown > 0);
    assert.equal(sentWithinBackoff, 0);
    assert.ok(
      cluster.commands.some((channels) => channels.includes(onA)),
      JSON.stringify(cluster.commands),
    );
    assert.equal(status.nodes.get(A)?.state, 'subscribed');
    assert.equal(status.nodesHealthy, true);
    assert.equal(resyncs(), 1);
  });

  it('forgets a primary that failed over and reports its replica instead', async () => {
    // Arrange
    const { cluster, watch, connect, status } = setup({ canary: false });
    const onB = watch(2);
    await connect();

    // Act: B dies, its replica (7004) is promoted with B's slots.
    cluster.emit('-node', null, B);
    for (let slot = 0; slot < CLUSTER_SLOTS; slot += 1) {
      if (cluster.slots[slot][0] === B) cluster.slots[slot] = ['127.0.0.1:7004'];
    }
    cluster.emit('refresh');
    await settle();

    // Assert
    assert.deepEqual([...status.nodes.keys()].sort(), [A, '127.0.0.1:7004']);
    assert.equal(status.nodes.get('127.0.0.1:7004')?.state, 'subscribed');
    assert.equal(status.nodes.get(A)?.state, 'idle');
    assert.deepEqual(cluster.commands, [[onB]]);
  });

  it('does not hold readiness for a lost primary that carries nothing of this instance', async () => {
    // Arrange: no canary, and the only watched task on B.
    const { cluster, watch, connect, status } = setup({ canary: false });
    watch(2);
    await connect();

    // Act
    cluster.emit('-node', null, A);
    await settle();

    // Assert
    assert.equal(status.nodes.get(A)?.state, 'idle');
    assert.equal(status.nodesHealthy, true);
  });

  it('stops following the cluster on detach and clears the nodes', async () => {
    // Arrange
    const { watcher, cluster, watch, connect, status } = setup();
    watch(1);
    await connect();

    // Act
    watcher.detach();
    cluster.own(1, B);
    cluster.emit('refresh');
    await settle();

    // Assert
    assert.equal(status.nodes.size, 0);
    assert.deepEqual(cluster.commands, []);
    assert.equal(cluster.listenerCount('refresh'), 0);
  });
});
