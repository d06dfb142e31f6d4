import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionRegistry } from './connection-registry.js';

interface FakeConnection {
  id: string;
}

const connection = (id: string): FakeConnection => ({ id });

describe('ConnectionRegistry: group subscriptions', () => {
  it('records a group subscription in both indexes and its own counts, not the task ones', () => {
    // Arrange
    const registry = new ConnectionRegistry<FakeConnection>();
    const a = connection('a');

    // Act
    const result = registry.subscribeGroup(a, 'org-42');

    // Assert
    assert.equal(result, 'subscribed');
    assert.deepEqual([...(registry.groupSubscribersOf('org-42') ?? [])], [a]);
    assert.deepEqual([...registry.groupsOf(a)], ['org-42']);
    assert.deepEqual([...registry.groupIds()], ['org-42']);
    assert.equal(registry.groupCount, 1);
    assert.equal(registry.groupSubscriptionCount, 1);
    assert.equal(registry.subscriptionCount, 0);
    assert.equal(registry.taskCount, 0);
    assert.equal(registry.connectionCount, 1);
  });

  it('answers already_subscribed for a group held, counting it once', () => {
    const registry = new ConnectionRegistry<FakeConnection>();
    const a = connection('a');
    registry.subscribeGroup(a, 'g');

    assert.equal(registry.subscribeGroup(a, 'g'), 'already_subscribed');
    assert.equal(registry.groupSubscriptionCount, 1);
  });

  it('keeps a task and a group of the same id apart', () => {
    const registry = new ConnectionRegistry<FakeConnection>();
    const a = connection('a');

    assert.equal(registry.subscribe(a, 'same'), 'subscribed');
    assert.equal(registry.subscribeGroup(a, 'same'), 'subscribed');
    registry.unsubscribeGroup(a, 'same');

    assert.ok(registry.subscribersOf('same')?.has(a));
    assert.equal(registry.groupSubscribersOf('same'), undefined);
  });

  it('unsubscribes a group, and answers false for one not held', () => {
    const registry = new ConnectionRegistry<FakeConnection>();
    const a = connection('a');
    const b = connection('b');
    registry.subscribeGroup(a, 'g');
    registry.subscribeGroup(b, 'g');

    assert.equal(registry.unsubscribeGroup(a, 'g'), true);
    assert.equal(registry.unsubscribeGroup(a, 'g'), false);
    assert.equal(registry.unsubscribeGroup(a, 'never'), false);

    assert.deepEqual([...(registry.groupSubscribersOf('g') ?? [])], [b]);
    assert.deepEqual([...registry.groupsOf(a)], []);
    registry.unsubscribeGroup(b, 'g');
    assert.equal(registry.groupSubscribersOf('g'), undefined);
    assert.equal(registry.groupCount, 0);
    assert.equal(registry.groupSubscriptionCount, 0);
  });

  it('counts groups and tasks together against the subscription limit', () => {
    const registry = new ConnectionRegistry<FakeConnection>(3);
    const a = connection('a');
    registry.subscribe(a, 't1');
    registry.subscribeGroup(a, 'g1');
    registry.subscribe(a, 't2');

    assert.equal(registry.subscribeGroup(a, 'g2'), 'limit_reached');
    assert.equal(registry.subscribe(a, 't3'), 'limit_reached');
    assert.equal(registry.subscribeGroup(a, 'g1'), 'already_subscribed');

    registry.unsubscribeGroup(a, 'g1');
    assert.equal(registry.subscribe(a, 't3'), 'subscribed');
    assert.equal(registry.groupSubscribersOf('g2'), undefined);
  });

  it('answers group_limit_reached past the groups per connection, leaving task slots free', () => {
    const registry = new ConnectionRegistry<FakeConnection>(10, 2);
    const a = connection('a');
    registry.subscribeGroup(a, 'g1');
    registry.subscribeGroup(a, 'g2');

    assert.equal(registry.subscribeGroup(a, 'g3'), 'group_limit_reached');
    assert.equal(registry.subscribeGroup(connection('b'), 'g3'), 'subscribed');
    assert.equal(registry.subscribe(a, 't1'), 'subscribed');
    assert.deepEqual([...registry.groupsOf(a)], ['g1', 'g2']);
  });

  it('removeConnection releases its groups and their counts', () => {
    const registry = new ConnectionRegistry<FakeConnection>();
    const a = connection('a');
    const b = connection('b');
    registry.subscribeGroup(a, 'g1');
    registry.subscribeGroup(a, 'g2');
    registry.subscribeGroup(b, 'g2');
    registry.subscribe(a, 't1');

    assert.deepEqual(registry.removeConnection(a), ['t1']);

    assert.equal(registry.groupSubscribersOf('g1'), undefined);
    assert.deepEqual([...(registry.groupSubscribersOf('g2') ?? [])], [b]);
    assert.equal(registry.groupSubscriptionCount, 1);
    assert.deepEqual([...registry.groupsOf(a)], []);
  });

  it('refuses every group when the groups per connection are 0', () => {
    const registry = new ConnectionRegistry<FakeConnection>(10, 0);
    const a = connection('a');

    assert.equal(registry.subscribeGroup(a, 'g'), 'group_limit_reached');
    assert.equal(registry.groupCount, 0);
    assert.equal(registry.subscribe(a, 't'), 'subscribed');
  });
});
