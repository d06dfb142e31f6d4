import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResumePositions } from './resume-positions.js';

describe('parseResumePositions', () => {
  it('reads one event id, as an EventSource sends it', () => {
    assert.deepEqual(
      [...parseResumePositions('org:42.job_7:v3')],
      [['org:42.job_7', { version: 3 }]],
    );
    assert.deepEqual(
      [...parseResumePositions('a:t1733331000000')],
      [['a', { updated_at: 1733331000000 }]],
    );
  });

  it('reads several ids joined by commas, the last of a task winning', () => {
    assert.deepEqual(
      [...parseResumePositions('a:v1, b:t5 ,a:v2')],
      [
        ['a', { version: 2 }],
        ['b', { updated_at: 5 }],
      ],
    );
  });

  it('ignores what it cannot place instead of failing', () => {
    for (const value of [
      undefined,
      '',
      'a',
      ':v1',
      'a:-',
      'a:x1',
      'a:v',
      'a b:v1',
      'a:v1e5',
      'a:vNaN',
    ]) {
      assert.equal(parseResumePositions(value).size, 0, String(value));
    }
    assert.equal(parseResumePositions(`${'x'.repeat(129)}:v1`).size, 0, 'too long a task id');
  });
});
