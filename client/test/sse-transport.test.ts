import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  TaskStatusClient,
  type TaskStatusClientOptions,
  type Transport,
} from '../src/task-status-client.js';
import { streamRequestUrl, streamUrlFor } from '../src/stream-url.js';
import { FakeEventSource, FakeWebSocket } from './support/fake-transports.js';
import { ManualTimers } from './support/manual-timers.js';
import { record } from './support/wait-for.js';

const WS_URL = 'ws://gateway.test:8001/ws';
const SSE_URL = 'http://gateway.test:8001/tasks/events';

/** Lets the client's once-per-task work (a stream re-opened for new subscriptions) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const update = (taskId: string, data: Record<string, unknown>, snapshot?: true) => ({
  type: 'status_update',
  task_id: taskId,
  data,
  ...(snapshot ? { snapshot } : {}),
});
const subscribed = (taskId: string) => ({
  type: 'subscribed',
  task_id: taskId,
  message: 'Successfully subscribed',
});

describe('TaskStatusClient over Server-Sent Events', () => {
  let timers: ManualTimers;
  let time: number;
  const sources = FakeEventSource.instances;
  const sockets = FakeWebSocket.instances;

  beforeEach(() => {
    sources.splice(0);
    sockets.splice(0);
    timers = new ManualTimers();
    time = 1_000_000;
  });

  const createClient = (options: Partial<TaskStatusClientOptions> = {}, withEventSource = true) =>
    new TaskStatusClient({
      url: WS_URL,
      WebSocket: FakeWebSocket,
      ...(withEventSource ? { EventSource: FakeEventSource } : {}),
      timers,
      now: () => time,
      random: () => 0.5,
      ...options,
    });

  const lastSource = () => {
    const source = sources.at(-1);
    assert.ok(source, 'an EventSource was created');
    return source;
  };

  describe("transport 'sse'", () => {
    it('asks for its tasks, delivers subscribed, snapshots and updates, and is open', () => {
      const client = createClient({ transport: 'sse' });
      client.subscribe('task-1');
      client.subscribe('org:42.job_7');
      const states = record(client, 'state');
      const updates = record(client, 'status_update');
      const confirmed = record(client, 'subscribed');
      client.connect();

      const source = lastSource();
      assert.equal(source.url.split('?')[0], SSE_URL);
      assert.deepEqual(source.query.getAll('task_id'), ['task-1', 'org:42.job_7']);
      assert.equal(source.query.get('last_event_id'), null);
      assert.equal(client.transport, 'sse');
      source.open();
      source.event('subscribed', subscribed('task-1'));
      source.event('subscribed', subscribed('org:42.job_7'));
      source.event(
        'status_update',
        update('task-1', { status: 'queued', version: 1 }, true),
        'task-1:v1',
      );
      source.event(
        'status_update',
        update('task-1', { status: 'processing', version: 2 }),
        'task-1:v2',
      );

      assert.deepEqual(
        states.map(([change]) => change),
        [
          { state: 'connecting', url: SSE_URL },
          { state: 'open', url: SSE_URL },
        ],
      );
      assert.deepEqual(confirmed, [['task-1'], ['org:42.job_7']]);
      assert.deepEqual(
        updates.map(([u]) => [u.taskId, u.data.status, u.snapshot]),
        [
          ['task-1', 'queued', true],
          ['task-1', 'processing', false],
        ],
      );
      assert.equal(client.latest('task-1')?.data.version, 2);
      assert.equal(client.url, SSE_URL);
      assert.equal(sockets.length, 0, 'no WebSocket was tried');
    });

    it('re-opens the stream once per change, naming the last event ids, without new state events', async () => {
      const client = createClient({ transport: 'sse' });
      client.subscribe('task-1');
      client.connect();
      const first = lastSource();
      first.open();
      first.event('subscribed', subscribed('task-1'));
      first.event(
        'status_update',
        update('task-1', { status: 'processing', version: 4 }),
        'task-1:v4',
      );
      const states = record(client, 'state');
      const confirmed = record(client, 'subscribed');
      const updates = record(client, 'status_update');

      client.subscribe('task-2');
      client.subscribe('task-3');
      await settle();

      assert.equal(sources.length, 2, 'one new stream for both subscriptions');
      assert.ok(first.closed);
      const second = lastSource();
      assert.deepEqual(second.query.getAll('task_id'), ['task-1', 'task-2', 'task-3']);
      assert.equal(second.query.get('last_event_id'), 'task-1:v4');
      second.open();
      second.event('subscribed', subscribed('task-1'));
      second.event('subscribed', subscribed('task-2'));
      // Late events of the closed stream are not the client's any more.
      first.event(
        'status_update',
        update('task-1', { status: 'processing', version: 5 }),
        'task-1:v5',
      );
      second.event('status_update', update('task-2', { status: 'queued' }, true), 'task-2:-');

      assert.deepEqual(states, [], 'the client stayed open');
      assert.deepEqual(confirmed, [['task-2']], 'task-1 was confirmed before');
      assert.deepEqual(
        updates.map(([u]) => u.taskId),
        ['task-2'],
      );
      assert.equal(client.state, 'open');
    });

    it('closes the stream when the last task is unsubscribed, and opens one for the next', async () => {
      const client = createClient({ transport: 'sse' });
      client.subscribe('task-1');
      client.connect();
      const first = lastSource();
      first.open();

      client.unsubscribe('task-1');
      await settle();
      assert.ok(first.closed);
      assert.equal(sources.length, 1, 'no stream without tasks');
      assert.equal(client.state, 'open');

      client.subscribe('task-9');
      await settle();
      assert.deepEqual(lastSource().query.getAll('task_id'), ['task-9']);
      await client.close();
      assert.ok(lastSource().closed);
      assert.equal(client.state, 'closed');
    });

    it('opens no stream after close(), even for changes made just before it', async () => {
      const client = createClient({ transport: 'sse' });
      client.subscribe('task-1');
      client.connect();
      lastSource().open();
      client.subscribe('task-2');
      await client.close();
      await settle();
      assert.equal(sources.length, 1);
      assert.ok(lastSource().closed);
      assert.deepEqual(timers.pending(), [], 'no timer left behind');
    });

    it("reports the gateway's error events and keeps the stream", () => {
      const client = createClient({ transport: 'sse' });
      client.subscribe('task-2');
      client.connect();
      const source = lastSource();
      source.open();
      const errors = record(client, 'error');
      const states = record(client, 'state');
      source.event('error', {
        type: 'error',
        code: 'forbidden',
        message: 'This token does not allow that task',
        task_id: 'task-2',
      });

      assert.deepEqual(
        errors.map(([e]) => [e.code, e.task_id]),
        [['forbidden', 'task-2']],
      );
      assert.equal(source.closed, false);
      assert.deepEqual(states, []);
    });

    it('reconnects after a failed stream with a backoff, resuming from every task’s last id', () => {
      const client = createClient({ transport: 'sse' });
      client.subscribe('a');
      client.subscribe('b');
      client.connect();
      const first = lastSource();
      first.open();
      first.event('subscribed', subscribed('a'));
      first.event('status_update', update('a', { status: 'processing', version: 3 }), 'a:v3');
      first.event(
        'status_update',
        update('b', { status: 'processing', updated_at: 1733331000000 }),
        'b:t1733331000000',
      );
      // An older state is dropped and does not move the resume position back.
      first.event('status_update', update('a', { status: 'queued', version: 2 }), 'a:v2');
      const states = record(client, 'state');
      const confirmed = record(client, 'subscribed');

      first.fail();
      assert.ok(first.closed, 'the EventSource does not retry on its own');
      assert.deepEqual(
        states.map(([change]) => change),
        [
          {
            state: 'reconnecting',
            url: SSE_URL,
            attempt: 1,
            delayMs: 250,
            reason: 'stream error',
          },
        ],
      );
      assert.equal(sources.length, 1);
      timers.advance(250);
      const second = lastSource();
      assert.notEqual(second, first);
      assert.equal(second.query.get('last_event_id'), 'a:v3,b:t1733331000000');
      second.open();
      second.event('subscribed', subscribed('a'));
      assert.equal(client.state, 'open');
      assert.deepEqual(confirmed, [['a']], 'confirmed again after a reconnect');
    });

    it('names the HTTP status of a refused stream and sends a fresh token each time', () => {
      let n = 0;
      const client = createClient({ transport: 'sse', sseToken: () => `jwt-${++n}` });
      client.subscribe('task-1');
      const reasons: string[] = [];
      client.on('state', (change) => {
        if (change.reason) reasons.push(change.reason);
      });
      client.connect();
      assert.equal(lastSource().query.get('token'), 'jwt-1');
      lastSource().fail(401);
      timers.advance(250);
      assert.equal(lastSource().query.get('token'), 'jwt-2');
      assert.deepEqual(reasons, ['stream error 401 Non-200 status code']);
    });

    it('gives up on a stream that does not open within connectTimeoutMs', () => {
      const client = createClient({ transport: 'sse', connectTimeoutMs: 1_000 });
      client.subscribe('task-1');
      client.connect();
      const first = lastSource();
      timers.advance(1_000);
      assert.ok(first.closed);
      assert.equal(client.state, 'reconnecting');
    });
  });

  describe("transport 'auto'", () => {
    it('falls back to SSE at once when the WebSocket cannot open, and stays there a while', () => {
      const client = createClient({ sseFallbackMs: 60_000 });
      client.subscribe('task-1');
      const transports: Transport[] = [];
      client.on('transport', (t) => transports.push(t));
      const states = record(client, 'state');
      assert.equal(client.transport, 'websocket');
      client.connect();

      lastSocket().refuse();
      assert.equal(client.transport, 'sse');
      const stream = lastSource();
      assert.deepEqual(stream.query.getAll('task_id'), ['task-1']);
      stream.open();
      assert.deepEqual(
        states.map(([change]) => change.state),
        ['connecting', 'open'],
        'no reconnect delay for the fallback',
      );

      // A stream that ends within sseFallbackMs comes back as a stream.
      time += 30_000;
      stream.fail();
      timers.advance(250);
      assert.equal(sockets.length, 1, 'no new WebSocket attempt');
      lastSource().open();

      // Later (the memory counts from the last open), WebSocket first again.
      time += 60_001;
      lastSource().fail();
      timers.advance(250);
      assert.equal(sockets.length, 2);
      assert.equal(client.transport, 'websocket');
      lastSocket().open();
      assert.deepEqual(lastSocket().sent, [{ type: 'subscribe', task_id: 'task-1' }]);
      assert.deepEqual(transports, ['sse', 'websocket']);
    });

    it('falls back to SSE when the WebSocket does not open within connectTimeoutMs', () => {
      const client = createClient({ connectTimeoutMs: 2_000 });
      client.subscribe('task-1');
      client.connect();
      const socket = lastSocket();
      timers.advance(2_000);
      assert.equal(socket.readyState, 3, 'the hanging WebSocket was dropped');
      assert.equal(client.transport, 'sse');
      lastSource().open();
      assert.equal(client.state, 'open');
    });

    it('keeps the WebSocket when it opens, and never creates an EventSource', () => {
      const client = createClient();
      client.subscribe('task-1');
      client.connect();
      lastSocket().open();
      client.subscribe('task-2');
      assert.deepEqual(lastSocket().sent, [
        { type: 'subscribe', task_id: 'task-1' },
        { type: 'subscribe', task_id: 'task-2' },
      ]);
      assert.equal(sources.length, 0);
      assert.equal(client.transport, 'websocket');
    });

    it('reconnects (WebSocket first) when an open WebSocket closes', () => {
      const client = createClient();
      client.subscribe('task-1');
      client.connect();
      lastSocket().open();
      lastSocket().refuse(); // 1006 after open: a network failure, not a refused upgrade
      assert.equal(client.state, 'reconnecting');
      assert.equal(sources.length, 0);
      timers.advance(250);
      assert.equal(sockets.length, 2);
    });

    it('tries both transports on every attempt while neither opens', () => {
      const client = createClient();
      client.subscribe('task-1');
      client.connect();
      lastSocket().refuse();
      lastSource().fail(503);
      assert.equal(client.state, 'reconnecting');
      timers.advance(250);
      assert.equal(sockets.length, 2, 'WebSocket first again: no stream has opened');
      lastSocket().refuse();
      assert.equal(sources.length, 2);
    });

    it('is WebSocket only without an EventSource or a stream URL', () => {
      for (const [options, withEventSource] of [
        [{}, false],
        [{ url: 'ws://gateway.test:8001/custom-path' }, true],
      ] as const) {
        sockets.splice(0);
        sources.splice(0);
        const client = createClient(options, withEventSource);
        client.subscribe('task-1');
        client.connect();
        lastSocket().refuse();
        assert.equal(client.state, 'reconnecting');
        assert.equal(client.transport, 'websocket');
        assert.equal(sources.length, 0);
      }
    });

    it('opens without a stream when it falls back with no task', () => {
      const client = createClient();
      client.connect();
      lastSocket().refuse();
      assert.equal(client.state, 'open');
      assert.equal(client.transport, 'sse');
      assert.equal(sources.length, 0);
    });
  });

  describe('options', () => {
    it('refuses what cannot work with a clear error', () => {
      assert.throws(
        () => createClient({ transport: 'polling' as never }),
        /transport: "polling" is not one of 'auto', 'websocket', 'sse'/,
      );
      assert.throws(() => createClient({ transport: 'sse' }, false), /No global EventSource/);
      assert.throws(
        () => createClient({ transport: 'sse', url: 'ws://h/socket' }),
        /sseUrl: required when a url's path does not end in \/ws/,
      );
      assert.throws(() => createClient({ url: [] }), /url: at least one URL is required/);
    });

    it("accepts 'sse' with only an sseUrl", () => {
      const client = createClient({ transport: 'sse', url: [], sseUrl: 'https://h/api/stream' });
      client.subscribe('x');
      client.connect();
      assert.equal(lastSource().url, 'https://h/api/stream?task_id=x');
    });
  });

  describe('stream URLs', () => {
    it('derives the stream URL from the WebSocket URL, keeping its query', () => {
      assert.equal(streamUrlFor('ws://h:8001/ws'), 'http://h:8001/tasks/events');
      assert.equal(
        streamUrlFor('wss://example.com/status/ws?token=abc'),
        'https://example.com/status/tasks/events?token=abc',
      );
      assert.equal(streamUrlFor('ws://h/ws/'), undefined);
      assert.equal(streamUrlFor('http://h/ws'), undefined);
      assert.equal(streamUrlFor('not a url'), undefined);
    });

    it('builds a request with task ids, groups, resume positions and a token', () => {
      assert.equal(
        streamRequestUrl(
          'http://h/tasks/events?token=old&group=stale',
          { taskIds: ['a', 'b:c'], groupIds: ['org-42'], lastEventIds: ['a:v1', 'b:c:t5'] },
          'new',
        ),
        'http://h/tasks/events?token=new&task_id=a&task_id=b%3Ac&group=org-42&last_event_id=a%3Av1%2Cb%3Ac%3At5',
      );
    });
  });

  describe('groups', () => {
    const groupUpdate = (taskId: string, version: number, group = 'org-42') =>
      update(taskId, { status: 'processing', version, group });

    it('subscribes over WebSocket, delivers the tasks of the group, and forgets them on unsubscribe', () => {
      const client = createClient({ transport: 'websocket' });
      client.subscribe('own-task');
      client.subscribeGroup('org-42');
      client.subscribeGroup('org-42'); // idempotent
      const confirmed = record(client, 'group_subscribed');
      const updates = record(client, 'status_update');
      client.connect();
      const socket = lastSocket();
      socket.open();
      assert.deepEqual(socket.sent, [
        { type: 'subscribe', task_id: 'own-task' },
        { type: 'subscribe', group: 'org-42' },
      ]);
      const deliver = (message: unknown) =>
        (socket.onmessage as unknown as (event: { data: string }) => void)({
          data: JSON.stringify(message),
        });
      deliver({ type: 'subscribed', group: 'org-42', message: 'Successfully subscribed' });
      deliver(groupUpdate('task-7', 1));
      deliver(update('other', { status: 'queued', group: 'org-9' })); // not a group held

      assert.deepEqual(confirmed, [['org-42']]);
      assert.deepEqual(
        updates.map(([u]) => u.taskId),
        ['task-7'],
      );
      assert.deepEqual(client.groupSubscriptions(), ['org-42']);

      client.unsubscribeGroup('org-42');
      deliver(groupUpdate('task-7', 2)); // in flight
      assert.deepEqual(socket.sent.at(-1), { type: 'unsubscribe', group: 'org-42' });
      assert.equal(client.latest('task-7'), undefined);
      assert.equal(updates.length, 1);
      assert.throws(() => client.subscribeGroup('no spaces'), /Invalid group id "no spaces"/);
    });

    it('asks for groups with ?group= over SSE, resuming their tasks, confirmed once', async () => {
      const client = createClient({ transport: 'sse' });
      client.subscribeGroup('org-42');
      const confirmed = record(client, 'group_subscribed');
      client.connect();
      const first = lastSource();
      assert.deepEqual(first.query.getAll('group'), ['org-42']);
      assert.deepEqual(first.query.getAll('task_id'), []);
      first.open();
      first.event('subscribed', { type: 'subscribed', group: 'org-42' });
      first.event('status_update', groupUpdate('task-7', 3), 'task-7:v3');

      client.subscribe('task-1');
      await settle();
      const second = lastSource();
      assert.ok(first.closed);
      assert.deepEqual(second.query.getAll('task_id'), ['task-1']);
      assert.deepEqual(second.query.getAll('group'), ['org-42']);
      assert.equal(second.query.get('last_event_id'), 'task-7:v3');
      second.open();
      second.event('subscribed', { type: 'subscribed', group: 'org-42' });
      assert.deepEqual(confirmed, [['org-42']]);

      client.unsubscribeGroup('org-42');
      await settle();
      assert.deepEqual(lastSource().query.getAll('group'), []);
      assert.equal(lastSource().query.get('last_event_id'), null);
    });
  });

  const lastSocket = () => {
    const socket = sockets.at(-1);
    assert.ok(socket, 'a WebSocket was created');
    return socket;
  };
});
