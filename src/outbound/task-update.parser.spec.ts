import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseTaskUpdate,
  peekTaskId,
  peekTaskIdAt,
  serializeStatusUpdate,
} from './task-update.parser.js';

const TASK_ID = '550e8400-e29b-41d4-a716-446655440000';

describe('parseTaskUpdate', () => {
  it('returns the task id and every other field as data', () => {
    // Arrange
    const payload = JSON.stringify({
      task_id: TASK_ID,
      status: 'processing',
      progress: 40,
      message: 'Fetching blockchain data...',
      result: { rows: [1, 2], nested: { ok: true } },
      error: null,
    });

    // Act
    const update = parseTaskUpdate(payload);

    // Assert
    assert.deepEqual(update, {
      taskId: TASK_ID,
      data: {
        status: 'processing',
        progress: 40,
        message: 'Fetching blockchain data...',
        result: { rows: [1, 2], nested: { ok: true } },
        error: null,
      },
    });
  });

  it('accepts a message whose only field is task_id, with empty data', () => {
    // Arrange
    const payload = '{"task_id":"task-1"}';

    // Act
    const update = parseTaskUpdate(payload);

    // Assert
    assert.deepEqual(update, { taskId: 'task-1', data: {} });
  });

  it('accepts a task id of exactly 128 characters', () => {
    // Arrange
    const taskId = 'a'.repeat(128);

    // Act
    const update = parseTaskUpdate(JSON.stringify({ task_id: taskId, status: 'queued' }));

    // Assert
    assert.deepEqual(update, { taskId, data: { status: 'queued' } });
  });

  it("drops text that is not JSON as 'invalid_json'", () => {
    for (const payload of ['not json', '{"task_id":', '', "{'task_id':'x'}"]) {
      // Act
      const result = parseTaskUpdate(payload);

      // Assert
      assert.equal(result, 'invalid_json', `payload ${JSON.stringify(payload)}`);
    }
  });

  it("drops JSON nested too deeply to be re-encoded as 'invalid_json'", () => {
    // Arrange: parses fine, but JSON.stringify of it overflows the stack.
    const payload = `{"task_id":"t1","d":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;

    // Act
    const result = parseTaskUpdate(payload);

    // Assert
    assert.equal(result, 'invalid_json');
  });

  it("drops JSON that is not an object as 'not_an_object'", () => {
    const payloads = {
      array: `[{"task_id":"${TASK_ID}"}]`,
      null: 'null',
      number: '42',
      string: '"task-1"',
      boolean: 'true',
    };
    for (const [kind, payload] of Object.entries(payloads)) {
      // Act
      const result = parseTaskUpdate(payload);

      // Assert
      assert.equal(result, 'not_an_object', kind);
    }
  });

  it("drops an object without a string task_id as 'missing_task_id'", () => {
    const payloads = {
      absent: { status: 'processing' },
      number: { task_id: 42, status: 'processing' },
      null: { task_id: null, status: 'processing' },
      object: { task_id: { id: 'task-1' } },
    };
    for (const [kind, message] of Object.entries(payloads)) {
      // Act
      const result = parseTaskUpdate(JSON.stringify(message));

      // Assert
      assert.equal(result, 'missing_task_id', kind);
    }
  });

  it("drops a task_id outside the allowed pattern as 'invalid_task_id'", () => {
    const taskIds = {
      spaces: 'task 1',
      'too long (129 characters)': 'a'.repeat(129),
      'empty string': '',
      slash: 'tasks/1',
      newline: 'task-1\n',
    };
    for (const [kind, taskId] of Object.entries(taskIds)) {
      // Act
      const result = parseTaskUpdate(JSON.stringify({ task_id: taskId, status: 'processing' }));

      // Assert
      assert.equal(result, 'invalid_task_id', kind);
    }
  });

  it('carries a __proto__ key as plain data without polluting Object.prototype', () => {
    // Arrange
    const payload = '{"task_id":"task-1","__proto__":{"polluted":"yes"},"status":"done"}';

    // Act
    const update = parseTaskUpdate(payload);

    // Assert
    assert.ok(typeof update === 'object', `expected an update, got ${JSON.stringify(update)}`);
    assert.equal(Object.getPrototypeOf(update.data), Object.prototype);
    assert.ok(Object.hasOwn(update.data, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(update.data, '__proto__')?.value, {
      polluted: 'yes',
    });
    assert.equal(update.data.status, 'done');
    assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((update.data as Record<string, unknown>).polluted, undefined);
  });
});

describe('serializeStatusUpdate', () => {
  it('writes the status_update frame with type, task_id and data in that shape', () => {
    // Arrange
    const update = {
      taskId: TASK_ID,
      data: { status: 'processing', progress: 40, message: 'Fetching blockchain data...' },
    };

    // Act
    const frame = serializeStatusUpdate(update);

    // Assert
    assert.equal(
      frame,
      `{"type":"status_update","task_id":"${TASK_ID}","data":{"status":"processing","progress":40,"message":"Fetching blockchain data..."}}`,
    );
  });

  it('round-trips a parsed update, __proto__ key included', () => {
    // Arrange
    const update = parseTaskUpdate('{"task_id":"task-1","__proto__":{"x":1},"progress":5}');
    assert.ok(typeof update === 'object');

    // Act
    const frame = serializeStatusUpdate(update);

    // Assert
    assert.equal(
      frame,
      '{"type":"status_update","task_id":"task-1","data":{"__proto__":{"x":1},"progress":5}}',
    );
  });
});

describe('peekTaskId', () => {
  const peek = (payload: string) => peekTaskId(Buffer.from(payload));

  it('finds the leading task_id of the canonical form without parsing the rest', () => {
    assert.equal(peek('{"task_id":"task-1","status":"processing","progress":40}'), 'task-1');
    assert.equal(peek('{"task_id":"a:b.c_d-e"}'), 'a:b.c_d-e');
    // Python's json.dumps separators: ", " and ": ".
    assert.equal(peek('{"task_id": "py-1", "status": "processing"}'), 'py-1');
  });

  it('gives up (undefined) whenever only a full parse can tell', () => {
    for (const payload of [
      '{"status":"x","task_id":"t"}', // not first
      '{ "task_id": "t" }', // other spacing
      '{"task_id":  "t"}', // two spaces
      '{"task_id":"bad id","x":1}', // not a valid id
      '{"task_id":"t\\u0041"}', // an escape in the id
      '{"task_id":"a","task\\u005fid":"b"}', // an escaped second key, which JSON.parse prefers
      '{"task_id":"t","result":{"task_id":"u"}}', // a nested task_id
      '{"task_id":"t","task_id":"u"}', // a duplicate, which JSON.parse resolves to the last
      `{"task_id":"${'x'.repeat(129)}"}`, // too long
      '{"task_id":""}',
      '{"task_id":"unterminated',
      '{"task_id":123}',
      '{"task_id":"',
      '',
    ]) {
      assert.equal(peek(payload), undefined, payload);
    }
  });

  it('agrees with the full parser on every canonical message it accepts', () => {
    const payloads = [
      JSON.stringify({ task_id: 'x1', status: 'a', nested: { deep: [1, 2, { task: 'no' }] } }),
      JSON.stringify({ task_id: 'x'.repeat(128) }),
      JSON.stringify({ task_id: 'x2', message: 'déjà vu ✓' }),
      '{"task_id": "x3", "message": "plain"}',
    ];
    for (const payload of payloads) {
      const parsed = parseTaskUpdate(payload);
      assert.ok(typeof parsed !== 'string');
      assert.equal(peek(payload), parsed.taskId);
    }
  });
});

describe('peekTaskIdAt', () => {
  it('reads the task id of a payload inside a larger buffer, looking at its bytes only', () => {
    // Arrange
    const before = '$20\r\n';
    const payload = '{"task_id":"task-1","status":"done"}';
    const after = '\r\n{"task_id":"other","x":"\\u0041"}';
    const bytes = Buffer.from(before + payload + after);

    // Act
    const peeked = peekTaskIdAt(bytes, before.length, before.length + payload.length);

    // Assert
    assert.equal(peeked, 'task-1');
  });

  it('refuses, as peekTaskId does, a second task_id or a \\u escape within the payload', () => {
    for (const payload of [
      '{"task_id":"task-1","data":{"task_id":"task-2"}}',
      '{"task_id":"task-1","message":"\\u0022"}',
    ]) {
      const bytes = Buffer.from(`xx${payload}yy`);
      assert.equal(peekTaskIdAt(bytes, 2, 2 + payload.length), undefined, payload);
      assert.equal(peekTaskId(Buffer.from(payload)), undefined, payload);
    }
    // A task id that runs to the payload's end, its closing quote past it.
    assert.equal(peekTaskIdAt(Buffer.from('{"task_id":"task-1"}'), 0, 18), undefined);
  });
});
