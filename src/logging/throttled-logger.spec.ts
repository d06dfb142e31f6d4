import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '@nestjs/common';
import { ThrottledLogger } from './throttled-logger.js';

/** A Logger stand-in that records warn() lines, and a clock the test moves by hand. */
function setup(maxPerWindow: number, windowMs: number, start = 1_000_000) {
  const lines: string[] = [];
  const fakeLogger = {
    warn(message: string) {
      lines.push(message);
    },
  } as unknown as Logger;
  const clock = { now: start };
  const throttled = new ThrottledLogger(fakeLogger, maxPerWindow, windowMs, () => clock.now);
  return { lines, clock, throttled };
}

describe('ThrottledLogger', () => {
  it('passes messages through while under the limit', () => {
    // Arrange
    const { lines, throttled } = setup(3, 60_000);

    // Act
    throttled.warn('one');
    throttled.warn('two');
    throttled.warn('three');

    // Assert
    assert.deepEqual(lines, ['one', 'two', 'three']);
  });

  it('logs at most maxPerWindow messages in one window', () => {
    // Arrange
    const { lines, clock, throttled } = setup(3, 60_000);

    // Act
    for (let index = 0; index < 10; index += 1) {
      throttled.warn(`message ${index}`);
      clock.now += 1_000;
    }

    // Assert
    assert.deepEqual(lines, ['message 0', 'message 1', 'message 2']);
  });

  it('writes one summary with the suppressed count when the next window starts', () => {
    // Arrange
    const { lines, clock, throttled } = setup(2, 60_000);
    for (let index = 0; index < 7; index += 1) throttled.warn(`first ${index}`);

    // Act
    clock.now += 60_000;
    throttled.warn('second 0');
    throttled.warn('second 1');

    // Assert
    assert.deepEqual(lines, [
      'first 0',
      'first 1',
      '5 similar messages suppressed in the last 60s',
      'second 0',
      'second 1',
    ]);
  });

  it('writes no summary when nothing was suppressed', () => {
    // Arrange
    const { lines, clock, throttled } = setup(2, 30_000);
    throttled.warn('a');
    throttled.warn('b');

    // Act
    clock.now += 30_000;
    throttled.warn('c');

    // Assert
    assert.deepEqual(lines, ['a', 'b', 'c']);
  });

  it('keeps suppressing until the full window has elapsed', () => {
    // Arrange
    const { lines, clock, throttled } = setup(1, 10_000);
    throttled.warn('logged');

    // Act
    clock.now += 9_999;
    throttled.warn('held back');

    // Assert
    assert.deepEqual(lines, ['logged']);
  });

  it('starts counting afresh in every window', () => {
    // Arrange
    const { lines, clock, throttled } = setup(1, 10_000);

    // Act
    for (let window = 0; window < 3; window += 1) {
      throttled.warn(`w${window} a`);
      throttled.warn(`w${window} b`);
      throttled.warn(`w${window} c`);
      clock.now += 10_000;
    }

    // Assert
    assert.deepEqual(lines, [
      'w0 a',
      '2 similar messages suppressed in the last 10s',
      'w1 a',
      '2 similar messages suppressed in the last 10s',
      'w2 a',
    ]);
  });
});
