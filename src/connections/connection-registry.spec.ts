import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionRegistry, type TaskSubscriberCount } from './connection-registry.js';

interface FakeConnection {
  id: string;
}

const connection = (id: string): FakeConnection => ({ id });

/** mulberry32: a small seeded PRNG, so the randomized test fails the same way every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The obvious, slow definition of topTasks: sort everything, then cut. */
function naiveTopTasks(counts: Map<string, number>, limit: number): TaskSubscriberCount[] {
  return [...counts]
    .filter(([, connections]) => connections > 0)
    .map(([taskId, connections]) => ({ taskId, connections }))
    .sort((a, b) =>
      a.connections !== b.connections
        ? b.connections - a.connections
        : a.taskId < b.taskId
          ? -1
          : a.taskId > b.taskId
            ? 1
            : 0,
    )
    .slice(0, Math.max(0, limit));
}

describe('ConnectionRegistry', () => {
  describe('subscribe / unsubscribe', () => {
    it('records a subscription in both indexes and in the counts', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');

      // Act
      const result = registry.subscribe(alice, 'task-1');

      // Assert
      assert.equal(result, 'subscribed');
      assert.deepEqual([...registry.tasksOf(alice)], ['task-1']);
      assert.deepEqual([...(registry.subscribersOf('task-1') ?? [])], [alice]);
      assert.equal(registry.connectionCount, 1);
      assert.equal(registry.subscriptionCount, 1);
      assert.equal(registry.taskCount, 1);
    });

    it('treats a second subscribe to the same task as already_subscribed, counting it once', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');
      registry.subscribe(alice, 'task-1');

      // Act
      const result = registry.subscribe(alice, 'task-1');

      // Assert
      assert.equal(result, 'already_subscribed');
      assert.equal(registry.subscriptionCount, 1);
      assert.equal(registry.subscribersOf('task-1')?.size, 1);
      assert.equal(registry.tasksOf(alice).size, 1);
    });

    it('removes the subscription from both indexes on unsubscribe', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');
      const bob = connection('bob');
      registry.subscribe(alice, 'task-1');
      registry.subscribe(bob, 'task-1');
      registry.subscribe(alice, 'task-2');

      // Act
      const removed = registry.unsubscribe(alice, 'task-1');

      // Assert
      assert.equal(removed, true);
      assert.deepEqual([...registry.tasksOf(alice)], ['task-2']);
      assert.deepEqual([...(registry.subscribersOf('task-1') ?? [])], [bob]);
      assert.equal(registry.subscriptionCount, 2);
      assert.equal(registry.taskCount, 2);
      assert.equal(registry.connectionCount, 2);
    });

    it('returns false and changes nothing when unsubscribing from a task not held', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');
      const stranger = connection('stranger');
      registry.subscribe(alice, 'task-1');

      // Act
      const notHeld = registry.unsubscribe(alice, 'task-2');
      const unknownConnection = registry.unsubscribe(stranger, 'task-1');

      // Assert
      assert.equal(notHeld, false);
      assert.equal(unknownConnection, false);
      assert.equal(registry.subscriptionCount, 1);
      assert.equal(registry.taskCount, 1);
      assert.equal(registry.connectionCount, 1);
      assert.equal(registry.hasConnection(stranger), false);
    });

    it('returns undefined from subscribersOf once the last subscriber of a task is gone', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');
      const bob = connection('bob');
      registry.subscribe(alice, 'task-1');
      registry.subscribe(bob, 'task-1');

      // Act
      registry.unsubscribe(alice, 'task-1');
      const afterFirst = registry.subscribersOf('task-1')?.size;
      registry.unsubscribe(bob, 'task-1');

      // Assert
      assert.equal(afterFirst, 1);
      assert.equal(registry.subscribersOf('task-1'), undefined);
      assert.equal(registry.taskCount, 0);
      assert.equal(registry.subscriptionCount, 0);
    });

    it('returns undefined from subscribersOf for a task nobody ever subscribed to', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();

      // Act
      const subscribers = registry.subscribersOf('never-seen');

      // Assert
      assert.equal(subscribers, undefined);
    });
  });

  describe('per-connection subscription limit', () => {
    it('answers limit_reached past the limit and does not record the subscription', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>(2);
      const alice = connection('alice');
      registry.subscribe(alice, 'task-1');
      registry.subscribe(alice, 'task-2');

      // Act
      const result = registry.subscribe(alice, 'task-3');

      // Assert
      assert.equal(result, 'limit_reached');
      assert.deepEqual([...registry.tasksOf(alice)].sort(), ['task-1', 'task-2']);
      assert.equal(registry.subscribersOf('task-3'), undefined);
      assert.equal(registry.subscriptionCount, 2);
      assert.equal(registry.taskCount, 2);
    });

    it('answers already_subscribed, not limit_reached, for a task already held at the limit', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>(2);
      const alice = connection('alice');
      registry.subscribe(alice, 'task-1');
      registry.subscribe(alice, 'task-2');

      // Act
      const result = registry.subscribe(alice, 'task-1');

      // Assert
      assert.equal(result, 'already_subscribed');
      assert.equal(registry.subscriptionCount, 2);
    });

    it('counts the limit per connection, not globally', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>(1);
      const alice = connection('alice');
      const bob = connection('bob');
      registry.subscribe(alice, 'task-1');

      // Act
      const result = registry.subscribe(bob, 'task-2');

      // Assert
      assert.equal(result, 'subscribed');
      assert.equal(registry.subscriptionCount, 2);
    });

    it('frees a slot when the connection unsubscribes', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>(1);
      const alice = connection('alice');
      registry.subscribe(alice, 'task-1');
      registry.unsubscribe(alice, 'task-1');

      // Act
      const result = registry.subscribe(alice, 'task-2');

      // Assert
      assert.equal(result, 'subscribed');
      assert.deepEqual([...registry.tasksOf(alice)], ['task-2']);
    });
  });

  describe('connections', () => {
    it('counts a connection added without subscriptions', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');

      // Act
      registry.addConnection(alice);
      registry.addConnection(alice);

      // Assert
      assert.equal(registry.hasConnection(alice), true);
      assert.equal(registry.connectionCount, 1);
      assert.equal(registry.subscriptionCount, 0);
      assert.equal(registry.tasksOf(alice).size, 0);
    });

    it('does not drop existing subscriptions when addConnection is called again', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');
      registry.subscribe(alice, 'task-1');

      // Act
      registry.addConnection(alice);

      // Assert
      assert.deepEqual([...registry.tasksOf(alice)], ['task-1']);
      assert.equal(registry.subscriptionCount, 1);
    });

    it('removeConnection cleans both indexes and every count, and returns the tasks it held', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');
      const bob = connection('bob');
      registry.subscribe(alice, 'shared');
      registry.subscribe(alice, 'alice-only-1');
      registry.subscribe(alice, 'alice-only-2');
      registry.subscribe(bob, 'shared');

      // Act
      const removed = registry.removeConnection(alice);

      // Assert
      assert.deepEqual(removed.sort(), ['alice-only-1', 'alice-only-2', 'shared']);
      assert.equal(registry.hasConnection(alice), false);
      assert.equal(registry.tasksOf(alice).size, 0);
      assert.deepEqual([...(registry.subscribersOf('shared') ?? [])], [bob]);
      assert.equal(registry.subscribersOf('alice-only-1'), undefined);
      assert.equal(registry.subscribersOf('alice-only-2'), undefined);
      assert.equal(registry.connectionCount, 1);
      assert.equal(registry.subscriptionCount, 1);
      assert.equal(registry.taskCount, 1);
      assert.deepEqual([...registry.connections()], [bob]);
    });

    it('removeConnection of an unknown connection returns [] and changes nothing', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      registry.subscribe(connection('alice'), 'task-1');

      // Act
      const removed = registry.removeConnection(connection('stranger'));

      // Assert
      assert.deepEqual(removed, []);
      assert.equal(registry.connectionCount, 1);
      assert.equal(registry.subscriptionCount, 1);
      assert.equal(registry.taskCount, 1);
    });

    it('removeConnection twice is harmless', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();
      const alice = connection('alice');
      registry.subscribe(alice, 'task-1');
      registry.removeConnection(alice);

      // Act
      const second = registry.removeConnection(alice);

      // Assert
      assert.deepEqual(second, []);
      assert.equal(registry.connectionCount, 0);
      assert.equal(registry.subscriptionCount, 0);
      assert.equal(registry.taskCount, 0);
    });
  });

  describe('topTasks', () => {
    function registryWith(subscribers: Record<string, number>): ConnectionRegistry<FakeConnection> {
      const registry = new ConnectionRegistry<FakeConnection>();
      const pool = Array.from({ length: 10 }, (_, index) => connection(`c${index}`));
      for (const [taskId, count] of Object.entries(subscribers)) {
        for (let index = 0; index < count; index += 1) registry.subscribe(pool[index], taskId);
      }
      return registry;
    }

    it('orders by subscriber count descending, then task id ascending', () => {
      // Arrange
      const registry = registryWith({
        'task-b': 2,
        'task-c': 3,
        'task-a': 2,
        'task-d': 1,
        'task-0': 2,
      });

      // Act
      const top = registry.topTasks(10);

      // Assert
      assert.deepEqual(top, [
        { taskId: 'task-c', connections: 3 },
        { taskId: 'task-0', connections: 2 },
        { taskId: 'task-a', connections: 2 },
        { taskId: 'task-b', connections: 2 },
        { taskId: 'task-d', connections: 1 },
      ]);
    });

    it('keeps only the first `limit` entries', () => {
      // Arrange
      const registry = registryWith({ 'task-b': 2, 'task-c': 3, 'task-a': 2, 'task-d': 1 });

      // Act
      const top = registry.topTasks(2);

      // Assert
      assert.deepEqual(top, [
        { taskId: 'task-c', connections: 3 },
        { taskId: 'task-a', connections: 2 },
      ]);
    });

    it('returns [] for limit 0', () => {
      // Arrange
      const registry = registryWith({ 'task-a': 1, 'task-b': 2 });

      // Act
      const top = registry.topTasks(0);

      // Assert
      assert.deepEqual(top, []);
    });

    it('returns every task when limit exceeds the number of tasks', () => {
      // Arrange
      const registry = registryWith({ 'task-a': 1, 'task-b': 2 });

      // Act
      const top = registry.topTasks(1000);

      // Assert
      assert.deepEqual(top, [
        { taskId: 'task-b', connections: 2 },
        { taskId: 'task-a', connections: 1 },
      ]);
    });

    it('returns [] when there are no tasks', () => {
      // Arrange
      const registry = new ConnectionRegistry<FakeConnection>();

      // Act
      const top = registry.topTasks(5);

      // Assert
      assert.deepEqual(top, []);
    });

    it('matches a naive full sort for a few thousand random tasks', () => {
      // Arrange: 3,000 tasks, 60 connections, with unsubscribes and disconnects mixed in, and
      // few distinct counts so that ties (ordered by task id) are common.
      const random = seededRandom(20240601);
      const registry = new ConnectionRegistry<FakeConnection>();
      const connections = Array.from({ length: 60 }, (_, index) => connection(`conn-${index}`));
      const held = new Map<FakeConnection, Set<string>>(connections.map((c) => [c, new Set()]));
      const taskIds = Array.from(
        { length: 3000 },
        (_, index) => `task-${Math.floor(random() * 1e9).toString(36)}-${index}`,
      );
      for (let step = 0; step < 20_000; step += 1) {
        const who = connections[Math.floor(random() * connections.length)];
        const taskId = taskIds[Math.floor(random() * taskIds.length)];
        const roll = random();
        if (roll < 0.8) {
          registry.subscribe(who, taskId);
          held.get(who)?.add(taskId);
        } else if (roll < 0.98) {
          registry.unsubscribe(who, taskId);
          held.get(who)?.delete(taskId);
        } else {
          registry.removeConnection(who);
          held.get(who)?.clear();
        }
      }
      const counts = new Map<string, number>();
      for (const tasks of held.values()) {
        for (const taskId of tasks) counts.set(taskId, (counts.get(taskId) ?? 0) + 1);
      }
      const limits = [1, 2, 10, 100, 999, counts.size - 1, counts.size, counts.size + 50];

      // Act
      const results = limits.map((limit) => registry.topTasks(limit));

      // Assert
      assert.ok(counts.size > 1000, `expected many tasks with subscribers, got ${counts.size}`);
      assert.equal(registry.taskCount, counts.size);
      assert.equal(
        registry.subscriptionCount,
        [...held.values()].reduce((total, tasks) => total + tasks.size, 0),
      );
      results.forEach((top, index) => {
        assert.deepEqual(top, naiveTopTasks(counts, limits[index]), `limit ${limits[index]}`);
      });
    });
  });
});
