import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../test/support/manual-clock.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';
import { ShardChannelSubscriptions, type ShardSubscriber } from './shard-channel-subscriptions.js';

/** Records each command; answers when the test releases it (or at once). */
class FakeSubscriber implements ShardSubscriber {
  readonly commands: Array<[string, string[]]> = [];
  holdAnswers = false;
  private readonly held: Array<() => void> = [];

  ssubscribe(...channels: string[]): Promise<unknown> {
    return this.record('ssubscribe', channels);
  }

  sunsubscribe(...channels: string[]): Promise<unknown> {
    return this.record('sunsubscribe', channels);
  }

  answerAll(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  private record(name: string, channels: string[]): Promise<unknown> {
    this.commands.push([name, channels]);
    if (!this.holdAnswers) return Promise.resolve(channels.length);
    return new Promise((resolve) => this.held.push(() => resolve(channels.length)));
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function setup(mode: 'channel' | 'sharded' = 'sharded', partitions = 4, unsubscribeGraceMs = 0) {
  const options = resolveRedisOptions({
    channel: 'c',
    pubsubMode: mode,
    partitions,
    unsubscribeGraceMs,
  });
  const layout = new TaskChannelLayout(options);
  const registry = new ConnectionRegistry<object>();
  const clock = new ManualClock(0);
  const subscriptions = new ShardChannelSubscriptions(layout, registry, options, clock);
  const redis = new FakeSubscriber();
  return { layout, registry, subscriptions, redis, clock };
}

/** Task ids, `count` of them in each of partitions 0..3 of 4. */
function tasksPerPartition(layout: TaskChannelLayout, count: number): string[][] {
  const byPartition: string[][] = [[], [], [], []];
  for (let i = 0; byPartition.some((tasks) => tasks.length < count); i += 1) {
    const taskId = `task-${i}`;
    const tasks = byPartition[layout.partitionOf(taskId)];
    if (tasks.length < count) tasks.push(taskId);
  }
  return byPartition;
}

describe('ShardChannelSubscriptions', () => {
  it('subscribes the fixed channels and every watched task at attach, one command per partition', async () => {
    // Arrange
    const { layout, registry, subscriptions, redis } = setup();
    const groups = tasksPerPartition(layout, 3);
    const client = {};
    for (const taskId of groups.flat()) registry.subscribe(client, taskId);

    // Act
    await subscriptions.attach(redis, ['c:{1}:__canary__:x']);

    // Assert
    assert.deepEqual(redis.commands[0], ['ssubscribe', ['c:{1}:__canary__:x']]);
    const rest = redis.commands.slice(1);
    assert.equal(rest.length, 4);
    for (const [name, channels] of rest) {
      assert.equal(name, 'ssubscribe');
      assert.equal(channels.length, 3);
      const partitions = new Set(channels.map((channel) => /\{(\d+)\}/.exec(channel)?.[1]));
      assert.equal(partitions.size, 1, `one partition per command: ${channels.join(' ')}`);
    }
    assert.equal(subscriptions.channelCount, 12);
  });

  it('batches the first watchers of one turn into one SSUBSCRIBE per partition, and waits for it', async () => {
    // Arrange
    const { layout, registry, subscriptions, redis } = setup();
    await subscriptions.attach(redis);
    const groups = tasksPerPartition(layout, 50);
    redis.holdAnswers = true;
    const clients = Array.from({ length: 500 }, () => ({}));

    // Act: 500 clients, two tasks each, subscribe in the same turn (a reconnect storm).
    const watched: Array<Promise<void>> = [];
    clients.forEach((client, i) => {
      for (const taskId of [groups[i % 4][i % 50], groups[(i + 1) % 4][(i * 7) % 50]]) {
        if (registry.subscribe(client, taskId) === 'subscribed') {
          watched.push(subscriptions.watch(taskId));
        }
      }
    });
    let settled = false;
    void Promise.all(watched).then(() => (settled = true));
    await nextTurn();
    await nextTurn();

    // Assert: four commands for 200 channels, and no watcher went on before the answers.
    assert.equal(redis.commands.length, 4);
    assert.equal(redis.commands.flatMap(([, channels]) => channels).length, 200);
    assert.equal(settled, false);
    redis.answerAll();
    await Promise.all(watched);
    assert.equal(subscriptions.counts.ssubscribeCommands, 4);
  });

  it('a later watcher of a task whose SSUBSCRIBE is in flight waits for it without a command', async () => {
    const { registry, subscriptions, redis } = setup();
    await subscriptions.attach(redis);
    redis.holdAnswers = true;
    registry.subscribe({}, 't-1');
    const first = subscriptions.watch('t-1');
    await nextTurn();
    registry.subscribe({}, 't-1');
    let secondDone = false;
    const second = subscriptions.watch('t-1').then(() => (secondDone = true));
    await nextTurn();
    assert.equal(redis.commands.length, 1);
    assert.equal(secondDone, false);
    redis.answerAll();
    await Promise.all([first, second]);
    // Confirmed: a third watcher goes on at once.
    registry.subscribe({}, 't-1');
    await subscriptions.watch('t-1');
    assert.equal(redis.commands.length, 1);
  });

  it('unsubscribes at once when the last watcher leaves with no grace, batched, and sends nothing for a task that came back within the turn', async () => {
    // Arrange
    const { layout, registry, subscriptions, redis } = setup();
    const [group] = tasksPerPartition(layout, 3);
    const [a, b, c] = group;
    const one = {};
    const two = {};
    for (const taskId of [a, b, c]) registry.subscribe(one, taskId);
    registry.subscribe(two, a);
    await subscriptions.attach(redis);
    redis.commands.length = 0;

    // Act: a keeps a watcher; b leaves; c leaves and comes back in the same turn.
    for (const taskId of registry.removeConnection(one)) subscriptions.unwatch(taskId);
    registry.subscribe(two, c);
    void subscriptions.watch(c);
    await nextTurn();

    // Assert
    assert.deepEqual(redis.commands, [['sunsubscribe', [layout.channelOf(b)]]]);
    assert.equal(subscriptions.channelCount, 2);
  });

  it('sends nothing while detached, and resolves the watchers at once', async () => {
    const { registry, subscriptions, redis } = setup();
    await subscriptions.attach(redis);
    subscriptions.detach();
    registry.subscribe({}, 't-1');
    await subscriptions.watch('t-1');
    assert.equal(redis.commands.length, 0);
    // The next attach subscribes it.
    await subscriptions.attach(redis);
    assert.deepEqual(redis.commands, [
      ['ssubscribe', ['c:{' + setup().layout.partitionOf('t-1') + '}:t-1']],
    ]);
  });

  it('reserve() subscribes a task before its client is in the registry; release() leaves it to the registry', async () => {
    const { layout, registry, subscriptions, redis } = setup();
    await subscriptions.attach(redis);
    redis.holdAnswers = true;

    // A subscribe in flight: the channel is wanted although nobody is registered yet.
    let confirmed = false;
    const reserved = subscriptions.reserve('kept').then(() => (confirmed = true));
    await nextTurn();
    assert.deepEqual(redis.commands, [['ssubscribe', [layout.channelOf('kept')]]]);
    assert.equal(confirmed, false);
    redis.answerAll();
    await reserved;
    registry.subscribe({}, 'kept');
    subscriptions.release('kept');
    await nextTurn();
    assert.equal(redis.commands.length, 1, 'registered: the channel stays');

    // A client that went away before registering: its reservation ends, and so does the channel.
    redis.holdAnswers = false;
    await subscriptions.reserve('dropped');
    subscriptions.release('dropped');
    await nextTurn();
    assert.deepEqual(redis.commands.slice(1), [
      ['ssubscribe', [layout.channelOf('dropped')]],
      ['sunsubscribe', [layout.channelOf('dropped')]],
    ]);
    assert.equal(subscriptions.channelCount, 1);
  });

  it('does nothing in channel mode', async () => {
    const { registry, subscriptions, redis } = setup('channel');
    registry.subscribe({}, 't-1');
    await subscriptions.watch('t-1');
    subscriptions.unwatch('t-1');
    await nextTurn();
    assert.equal(redis.commands.length, 0);
    assert.equal(subscriptions.enabled, false);
  });
});

describe('ShardChannelSubscriptions: the unsubscribe grace', () => {
  const GRACE_MS = 30_000;

  it('keeps the channel for the grace, then unsubscribes the tasks of one instant in one command per partition', async () => {
    // Arrange
    const { layout, registry, subscriptions, redis, clock } = setup('sharded', 4, GRACE_MS);
    const groups = tasksPerPartition(layout, 3);
    const client = {};
    for (const taskId of groups.flat()) registry.subscribe(client, taskId);
    await subscriptions.attach(redis);
    redis.commands.length = 0;

    // Act
    for (const taskId of registry.removeConnection(client)) subscriptions.unwatch(taskId);
    await nextTurn();

    // Assert: held in grace behind one timer, nothing sent until it is over.
    assert.equal(redis.commands.length, 0);
    assert.equal(subscriptions.channelCount, 12);
    assert.equal(subscriptions.graceCount, 12);
    assert.deepEqual(clock.pending(), [GRACE_MS]);
    clock.advance(GRACE_MS - 1);
    assert.equal(redis.commands.length, 0);
    clock.advance(1);
    assert.equal(redis.commands.length, 4);
    for (const [name, channels] of redis.commands) {
      assert.equal(name, 'sunsubscribe');
      assert.equal(channels.length, 3);
    }
    assert.equal(subscriptions.channelCount, 0);
    assert.equal(subscriptions.graceCount, 0);
    assert.equal(subscriptions.counts.sunsubscribeCommands, 4);
    assert.deepEqual(clock.pending(), []);
  });

  it('sends nothing for a task whose watcher came back within the grace, and no SSUBSCRIBE either', async () => {
    const { registry, subscriptions, redis, clock } = setup('sharded', 4, GRACE_MS);
    const first = {};
    registry.subscribe(first, 't-1');
    await subscriptions.attach(redis);
    redis.commands.length = 0;
    for (const taskId of registry.removeConnection(first)) subscriptions.unwatch(taskId);
    await nextTurn();
    clock.advance(GRACE_MS / 2);

    // A reload: the same task, a new connection, before the grace is over.
    registry.subscribe({}, 't-1');
    await subscriptions.watch('t-1');
    assert.equal(subscriptions.graceCount, 0);
    clock.advance(GRACE_MS);

    assert.deepEqual(redis.commands, []);
    assert.equal(subscriptions.channelCount, 1);
  });

  it('uses one timer: tasks that leave later fall due later, each after its own grace', async () => {
    const { registry, subscriptions, redis, clock, layout } = setup('sharded', 4, GRACE_MS);
    const one = {};
    const two = {};
    registry.subscribe(one, 'early');
    registry.subscribe(two, 'late');
    await subscriptions.attach(redis);
    redis.commands.length = 0;

    for (const taskId of registry.removeConnection(one)) subscriptions.unwatch(taskId);
    await nextTurn();
    clock.advance(10_000);
    for (const taskId of registry.removeConnection(two)) subscriptions.unwatch(taskId);
    await nextTurn();
    assert.equal(clock.pending().length, 1, 'one timer for both');

    clock.advance(GRACE_MS - 10_000);
    assert.deepEqual(redis.commands, [['sunsubscribe', [layout.channelOf('early')]]]);
    assert.deepEqual(clock.pending(), [10_000]);
    clock.advance(10_000);
    assert.deepEqual(redis.commands.slice(1), [['sunsubscribe', [layout.channelOf('late')]]]);
    assert.equal(subscriptions.graceCount, 0);
  });

  it('forgets the graces when the connection is lost and at shutdown: nothing stays pending', async () => {
    const { registry, subscriptions, redis, clock } = setup('sharded', 4, GRACE_MS);
    const client = {};
    registry.subscribe(client, 't-1');
    registry.subscribe(client, 't-2');
    await subscriptions.attach(redis);
    registry.unsubscribe(client, 't-1');
    subscriptions.unwatch('t-1');
    await nextTurn();
    assert.equal(subscriptions.graceCount, 1);

    // Lost: Redis dropped every subscription, so there is nothing to unsubscribe later.
    subscriptions.detach();
    assert.equal(subscriptions.graceCount, 0);
    assert.deepEqual(clock.pending(), []);

    // Reattached: only the watched task is subscribed again.
    redis.commands.length = 0;
    await subscriptions.attach(redis);
    assert.deepEqual(
      redis.commands.map(([name, channels]) => [name, channels.length]),
      [['ssubscribe', 1]],
    );
    registry.unsubscribe(client, 't-2');
    subscriptions.unwatch('t-2');
    await nextTurn();
    assert.deepEqual(clock.pending(), [GRACE_MS]);

    subscriptions.onApplicationShutdown();
    assert.deepEqual(clock.pending(), []);
    assert.equal(subscriptions.graceCount, 0);
  });
});
