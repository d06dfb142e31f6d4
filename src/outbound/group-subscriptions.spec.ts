import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { GroupSubscriptions } from './group-subscriptions.js';
import { GroupTaskIndex } from './group-task-index.js';
import type { ShardChannelSubscriptions } from './shard-channel-subscriptions.js';
import type { SlowConsumerGuard } from './slow-consumer-guard.js';
import type { TaskSnapshotReader } from './task-snapshot-reader.js';
import { resolveTaskStateOptions } from './task-state-options.js';
import { TaskStateTracker } from './task-state-tracker.js';

/** Records what reaches each socket, and which held-back tasks are forgotten. */
class RecordingGuard {
  readonly sent: string[] = [];
  readonly forgotten: string[] = [];
  send(_socket: WebSocket, taskId: string, frame: Buffer, terminal: boolean): void {
    const { snapshot, data } = JSON.parse(frame.toString()) as {
      snapshot: boolean;
      data: { status: string };
    };
    this.sent.push(
      `${taskId}:${data.status}${snapshot ? ':snapshot' : ''}${terminal ? ':terminal' : ''}`,
    );
  }
  forgetTask(_socket: WebSocket, taskId: string): void {
    this.forgotten.push(taskId);
  }
}

const OPEN = 1;
const socket = () => ({ readyState: OPEN }) as unknown as WebSocket;

function setUp({
  index = [] as string[],
  stored = new Map<string, string>(),
  beforeStates = (): void => undefined,
} = {}) {
  const registry = new ConnectionRegistry<WebSocket>();
  const counters = new DeliveryCounters();
  const tracker = new TaskStateTracker(new Set(['completed', 'failed']));
  const guard = new RecordingGuard();
  const groupTasks = new GroupTaskIndex();
  const reads: Array<[string, number]> = [];
  const channels: string[] = [];
  const shardChannels = {
    watchGroup: (groupId: string) => {
      channels.push(`watch ${groupId}`);
      return Promise.resolve();
    },
    unwatchGroup: (groupId: string) => channels.push(`unwatch ${groupId}`),
  } as unknown as ShardChannelSubscriptions;
  const reader = {
    groupsEnabled: true,
    readGroup: (groupId: string, limit: number) => {
      reads.push([groupId, limit]);
      return Promise.resolve(index.slice(0, limit));
    },
    readMany: (taskIds: string[]) => {
      beforeStates();
      return Promise.resolve(taskIds.map((taskId) => stored.get(taskId) ?? null));
    },
  } as unknown as TaskSnapshotReader;
  const groups = new GroupSubscriptions(
    resolveTaskStateOptions({ groupSnapshotMaxTasks: 3 }),
    registry,
    counters,
    reader,
    tracker,
    guard as unknown as SlowConsumerGuard,
    groupTasks,
    shardChannels,
    new SnapshotWriter(tracker, guard as unknown as SlowConsumerGuard, counters),
  );
  return { registry, counters, tracker, guard, groupTasks, groups, reads, channels };
}

const state = (taskId: string, status: string, group = 'g') =>
  JSON.stringify({ task_id: taskId, status, group });

