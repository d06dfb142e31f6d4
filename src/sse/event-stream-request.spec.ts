import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidStreamRequestError, parseEventStreamRequest } from './event-stream-request.js';

describe('parseEventStreamRequest', () => {
  it('reads repeated task_id parameters, each task once, in order', () => {
    const request = parseEventStreamRequest(
      '/tasks/events?task_id=b&task_id=a&task_id=b',
      undefined,
    );
    assert.deepEqual(request.taskIds, ['b', 'a']);
    assert.equal(request.resume.size, 0);
  });

  it('takes the path task, and the resume position from the header before the query', () => {
    const request = parseEventStreamRequest(
      '/tasks/x:1/events?last_event_id=x:1:v1',
      'x:1:v9',
      'x:1',
    );
    assert.deepEqual(request.taskIds, ['x:1']);
    assert.deepEqual(request.resume.get('x:1'), { version: 9 });
    assert.deepEqual(
      parseEventStreamRequest('/tasks/events?task_id=a&last_event_id=a:v2', undefined).resume.get(
        'a',
      ),
      { version: 2 },
    );
  });

  it('reads repeated group parameters, alone or beside tasks, each group once', () => {
    assert.deepEqual(
      parseEventStreamRequest('/tasks/events?group=g2&group=g1&group=g2', undefined),
      {
        taskIds: [],
        groupIds: ['g2', 'g1'],
        resume: new Map(),
      },
    );
    const both = parseEventStreamRequest('/tasks/events?task_id=a&group=a', undefined);
    assert.deepEqual([both.taskIds, both.groupIds], [['a'], ['a']]);
  });

  it('refuses a request without a valid task, saying why', () => {
    for (const [url, reason] of [
      ['/tasks/events', /at least one task or group/],
      ['/tasks/events?group=', /not a group id/],
      ['/tasks/events?task_id=a&group=org%2042', /"org 42" is not a group id/],
      ['/tasks/events?task_id=', /not a task id/],
      ['/tasks/events?task_id=a&task_id=b%2Fc', /"b\/c" is not a task id/],
      ['/tasks/events?task_id=__canary__:a', /reserved/],
    ] as const) {
      assert.throws(
        () => parseEventStreamRequest(url, undefined),
        (error: unknown) =>
          error instanceof InvalidStreamRequestError && reason.test(error.message),
        url,
      );
    }
  });
});
