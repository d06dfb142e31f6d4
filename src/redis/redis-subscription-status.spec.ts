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
});
