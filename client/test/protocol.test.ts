import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  GROUP_ID_MAX_LENGTH,
  GROUP_ID_PATTERN,
  TASK_ID_PATTERN,
  type ClientMessage,
  type ServerMessage,
} from '../src/protocol.js';

describe('protocol: groups', () => {
  it('group ids follow the task id rule', () => {
    for (const valid of ['org-42', 'user:7', 'tenant.a_b', 'x'.repeat(GROUP_ID_MAX_LENGTH)]) {
      assert.ok(GROUP_ID_PATTERN.test(valid), valid);
      assert.ok(TASK_ID_PATTERN.test(valid), valid);
    }
    for (const invalid of ['', 'a b', 'a/b', 'x'.repeat(GROUP_ID_MAX_LENGTH + 1), 'grüppe']) {
      assert.equal(GROUP_ID_PATTERN.test(invalid), false, invalid);
    }
  });

  it('types a group subscribe, its answers and a group error', () => {
    const messages: ClientMessage[] = [
      { type: 'subscribe', group: 'org-42' },
      { type: 'unsubscribe', group: 'org-42' },
    ];
    const answers: ServerMessage[] = [
      { type: 'subscribed', group: 'org-42', message: 'Successfully subscribed' },
      { type: 'unsubscribed', group: 'org-42', message: 'Successfully unsubscribed' },
      { type: 'error', code: 'forbidden', message: 'no', group: 'org-43' },
    ];
    // A task answer and a group answer are told apart by which id they carry.
    const groups = answers.flatMap((answer) =>
      answer.type === 'subscribed' || answer.type === 'unsubscribed' ? [answer.group] : [],
    );
    assert.deepEqual(groups, ['org-42', 'org-42']);
    assert.deepEqual(
      messages.map((message) => ('group' in message ? message.group : undefined)),
      ['org-42', 'org-42'],
    );
  });
});
