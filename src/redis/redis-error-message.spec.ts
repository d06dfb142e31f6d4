import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redisErrorMessage } from './redis-error-message.js';

describe('redisErrorMessage', () => {
  it('is the message of a plain error', () => {
    // Act + Assert
    assert.equal(redisErrorMessage(new Error('connect ECONNREFUSED')), 'connect ECONNREFUSED');
  });

  it("adds a cluster error's last node error, which names the cause", () => {
    // Arrange: the shape of ioredis' ClusterAllFailedError.
    const error = Object.assign(new Error('Failed to refresh slots cache.'), {
      lastNodeError: new Error('WRONGPASS invalid username-password pair or user is disabled.'),
    });

    // Act
    const message = redisErrorMessage(error);

    // Assert
    assert.equal(
      message,
      'Failed to refresh slots cache. Last node error: WRONGPASS invalid username-password pair or user is disabled.',
    );
  });

  it('ignores a last node error that is not an Error or says nothing new', () => {
    // Arrange
    const odd = Object.assign(new Error('Failed'), { lastNodeError: 'text' });
    const same = Object.assign(new Error('Failed'), { lastNodeError: new Error('Failed') });

    // Act + Assert
    assert.equal(redisErrorMessage(odd), 'Failed');
    assert.equal(redisErrorMessage(same), 'Failed');
  });
});
