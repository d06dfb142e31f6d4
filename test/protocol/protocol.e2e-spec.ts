import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useGateway } from '../support/use-gateway.js';

describe('WebSocket protocol', () => {
  const fixture = useGateway({ settings: { maxSubscriptionsPerConnection: 3 } });

  it('answers subscribe with subscribed and then pushes the task’s updates', async () => {
    const client = await fixture.connect();
    const taskId = '550e8400-e29b-41d4-a716-446655440000';
    client.send({ type: 'subscribe', task_id: taskId });
    assert.deepEqual(await client.next(), {
      type: 'subscribed',
      task_id: taskId,
      message: 'Successfully subscribed',
    });

    await fixture.publish({
      task_id: taskId,
      status: 'processing',
      progress: 40,
      message: 'Fetching blockchain data...',
    });
    assert.deepEqual(await client.next(), {
      type: 'status_update',
      task_id: taskId,
      data: { status: 'processing', progress: 40, message: 'Fetching blockchain data...' },
    });
    await client.close();
  });

  it('passes every published field except task_id through unchanged', async () => {
    const client = await fixture.connect();
    await client.subscribe('task-fields');
    const data = {
      status: 'completed',
      progress: 100,
      message: 'Done ✓',
      result: { rows: [1, 2, 3], nested: { ok: true } },
      error: null,
      updated_at: '2026-01-01T00:00:00Z',
    };
    await fixture.publish({ task_id: 'task-fields', ...data });
    const update = await client.next((m) => m.type === 'status_update');
    assert.deepEqual(update, { type: 'status_update', task_id: 'task-fields', data });
    await client.close();
  });

  it('treats a second subscribe to the same task as idempotent: one copy of each update', async () => {
    const client = await fixture.connect();
    await client.subscribe('task-twice');
    await client.subscribe('task-twice');
    await fixture.publish({ task_id: 'task-twice', status: 'a' });
    await fixture.publish({ task_id: 'task-twice', status: 'b' });
    const updates = await client.take(2, (m) => m.type === 'status_update');
    assert.deepEqual(
      updates.map((m) => (m.type === 'status_update' ? m.data.status : undefined)),
      ['a', 'b'],
    );
    await client.ping(); // anything still in flight would have arrived before the pong
    assert.equal(client.updates('task-twice').length, 2);
    await client.close();
  });

  it('stops updates after unsubscribe, and unsubscribing an unknown task is harmless', async () => {
    const client = await fixture.connect();
    await client.subscribe('task-unsub');
    client.send({ type: 'unsubscribe', task_id: 'task-unsub' });
    assert.deepEqual(await client.next(), {
      type: 'unsubscribed',
      task_id: 'task-unsub',
      message: 'Successfully unsubscribed',
    });
    client.send({ type: 'unsubscribe', task_id: 'never-subscribed' });
    assert.deepEqual(await client.next(), {
      type: 'unsubscribed',
      task_id: 'never-subscribed',
      message: 'Successfully unsubscribed',
    });

    await client.subscribe('task-after');
    await fixture.publish({ task_id: 'task-unsub', status: 'ignored' });
    await fixture.publish({ task_id: 'task-after', status: 'seen' });
    await client.next((m) => m.type === 'status_update' && m.task_id === 'task-after');
    assert.equal(client.updates('task-unsub').length, 0);
    await client.close();
  });

  it('answers an application ping with pong', async () => {
    const client = await fixture.connect();
    client.send({ type: 'ping' });
    assert.deepEqual(await client.next(), { type: 'pong' });
    await client.close();
  });

  describe('errors keep the connection open', () => {
    const cases: Array<{ name: string; frame: string; code: string; field?: string }> = [
      { name: 'invalid JSON', frame: '{"type":"subscribe",', code: 'invalid_json' },
      { name: 'a JSON array', frame: '[1,2]', code: 'invalid_message' },
      { name: 'a JSON string', frame: '"subscribe"', code: 'invalid_message' },
      { name: 'null', frame: 'null', code: 'invalid_message' },
      { name: 'no type', frame: '{"task_id":"t1"}', code: 'invalid_message', field: 'type' },
      { name: 'a numeric type', frame: '{"type":7}', code: 'invalid_message', field: 'type' },
      { name: 'an unknown type', frame: '{"type":"publish","task_id":"t1"}', code: 'unknown_type' },
      {
        name: 'a prototype key as type',
        frame: '{"type":"__proto__","task_id":"t1"}',
        code: 'unknown_type',
      },
      {
        name: 'a missing task_id',
        frame: '{"type":"subscribe"}',
        code: 'invalid_message',
        field: 'task_id',
      },
      {
        name: 'an empty task_id',
        frame: '{"type":"subscribe","task_id":""}',
        code: 'invalid_message',
        field: 'task_id',
      },
      {
        name: 'a numeric task_id',
        frame: '{"type":"subscribe","task_id":123}',
        code: 'invalid_message',
        field: 'task_id',
      },
      {
        name: 'a task_id with spaces',
        frame: '{"type":"subscribe","task_id":"a b"}',
        code: 'invalid_message',
        field: 'task_id',
      },
      {
        name: 'a task_id of 129 characters',
        frame: JSON.stringify({ type: 'subscribe', task_id: 'x'.repeat(129) }),
        code: 'invalid_message',
        field: 'task_id',
      },
      {
        name: 'an object as task_id',
        frame: '{"type":"unsubscribe","task_id":{"$ne":1}}',
        code: 'invalid_message',
        field: 'task_id',
      },
    ];

    for (const { name, frame, code, field } of cases) {
      it(`reports ${code} for ${name}`, async () => {
        const client = await fixture.connect();
        client.sendRaw(frame);
        const error = await client.next();
        assert.equal(error.type, 'error');
        assert.ok(error.type === 'error');
        assert.equal(error.code, code);
        assert.equal(typeof error.message, 'string');
        assert.ok(error.message.length > 0);
        if (field) assert.equal(error.field, field);
        await client.ping();
        await client.close();
      });
    }

    it('accepts task ids of 128 characters and the documented shapes', async () => {
      const client = await fixture.connect();
      for (const taskId of ['x'.repeat(128), 'task-1', 'test-123', 'org:42.job_7']) {
        await client.subscribe(taskId);
        client.send({ type: 'unsubscribe', task_id: taskId });
        await client.next((m) => m.type === 'unsubscribed');
      }
      await client.close();
    });

    it('reports unsupported_frame for a binary frame and stays usable', async () => {
      const client = await fixture.connect();
      client.sendRaw(Buffer.from('{"type":"ping"}'), true);
      const error = await client.next();
      assert.equal(error.type, 'error');
      assert.ok(error.type === 'error' && error.code === 'unsupported_frame');
      await client.subscribe('after-binary');
      await client.close();
    });

    it('reports subscription_limit with the task id past the per-connection limit', async () => {
      const client = await fixture.connect();
      for (const taskId of ['l1', 'l2', 'l3']) await client.subscribe(taskId);
      client.send({ type: 'subscribe', task_id: 'l4' });
      const error = await client.next();
      assert.ok(error.type === 'error');
      assert.equal(error.code, 'subscription_limit');
      assert.equal(error.task_id, 'l4');
      // Re-subscribing to a held task is not a new subscription, and a freed slot can be reused.
      await client.subscribe('l1');
      client.send({ type: 'unsubscribe', task_id: 'l2' });
      await client.next((m) => m.type === 'unsubscribed');
      await client.subscribe('l4');
      await client.close();
    });

    it('answers in request order, errors included', async () => {
      const client = await fixture.connect();
      client.send({ type: 'subscribe', task_id: 'o1' });
      client.sendRaw('not json');
      client.send({ type: 'subscribe', task_id: 'bad id' });
      client.send({ type: 'ping' });
      client.send({ type: 'nope' });
      client.send({ type: 'unsubscribe', task_id: 'o1' });
      const answers = await client.take(6);
      assert.deepEqual(
        answers.map((m) => (m.type === 'error' ? m.code : m.type)),
        ['subscribed', 'invalid_json', 'invalid_message', 'pong', 'unknown_type', 'unsubscribed'],
      );
      await client.close();
    });
  });

  it('closes with 1009 a frame larger than the maximum message size', async () => {
    const client = await fixture.connect();
    client.sendRaw(JSON.stringify({ type: 'subscribe', task_id: 'x', pad: 'y'.repeat(5000) }));
    const { code } = await client.closed;
    assert.equal(code, 1009);
    // Other clients are unaffected.
    const other = await fixture.connect();
    await other.ping();
    await other.close();
  });

  it('closes with 1007 a text frame that is not valid UTF-8', async () => {
    const client = await fixture.connect();
    // ws validates outgoing text only when asked; send the raw bytes as a text frame.
    client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    const { code } = await client.closed;
    assert.equal(code, 1007);
  });
});
