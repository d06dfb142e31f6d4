import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import type { DataPathCanary } from './data-path-canary.js';
import { GroupTaskIndex } from './group-task-index.js';
import { LiveUpdateRelay } from './live-update-relay.js';
import type { SlowConsumerGuard } from './slow-consumer-guard.js';
import { TaskStateTracker } from './task-state-tracker.js';
import type { LiveUpdateRun } from './live-update-run.js';

/** Records which socket got which run (the guard is the last step before the socket). */
class RecordingGuard {
  readonly sent: Array<{ socket: string; task: string; count: number }> = [];
  sendRun(socket: { name: string }, run: LiveUpdateRun): void {
    this.sent.push({ socket: socket.name, task: run.taskId, count: run.payloads.length });
  }
}

const socket = (name: string) => ({ name, readyState: 1 }) as unknown as WebSocket;

function setUp() {
  const registry = new ConnectionRegistry<WebSocket>();
  const counters = new DeliveryCounters();
  const guard = new RecordingGuard();
  const groupTasks = new GroupTaskIndex();
  const relay = new LiveUpdateRelay(
    registry,
    counters,
    new TaskStateTracker(new Set(['completed', 'failed', 'cancelled'])),
    guard as unknown as SlowConsumerGuard,
    {} as DataPathCanary,
    groupTasks,
  );
  const publish = (message: Record<string, unknown>) =>
    relay.relay(Buffer.from(JSON.stringify(message)));
  return { registry, counters, guard, groupTasks, relay, publish };
}

const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('LiveUpdateRelay: groups', () => {
  it('delivers an update to the subscribers of the group it names, and notes the task', async () => {
    // Arrange
    const { registry, guard, groupTasks, publish, counters } = setUp();
    const dashboard = socket('dashboard');
    registry.subscribeGroup(dashboard, 'org-42');

    // Act
    publish({ task_id: 't1', group: 'org-42', status: 'processing' });
    publish({ task_id: 't2', group: 'org-43', status: 'processing' });
    publish({ task_id: 't3', status: 'processing' });
    await endOfTurn();

    // Assert
    assert.deepEqual(guard.sent, [{ socket: 'dashboard', task: 't1', count: 1 }]);
    assert.deepEqual([...groupTasks.tasksOf('org-42')], ['t1']);
    assert.equal(counters.updatesRouted, 1);
    assert.equal(counters.updatesUnrouted, 2);
  });

  it('sends once to a socket subscribed to the task and to its group', async () => {
    const { registry, guard, publish } = setUp();
    const both = socket('both');
    const taskOnly = socket('task-only');
    registry.subscribe(both, 't1');
    registry.subscribe(taskOnly, 't1');
    registry.subscribeGroup(both, 'g');

    publish({ task_id: 't1', group: 'g', status: 'processing' });
    await endOfTurn();

    assert.deepEqual(guard.sent.map((entry) => entry.socket).sort(), ['both', 'task-only']);
  });

  it('latches a task of a group after its terminal state', async () => {
    const { registry, guard, publish, counters } = setUp();
    registry.subscribeGroup(socket('dashboard'), 'g');

    publish({ task_id: 't1', group: 'g', status: 'completed' });
    publish({ task_id: 't1', group: 'g', status: 'processing' });
    publish({ task_id: 't2', group: 'g', status: 'processing' });
    await endOfTurn();

    assert.deepEqual(
      guard.sent.map((entry) => `${entry.task}x${entry.count}`),
      ['t1x1', 't2x1'],
    );
    assert.equal(counters.superseded.after_terminal, 1);
  });

  it('ignores a group field that is not a string', async () => {
    const { registry, guard, publish } = setUp();
    registry.subscribeGroup(socket('dashboard'), '42');

    publish({ task_id: 't1', group: 42, status: 'processing' });
    publish({ task_id: 't1', group: ['42'], status: 'processing' });
    await endOfTurn();

    assert.deepEqual(guard.sent, []);
  });

  it('parses an unwatched task only while a group is watched and its bytes hold "group"', () => {
    const { registry, relay, counters } = setUp();
    // Malformed after the task id: only a parse notices, so invalid_json counts the parses.
    const truncated = Buffer.from('{"task_id":"t1","group":"g",');
    const dashboard = socket('dashboard');

    relay.relay(truncated);
    registry.subscribeGroup(dashboard, 'g');
    relay.relay(Buffer.from('{"task_id":"t1","status":'));
    relay.relay(truncated);
    registry.unsubscribeGroup(dashboard, 'g');
    relay.relay(truncated);

    assert.equal(counters.dropped.invalid_json, 1);
    assert.equal(counters.updatesUnrouted, 3);
  });

  it('drops an unwatched task’s update of another group by its bytes, without parsing', () => {
    const { registry, relay, counters } = setUp();
    registry.subscribeGroup(socket('dashboard'), 'g');

    // Malformed after the group: a parse would count invalid_json.
    relay.relay(Buffer.from('{"task_id":"t1","group":"h",'));
    relay.relay(Buffer.from('{"task_id":"t1","group":"g",'));

    assert.equal(counters.dropped.invalid_json, 1);
    assert.equal(counters.updatesUnrouted, 1);
  });

  it('sharded: drops the second copy of an update, whichever channel brings it first', async () => {
    // Arrange
    const { registry, guard, relay, counters } = setUp();
    const both = socket('both');
    registry.subscribe(both, 't1');
    registry.subscribeGroup(both, 'g');
    const v1 = Buffer.from(JSON.stringify({ task_id: 't1', group: 'g', status: 'a', version: 1 }));
    const v2 = Buffer.from(JSON.stringify({ task_id: 't1', group: 'g', status: 'b', version: 2 }));
    const v3 = Buffer.from(JSON.stringify({ task_id: 't1', group: 'g', status: 'b', version: 2 }));

    // Act: the group's copies lag behind the task's, then lead.
    relay.relay(v1, 'task');
    relay.relay(v2, 'task');
    relay.relay(v1, 'group');
    relay.relay(v2, 'group');
    relay.relay(v3, 'group');
    relay.relay(v3, 'task');
    await endOfTurn();

    // Assert: v1 and v2 once each; v3 is v2's exact frame, so a copy too.
    assert.equal(
      guard.sent.reduce((sum, entry) => sum + entry.count, 0),
      2,
    );
    assert.equal(counters.superseded.stale, 4);
  });
});
