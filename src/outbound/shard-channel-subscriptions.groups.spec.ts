import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupShardChannelOf, partitionOf } from '@task-status/client/sharded-layout';
import { ManualClock } from '../../test/support/manual-clock.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';
import { ShardChannelSubscriptions, type ShardSubscriber } from './shard-channel-subscriptions.js';

/** Records each command and answers at once. */
class FakeSubscriber implements ShardSubscriber {
  readonly commands: Array<[string, string[]]> = [];

  ssubscribe(...channels: string[]): Promise<unknown> {
    this.commands.push(['ssubscribe', channels]);
    return Promise.resolve(channels.length);
  }

  sunsubscribe(...channels: string[]): Promise<unknown> {
    this.commands.push(['sunsubscribe', channels]);
    return Promise.resolve(channels.length);
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function setup(unsubscribeGraceMs = 0) {
  const options = resolveRedisOptions({
    channel: 'c',
    pubsubMode: 'sharded',
    partitions: 4,
    unsubscribeGraceMs,
  });
  const registry = new ConnectionRegistry<object>();
  const clock = new ManualClock(0);
  const subscriptions = new ShardChannelSubscriptions(
    new TaskChannelLayout(options),
    registry,
    options,
    clock,
  );
  return { registry, subscriptions, redis: new FakeSubscriber(), clock };
}

const channelOf = (groupId: string) => groupShardChannelOf('c', groupId, 4);

describe('ShardChannelSubscriptions: group channels', () => {
  it('subscribes a group channel for its first watcher, apart from a task of the same id', async () => {
    // Arrange
    const { registry, subscriptions, redis } = setup();
    await subscriptions.attach(redis);
    const client = {};

    // Act
    registry.subscribeGroup(client, 'org-1');
    registry.subscribe(client, 'org-1');
    await Promise.all([subscriptions.watchGroup('org-1'), subscriptions.watch('org-1')]);
    registry.subscribeGroup({}, 'org-1');
    await subscriptions.watchGroup('org-1');

    // Assert: one command each (another slot), none for the second watcher.
    assert.deepEqual(redis.commands.map(([, channels]) => channels).sort(), [
      [`c:{${partitionOf('org-1', 4)}}:org-1`],
      [channelOf('org-1')],
    ]);
    assert.equal(subscriptions.channelCount, 2);
  });

  it('unsubscribes the group channel when its last watcher leaves, after the grace', async () => {
    // Arrange
    const { registry, subscriptions, redis, clock } = setup(1000);
    await subscriptions.attach(redis);
    const [first, second] = [{}, {}];
    registry.subscribeGroup(first, 'g');
    registry.subscribeGroup(second, 'g');
    await subscriptions.watchGroup('g');

    // Act
    registry.unsubscribeGroup(first, 'g');
    subscriptions.unwatchGroup('g');
    await nextTurn();
    const whileWatched = redis.commands.length;
    registry.unsubscribeGroup(second, 'g');
    subscriptions.unwatchGroup('g');
    await nextTurn();
    const inGrace = subscriptions.graceCount;
    clock.advance(1000);

    // Assert
    assert.equal(whileWatched, 1);
    assert.equal(inGrace, 1);
    assert.deepEqual(redis.commands.at(-1), ['sunsubscribe', [channelOf('g')]]);
    assert.equal(subscriptions.channelCount, 0);
  });

  it('holds a reserved group before its client is in the registry', async () => {
    // Arrange
    const { subscriptions, redis } = setup();
    await subscriptions.attach(redis);

    // Act
    await subscriptions.reserveGroup('g');
    const held = subscriptions.channelCount;
    subscriptions.releaseGroup('g');
    await nextTurn();

    // Assert: nobody entered the registry, so the channel goes again.
    assert.equal(held, 1);
    assert.deepEqual(redis.commands, [
      ['ssubscribe', [channelOf('g')]],
      ['sunsubscribe', [channelOf('g')]],
    ]);
  });

  it('resubscribes watched groups on attach and reports them by their own partition', async () => {
    // Arrange
    const { registry, subscriptions, redis } = setup();
    registry.subscribeGroup({}, 'g');
    registry.subscribe({}, 't');

    // Act
    await subscriptions.attach(redis);
    const held = subscriptions.heldByPartition();

    // Assert: partitions + p for a group, so that a topology change finds its slot.
    assert.deepEqual(held.get(4 + partitionOf('g', 4)), [channelOf('g')]);
    assert.deepEqual(held.get(partitionOf('t', 4)), [`c:{${partitionOf('t', 4)}}:t`]);
    assert.equal(redis.commands.length, 2);
  });
});
