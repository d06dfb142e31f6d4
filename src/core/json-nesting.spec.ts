import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_UPDATE_NESTING, nestsDeeperThan } from './json-nesting.js';

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('nestsDeeperThan', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    // Act
    const atLimit = nestsDeeperThan(nested(5), 5);
    const beyond = nestsDeeperThan(nested(6), 5);

    // Assert
    assert.equal(atLimit, false);
    assert.equal(beyond, true);
  });

  it('counts objects and arrays alike', () => {
    // Arrange
    const json = JSON.stringify({ a: [{ b: [{ c: 1 }] }] });

    // Act
    const result = [nestsDeeperThan(json, 4), nestsDeeperThan(json, 5)];

    // Assert: {, [, {, [, { is five levels.
    assert.deepEqual(result, [true, false]);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    // Arrange
    const json = JSON.stringify({
      task_id: 't',
      text: `"\\${'['.repeat(500)}\\"${'{'.repeat(500)}`,
    });

    // Act
    const result = nestsDeeperThan(json, 2);

    // Assert
    assert.equal(result, false);
  });

  it('finds what would break JSON.stringify, well within the limit of ordinary updates', () => {
    // Arrange
    const deep = `{"task_id":"t","d":${nested(5_000)}}`;
    const ordinary = JSON.stringify({
      task_id: 't',
      status: 'completed',
      result: { rows: [{ id: 1, tags: ['a', 'b'] }], meta: { pages: { next: null } } },
    });

    // Act
    const verdicts = [
      nestsDeeperThan(deep, MAX_UPDATE_NESTING),
      nestsDeeperThan(ordinary, MAX_UPDATE_NESTING),
    ];

    // Assert
    assert.deepEqual(verdicts, [true, false]);
    assert.throws(() => JSON.stringify(JSON.parse(deep)), RangeError);
  });
});
