import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from './token-bucket.js';

/** How many of `count` takes at instant `now` succeed. */
function takeMany(bucket: TokenBucket, count: number, now: number): number {
  let taken = 0;
  for (let i = 0; i < count; i += 1) if (bucket.take(now)) taken += 1;
  return taken;
}

describe('TokenBucket', () => {
  it('lets a burst of exactly its capacity through at once', () => {
    // Arrange
    const bucket = new TokenBucket(20, 50, 0);

    // Act
    const taken = takeMany(bucket, 60, 0);

    // Assert
    assert.equal(taken, 50);
  });

  it('refills at the configured rate', () => {
    // Arrange
    const bucket = new TokenBucket(20, 50, 0);
    takeMany(bucket, 50, 0);

    // Act: 500 ms at 20 per second is 10 tokens.
    const afterHalfSecond = takeMany(bucket, 20, 500);
    const afterAnotherFifty = takeMany(bucket, 5, 550);

    // Assert
    assert.equal(afterHalfSecond, 10);
    assert.equal(afterAnotherFifty, 1);
  });

  it('never holds more than its capacity, however long it was idle', () => {
    // Arrange
    const bucket = new TokenBucket(20, 50, 0);

    // Act
    const taken = takeMany(bucket, 100, 3_600_000);

    // Assert
    assert.equal(taken, 50);
  });

  it('sustains its rate: 20 per second over 10 seconds of steady sending', () => {
    // Arrange
    const bucket = new TokenBucket(20, 5, 0);

    // Act: one attempt every 10 ms (100 per second) for 10 s.
    let taken = 0;
    for (let now = 0; now < 10_000; now += 10) if (bucket.take(now)) taken += 1;

    // Assert: the burst plus 20 per second.
    assert.ok(taken >= 200 && taken <= 205, `taken ${taken}`);
  });

  it('does not drain or refill when the clock goes backwards', () => {
    // Arrange
    const bucket = new TokenBucket(1, 2, 1_000);
    bucket.take(1_000);

    // Act
    const first = bucket.take(500);
    const second = bucket.take(500);

    // Assert
    assert.equal(first, true);
    assert.equal(second, false);
  });
});
