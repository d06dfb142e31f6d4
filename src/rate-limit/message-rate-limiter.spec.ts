import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageRateLimiter, type MessageRateLimitOptions } from './message-rate-limiter.js';

const OPTIONS: MessageRateLimitOptions = {
  perSecond: 10,
  burst: 3,
  maxViolations: 2,
  violationWindowMs: 60_000,
};

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 0;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('MessageRateLimiter', () => {
  it('is off, and opens nothing, at 0 messages per second', () => {
    // Arrange
    const limiter = new MessageRateLimiter({ ...OPTIONS, perSecond: 0 });

    // Act
    const limit = limiter.open('connection-1');

    // Assert
    assert.equal(limiter.enabled, false);
    assert.equal(limit, undefined);
  });

  it('gives each connection a bucket of its own', () => {
    // Arrange
    const clock = manualClock();
    const limiter = new MessageRateLimiter(OPTIONS, clock.now);
    const first = limiter.open('first');
    const second = limiter.open('second');
    assert.ok(first && second);

    // Act
    const firstTakes = [first.take(), first.take(), first.take(), first.take()];
    const secondTake = second.take();

    // Assert
    assert.deepEqual(firstTakes, [true, true, true, false]);
    assert.equal(secondTake, true);
  });

  it('refills with time', () => {
    // Arrange
    const clock = manualClock();
    const limiter = new MessageRateLimiter(OPTIONS, clock.now);
    const limit = limiter.open('connection-1');
    assert.ok(limit);
    while (limit.take());

    // Act
    clock.advance(100);

    // Assert: 10 per second, so one token after 100 ms.
    assert.equal(limit.take(), true);
    assert.equal(limit.take(), false);
  });

  it('answers maxViolations over-limit messages, then says close', async () => {
    // Arrange
    const limiter = new MessageRateLimiter(OPTIONS);
    const limit = limiter.open('connection-1');
    assert.ok(limit);

    // Act
    const verdicts = [await limit.violation(), await limit.violation(), await limit.violation()];

    // Assert
    assert.deepEqual(verdicts, ['answer', 'answer', 'close']);
  });

  it('counts violations per connection', async () => {
    // Arrange
    const limiter = new MessageRateLimiter({ ...OPTIONS, maxViolations: 1 });
    const first = limiter.open('first');
    const second = limiter.open('second');
    assert.ok(first && second);
    await first.violation();

    // Act
    const verdict = await second.violation();

    // Assert
    assert.equal(verdict, 'answer');
  });

  it('forgets a connection’s violations when it is released', async () => {
    // Arrange
    const limiter = new MessageRateLimiter({ ...OPTIONS, maxViolations: 1 });
    const limit = limiter.open('connection-1');
    assert.ok(limit);
    await limit.violation();

    // Act
    limit.release();
    const reopened = limiter.open('connection-1');
    assert.ok(reopened);
    const verdict = await reopened.violation();

    // Assert
    assert.equal(verdict, 'answer');
  });

  it('closes at the first over-limit message when maxViolations is 0', async () => {
    // Arrange
    const limiter = new MessageRateLimiter({ ...OPTIONS, maxViolations: 0 });
    const limit = limiter.open('connection-1');
    assert.ok(limit);

    // Act
    const verdict = await limit.violation();

    // Assert
    assert.equal(verdict, 'close');
  });
});