describe('GroupSubscriptions', () => {
  it('sends the stored state of each indexed task of the group, capped, as snapshots', async () => {
    // Arrange
    const stored = new Map([
      ['t1', state('t1', 'processing')],
      ['t2', state('t2', 'completed')],
      ['t3', state('t3', 'queued', 'another-group')],
      ['t4', state('t4', 'queued')],
    ]);
    const { groups, guard, groupTasks, counters, reads } = setUp({
      index: ['t1', 't2', 't3', 't4'],
      stored,
    });
    const client = socket();
    assert.equal(groups.subscribe(client, 'g'), 'subscribed');

    // Act
    await groups.sendSnapshots(client, 'g');

    // Assert
    assert.deepEqual(reads, [['g', 3]]);
    assert.deepEqual(guard.sent, ['t1:processing:snapshot', 't2:completed:snapshot:terminal']);
    assert.deepEqual([...groupTasks.tasksOf('g')], ['t1', 't2']);
    assert.equal(counters.snapshotsDelivered, 2);
    assert.equal(counters.groupSnapshotsDelivered, 2);
  });

  it('skips missing and malformed states, and tasks the connection holds on its own', async () => {
    const stored = new Map([
      ['own', state('own', 'processing')],
      ['bad', '{"task_id":'],
      ['ok', state('ok', 'processing')],
    ]);
    const { groups, guard, registry, counters } = setUp({
      index: ['own', 'bad', 'gone'],
      stored,
    });
    const client = socket();
    registry.subscribe(client, 'own');
    groups.subscribe(client, 'g');

    await groups.sendSnapshots(client, 'g');

    assert.deepEqual(guard.sent, []);
    assert.equal(counters.snapshotsInvalid, 1);
  });

  it('sends no snapshot of a task a live update reached during the read, nor an older state', async () => {
    const stored = new Map([
      ['live', state('live', 'processing')],
      ['done', state('done', 'processing')],
    ]);
    const late: { tracker?: TaskStateTracker } = {};
    const fixture = setUp({
      index: ['live', 'done'],
      stored,
      // A live update of `live` while the states are being read.
      beforeStates: () => late.tracker?.recordLive('live', { status: 'completed' }, '{}'),
    });
    late.tracker = fixture.tracker;
    fixture.tracker.recordLive('done', { status: 'completed' }, '{}');
    const client = socket();
    fixture.groups.subscribe(client, 'g');

    await fixture.groups.sendSnapshots(client, 'g');

    assert.deepEqual(fixture.guard.sent, []);
    assert.equal(fixture.counters.superseded.snapshot, 1);
    assert.equal(fixture.counters.superseded.after_terminal, 1);
  });

  it('sends nothing to a connection that left the group while the read was in flight', async () => {
    let leave = (): void => undefined;
    const fixture = setUp({
      index: ['t1'],
      stored: new Map([['t1', state('t1', 'processing')]]),
      beforeStates: () => leave(),
    });
    const client = socket();
    fixture.groups.subscribe(client, 'g');
    leave = () => void fixture.groups.unsubscribe(client, 'g');

    await fixture.groups.sendSnapshots(client, 'g');

    assert.deepEqual(fixture.guard.sent, []);
  });

  it('on unsubscribe drops what is held back of the group’s tasks, except those held on their own', () => {
    const { groups, guard, groupTasks, registry } = setUp();
    const client = socket();
    groups.subscribe(client, 'g');
    registry.subscribe(client, 'own');
    groupTasks.note('g', 'own');
    groupTasks.note('g', 'other');

    assert.equal(groups.unsubscribe(client, 'g'), true);
    assert.equal(groups.unsubscribe(client, 'g'), false);

    assert.deepEqual(guard.forgotten, ['other']);
  });

  it('forgets the ordering state of the group’s tasks with its last subscriber, not of watched tasks', () => {
    const { groups, tracker, groupTasks, registry } = setUp();
    const [a, b, c] = [socket(), socket(), socket()];
    groups.subscribe(a, 'g');
    groups.subscribe(b, 'g');
    registry.subscribe(c, 'watched');
    for (const taskId of ['watched', 'only-group']) {
      groupTasks.note('g', taskId);
      tracker.recordLive(taskId, { status: 'completed' }, '{}');
    }

    groups.unsubscribe(a, 'g');
    assert.equal(tracker.size, 2, 'b still watches the group');
    registry.removeConnection(b);
    groups.released(['g']);

    assert.equal(tracker.size, 1);
    assert.equal(tracker.judge('watched', { status: 'processing' }), 'after_terminal');
    assert.equal(tracker.judge('only-group', { status: 'processing' }), 'deliver');
    assert.equal(groupTasks.size, 0);
  });

  it('holds the group channel from the first subscriber until the last one leaves', async () => {
    // Arrange
    const { groups, channels } = setUp();
    const [first, second] = [socket(), socket()];

    // Act
    groups.subscribe(first, 'g');
    await groups.subscribed(first, 'g');
    groups.subscribe(second, 'g');
    await groups.subscribed(second, 'g');
    groups.unsubscribe(first, 'g');
    const whileWatched = [...channels];
    groups.unsubscribe(second, 'g');

    // Assert: watch() is idempotent (ShardChannelSubscriptions), unwatch only for the last one.
    assert.deepEqual(whileWatched, ['watch g', 'watch g']);
    assert.deepEqual(channels, ['watch g', 'watch g', 'unwatch g']);
  });
});
