import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullJitterDelay } from '../src/backoff.js';

const options = { baseMs: 100, maxMs: 1_000 };

describe('fullJitterDelay', () => {
  it('is 0 when the random source returns 0, at any retry', () => {
    for (const retry of [0, 1, 5, 50])
      assert.equal(
        fullJitterDelay(retry, options, () => 0),
        0,
      );
  });

  it('stays below min(max, base * 2^retry) when the random source is just below 1', () => {
    const almostOne = () => 0.999_999;
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((retry) => fullJitterDelay(retry, options, almostOne)),
      [99, 199, 399, 799, 999, 999],
    );
  });

  it('scales the ceiling by the random fraction', () => {
    assert.equal(
      fullJitterDelay(0, options, () => 0.5),
      50,
    );
    assert.equal(
      fullJitterDelay(2, options, () => 0.25),
      100,
    );
    assert.equal(
      fullJitterDelay(10, options, () => 0.5),
      500,
    );
  });

  it('keeps a huge retry count finite and capped', () => {
    assert.equal(
      fullJitterDelay(5_000, options, () => 0.5),
      500,
    );
    assert.equal(
      fullJitterDelay(5_000, options, () => 0),
      0,
    );
  });

  it('keeps every delay within [0, ceiling] for many random values', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let retry = 0; retry < 12; retry += 1) {
      const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** retry);
      for (let i = 0; i < 200; i += 1) {
        const delay = fullJitterDelay(retry, options, random);
        assert.ok(
          delay >= 0 && delay <= ceiling,
          `retry ${retry}: ${delay} outside [0, ${ceiling}]`,
        );
        assert.ok(Number.isInteger(delay));
      }
    }
  });

  it('clamps a random source that strays outside [0, 1)', () => {
    assert.equal(
      fullJitterDelay(0, options, () => -3),
      0,
    );
    assert.equal(
      fullJitterDelay(0, options, () => 7),
      100,
    );
  });
});
