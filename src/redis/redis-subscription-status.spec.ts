import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisSubscriptionStatus } from './redis-subscription-status.js';

describe('RedisSubscriptionStatus', () => {
  it('starts connecting, down, with no error and no resubscription', () => {
    // Act
    const status = new RedisSubscriptionStatus();

    // Assert
    assert.equal(status.state, 'connecting');
    assert.equal(status.isUp, false);
    assert.equal(status.lastError, undefined);
    assert.equal(status.resubscriptions, 0);
  });

  it('is up once subscribed, without counting the first subscription as a resubscription', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();

    // Act
    status.markSubscribed();

    // Assert
    assert.equal(status.state, 'subscribed');
    assert.equal(status.isUp, true);
    assert.equal(status.resubscriptions, 0);
  });

  it('counts one resubscription for connecting -> subscribed -> disconnected -> subscribed', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();
    status.markSubscribed();

    // Act
    status.markDisconnected();
    const whileDown = { state: status.state, isUp: status.isUp };
    status.markSubscribed();

    // Assert
    assert.deepEqual(whileDown, { state: 'disconnected', isUp: false });
    assert.equal(status.state, 'subscribed');
    assert.equal(status.isUp, true);
    assert.equal(status.resubscriptions, 1);
  });

  it('counts every recovery, and ignores a repeated markSubscribed while already subscribed', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();
    status.markSubscribed();

    // Act
    for (let outage = 0; outage < 3; outage += 1) {
      status.markDisconnected();
      status.markSubscribed();
      status.markSubscribed();
    }

    // Assert
    assert.equal(status.resubscriptions, 3);
  });

  it('counts no resubscription when the first attempt fails and the next succeeds', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();
    status.recordError(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    status.markDisconnected();

    // Act
    status.markSubscribed();

    // Assert
    assert.equal(status.state, 'subscribed');
    assert.equal(status.isUp, true);
    assert.equal(status.resubscriptions, 0);
  });

  it('goes from connecting to disconnected on an initial failure', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();

    // Act
    status.markDisconnected();

    // Assert
    assert.equal(status.state, 'disconnected');
    assert.equal(status.isUp, false);
  });

  it('is closed and down after markClosed, and a late disconnect does not reopen it', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();
    status.markSubscribed();

    // Act
    status.markClosed();
    status.markDisconnected();

    // Assert
    assert.equal(status.state, 'closed');
    assert.equal(status.isUp, false);
  });

  it('keeps the most recent error message', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();

    // Act
    status.recordError(new Error('first'));
    status.recordError(new Error('connect ETIMEDOUT'));

    // Assert
    assert.equal(status.lastError, 'connect ETIMEDOUT');
  });

  it('recording an error does not change the state', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();
    status.markSubscribed();

    // Act
    status.recordError(new Error('READONLY'));

    // Assert
    assert.equal(status.state, 'subscribed');
    assert.equal(status.isUp, true);
  });

  it('moves stateSince on a state change only', (context) => {
    // Arrange
    context.mock.timers.enable({ apis: ['Date'], now: 1_000 });
    const status = new RedisSubscriptionStatus();
    const initial = status.stateSince;

    // Act
    context.mock.timers.tick(500);
    status.markDisconnected();
    const afterChange = status.stateSince;
    context.mock.timers.tick(500);
    status.markDisconnected();
    const afterRepeat = status.stateSince;

    // Assert
    assert.equal(initial, 1_000);
    assert.equal(afterChange, 1_500);
    assert.equal(afterRepeat, 1_500);
  });

  it('has no nodes on a single Redis, and counts that as healthy', () => {
    const status = new RedisSubscriptionStatus();
    assert.equal(status.nodes.size, 0);
    assert.equal(status.nodesHealthy, true);
  });

  it('is unhealthy while any primary is down, resubscribing or has an overdue canary', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();
    status.setNodes(['a:1', 'b:2', 'c:3']);
    status.markNode('a:1', 'subscribed');
    status.markNode('b:2', 'subscribed');
    status.markNode('c:3', 'idle');
    const allUp = status.nodesHealthy;

    // Act + Assert
    status.markNode('b:2', 'down');
    assert.equal(status.nodesHealthy, false);
    status.markNode('b:2', 'resubscribing');
    assert.equal(status.nodesHealthy, false);
    status.markNode('b:2', 'subscribed');
    status.markNodeStalled('a:1');
    assert.equal(status.nodesHealthy, false);
    assert.equal(status.dataPathHealthy, false);
    assert.equal(allUp, true);
  });

  it('clears the data path stall only once no primary is overdue any more', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();
    status.setNodes(['a:1', 'b:2']);
    status.markNodeStalled('a:1');
    status.markNodeStalled('b:2');

    // Act
    status.recordNodeCanary('a:1', 5);
    const afterOne = status.dataPathHealthy;
    status.recordNodeCanary('b:2', 7);

    // Assert
    assert.equal(afterOne, false);
    assert.equal(status.dataPathHealthy, true);
    assert.equal(status.nodes.get('b:2')?.canaryRoundTripMs, 7);
    assert.equal(status.canaryRoundTripMs, 7);
  });

  it('keeps exactly the primaries given, new ones resubscribing', () => {
    // Arrange
    const status = new RedisSubscriptionStatus();
    status.setNodes(['a:1', 'b:2']);
    status.markNode('a:1', 'subscribed');

    // Act: b fails over to d.
    status.setNodes(['a:1', 'd:4']);

    // Assert
    assert.deepEqual([...status.nodes.keys()].sort(), ['a:1', 'd:4']);
    assert.equal(status.nodes.get('a:1')?.state, 'subscribed');
    assert.equal(status.nodes.get('d:4')?.state, 'resubscribing');
  });
});
