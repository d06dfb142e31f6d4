import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peekGroup } from './peek-group.js';
import { parseTaskUpdate } from './task-update.parser.js';

const peek = (payload: string) => peekGroup(Buffer.from(payload));

describe('peekGroup', () => {
  it('reads the group of the publisher helper’s form', () => {
    assert.equal(
      peek('{"task_id":"t1","status":"queued","message":"m","group":"org-42:team_a.b","x":1}'),
      'org-42:team_a.b',
    );
    assert.equal(peek('{"task_id":"t1","group":"g"}'), 'g');
  });

  it('answers null when the bytes cannot name a group', () => {
    assert.equal(peek('{"task_id":"t1","status":"queued","groups":["g"]}'), null);
    assert.equal(peek('{"task_id":"t1","message":"a \\"grouping\\" note"}'), null);
    // Escaped quotes inside a string: the bytes never hold "group" itself.
    assert.equal(peek('{"task_id":"t1","message":"\\"group\\":\\"g\\""}'), null);
  });

  it('gives up (undefined) whenever only a full parse can tell', () => {
    for (const payload of [
      '{"task_id":"t1","group" : "g"}',
      '{"task_id":"t1","group":"g","result":{"group":"h"}}',
      '{"task_id":"t1","group":42}',
      '{"task_id":"t1","group":"a b"}',
      '{"task_id":"t1","group":""}',
      `{"task_id":"t1","group":"${'g'.repeat(129)}"}`,
      '{"task_id":"t1","group":"g',
    ]) {
      assert.equal(peek(payload), undefined, payload);
    }
  });

  it('agrees with the full parser whenever it reads a group at the top level', () => {
    for (const payload of [
      '{"task_id":"t1","group":"g","status":"s"}',
      '{"task_id":"t1","status":"s","progress":3,"message":"x","group":"user:7","updated_at":"2030"}',
    ]) {
      const update = parseTaskUpdate(payload);
      assert.ok(typeof update !== 'string');
      assert.equal(peek(payload), update.data.group);
    }
  });
});
