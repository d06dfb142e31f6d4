import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import {
  TaskStatusClient,
  type StateChange,
  type TaskStatusClientOptions,
  type TaskUpdate,
} from '../src/task-status-client.js';
import { ManualTimers } from './support/manual-timers.js';
import { RecordingTimers } from './support/recording-timers.js';
import { freePort, startSilentServer, TestServer } from './support/test-server.js';
import { nextEvent, record, WAIT_MS, withTimeout } from './support/wait-for.js';

const TEST_TIMEOUT_MS = 15_000;

describe('TaskStatusClient', { timeout: TEST_TIMEOUT_MS }, () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  const startServer = async (options?: Parameters<typeof TestServer.start>[0]) => {
    const server = await TestServer.start(options);
    cleanups.push(() => server.close());
    return server;
  };

  const createClient = (
    options: Partial<TaskStatusClientOptions> & Pick<TaskStatusClientOptions, 'url'>,
  ) => {
    const client = new TaskStatusClient({ WebSocket, random: () => 0, ...options });
    cleanups.push(() => client.close());
    return client;
  };

  const opened = (client: TaskStatusClient) =>
    nextEvent(client, 'state', (change) => change.state === 'open');

  const statusUpdate = (taskId: string, data: Record<string, unknown>, snapshot?: boolean) => ({
    type: 'status_update',
    task_id: taskId,
    data,
    ...(snapshot === undefined ? {} : { snapshot }),
  });

  describe('subscriptions and updates', () => {
    it('sends the subscriptions made before connect() once open, and delivers updates', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      client.subscribe('task-1');
      client.subscribe('task-2');
      client.subscribe('task-1'); // idempotent
      const states = record(client, 'state');
      const open = opened(client);
      client.connect();
      await open;

      const connection = await server.connection(0);
      assert.deepEqual(await connection.take(2), [
        { type: 'subscribe', task_id: 'task-1' },
        { type: 'subscribe', task_id: 'task-2' },
      ]);
      const update = nextEvent(client, 'status_update');
      connection.send(statusUpdate('task-1', { status: 'processing', progress: 40 }));
      const [received] = await update;

      assert.deepEqual(received, {
        taskId: 'task-1',
        data: { status: 'processing', progress: 40 },
        snapshot: false,
      });
      assert.equal(client.latest('task-1'), received);
      assert.equal(client.latest('task-2'), undefined);
      assert.deepEqual(client.subscriptions(), ['task-1', 'task-2']);
      assert.deepEqual(
        states.map(([change]) => change),
        [
          { state: 'connecting', url: server.url },
          { state: 'open', url: server.url },
        ],
      );
      assert.equal(client.url, server.url);
    });

    it('sends subscribe and unsubscribe at once while open; ignores updates of a task it left', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      const open = opened(client);
      client.connect();
      await open;
      const connection = await server.connection(0);

      const subscribed = nextEvent(client, 'subscribed', (taskId) => taskId === 'task-1');
      client.subscribe('task-1');
      await subscribed;
      connection.send(statusUpdate('task-1', { status: 'a' }));
      await nextEvent(client, 'status_update');
      client.unsubscribe('task-1');
      client.unsubscribe('never-subscribed');
      assert.deepEqual(await connection.take(2), [
        { type: 'subscribe', task_id: 'task-1' },
        { type: 'unsubscribe', task_id: 'task-1' },
      ]);
      assert.equal(client.latest('task-1'), undefined);

      const updates = record(client, 'status_update');
      // An update that was in flight when the client unsubscribed, then one for a live task.
      connection.send(statusUpdate('task-1', { status: 'late' }));
      client.subscribe('task-2');
      await connection.take(1, (m) => m.type === 'subscribe' && m.task_id === 'task-2');
      const live = nextEvent(client, 'status_update');
      connection.send(statusUpdate('task-2', { status: 'b' }));
      await live;
      assert.deepEqual(
        updates.map(([u]) => u.taskId),
        ['task-2'],
      );
    });

    it('refuses a task id the gateway would refuse', () => {
      const client = createClient({ url: 'ws://127.0.0.1:1/ws' });
      assert.throws(() => client.subscribe('a b'), TypeError);
      assert.throws(() => client.subscribe(''), TypeError);
      assert.deepEqual(client.subscriptions(), []);
    });

    it('delivers a snapshot as a status_update and as a snapshot event', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      client.subscribe('task-1');
      const snapshots = record(client, 'snapshot');
      const updates = record(client, 'status_update');
      client.connect();
      const connection = await server.connection(0);
      await connection.take(1);
      const second = nextEvent(client, 'status_update', (u) => u.data.status === 'live');
      connection.send(statusUpdate('task-1', { status: 'stored' }, true));
      connection.send(statusUpdate('task-1', { status: 'live' }, false));
      await second;

      assert.deepEqual(
        updates.map(([u]) => [u.data.status, u.snapshot]),
        [
          ['stored', true],
          ['live', false],
        ],
      );
      assert.deepEqual(
        snapshots.map(([u]) => u.data.status),
        ['stored'],
      );
    });

    it('emits error frames as error events and stays connected', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      const open = opened(client);
      client.connect();
      await open;
      const connection = await server.connection(0);
      const error = nextEvent(client, 'error');
      connection.send({
        type: 'error',
        code: 'subscription_limit',
        message: 'A connection may hold at most 100 subscriptions',
        task_id: 'task-101',
      });
      const [frame] = await error;
      assert.deepEqual(frame, {
        type: 'error',
        code: 'subscription_limit',
        message: 'A connection may hold at most 100 subscriptions',
        task_id: 'task-101',
      });
      assert.equal(client.state, 'open');
      assert.equal(server.connections.length, 1);
    });

    it('ignores frames that are not the protocol without dropping the connection', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      client.subscribe('task-1');
      const updates = record(client, 'status_update');
      client.connect();
      const connection = await server.connection(0);
      await connection.take(1);
      connection.socket.send('not json');
      connection.socket.send('[1,2]');
      connection.send({ type: 'status_update', task_id: 'task-1', data: 'not an object' });
      connection.send({ type: 'something_new' });
      const good = nextEvent(client, 'status_update');
      connection.send(statusUpdate('task-1', { status: 'ok' }));
      await good;
      assert.deepEqual(
        updates.map(([u]) => u.data),
        [{ status: 'ok' }],
      );
      assert.equal(client.state, 'open');
    });
  });

  describe('stale updates', () => {
    it('drops an update with a lower version than the one it holds, snapshots included', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      client.subscribe('task-1');
      const updates = record(client, 'status_update');
      const snapshots = record(client, 'snapshot');
      client.connect();
      const connection = await server.connection(0);
      await connection.take(1);

      const last = nextEvent(client, 'status_update', (u) => u.data.version === 4);
      connection.send(statusUpdate('task-1', { status: 'processing', version: 2 }));
      connection.send(statusUpdate('task-1', { status: 'queued', version: 1 }, true));
      connection.send(statusUpdate('task-1', { status: 'processing', version: 3 }));
      connection.send(statusUpdate('task-1', { status: 'processing', version: 1 }));
      connection.send(statusUpdate('task-1', { status: 'completed', version: 4 }));
      await last;

      assert.deepEqual(
        updates.map(([u]) => u.data.version),
        [2, 3, 4],
      );
      assert.equal(snapshots.length, 0);
      assert.deepEqual(client.latest('task-1')?.data, { status: 'completed', version: 4 });
    });

    it('drops an update with an earlier updated_at when there is no version to compare', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      client.subscribe('task-1');
      const updates = record(client, 'status_update');
      client.connect();
      const connection = await server.connection(0);
      await connection.take(1);

      const last = nextEvent(client, 'status_update', (u) => u.data.status === 'completed');
      connection.send(statusUpdate('task-1', { status: 'b', updated_at: '2030-01-01T00:00:02Z' }));
      connection.send(statusUpdate('task-1', { status: 'a', updated_at: '2030-01-01T00:00:01Z' }));
      connection.send(statusUpdate('task-1', { status: 'b2', updated_at: '2030-01-01T00:00:02Z' }));
      connection.send(
        statusUpdate('task-1', { status: 'completed', updated_at: '2030-01-01T00:00:03Z' }),
      );
      await last;

      assert.deepEqual(
        updates.map(([u]) => u.data.status),
        ['b', 'b2', 'completed'],
      );
    });

    it('keeps the held state across a reconnect, so an older snapshot afterwards is dropped', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      client.subscribe('task-1');
      const updates = record(client, 'status_update');
      client.connect();
      const first = await server.connection(0);
      await first.take(1);
      const v5 = nextEvent(client, 'status_update');
      first.send(statusUpdate('task-1', { status: 'processing', version: 5 }));
      await v5;

      first.socket.terminate();
      const second = await server.connection(1);
      await second.take(1);
      const v6 = nextEvent(client, 'status_update', (u) => u.data.version === 6);
      second.send(statusUpdate('task-1', { status: 'processing', version: 4 }, true));
      second.send(statusUpdate('task-1', { status: 'processing', version: 6 }));
      await v6;
      assert.deepEqual(
        updates.map(([u]) => u.data.version),
        [5, 6],
      );
    });
  });

  describe('reconnecting', () => {
    it('resubscribes to all its tasks after the server drops the connection', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      for (const taskId of ['a', 'b', 'c']) client.subscribe(taskId);
      client.connect();
      const first = await server.connection(0);
      await first.take(3);
      client.unsubscribe('c');
      await first.take(1, (m) => m.type === 'unsubscribe');

      // Subscribed while disconnected: must be part of the resubscription.
      const reconnecting = nextEvent(client, 'state', (change) => change.state === 'reconnecting');
      client.once('state', () => client.subscribe('d'));
      first.socket.terminate();
      const [change] = await reconnecting;
      assert.equal(change.reason, 'close 1006');
      assert.equal(change.attempt, 1);

      const second = await server.connection(1);
      assert.deepEqual(await second.take(3), [
        { type: 'subscribe', task_id: 'a' },
        { type: 'subscribe', task_id: 'b' },
        { type: 'subscribe', task_id: 'd' },
      ]);
      const update = nextEvent(client, 'status_update');
      second.send(statusUpdate('d', { status: 'done' }));
      assert.deepEqual((await update)[0].data, { status: 'done' });
      assert.equal(client.state, 'open');
    });

    it('reconnects after a close with a code, such as 1001 on a shutdown', async () => {
      const server = await startServer();
      const client = createClient({ url: server.url });
      client.subscribe('a');
      client.connect();
      const first = await server.connection(0);
      await first.take(1);
      const reconnecting = nextEvent(client, 'state', (change) => change.state === 'reconnecting');
      first.socket.close(1001, 'Server shutting down');
      assert.equal((await reconnecting)[0].reason, 'close 1001 Server shutting down');
      const second = await server.connection(1);
      assert.deepEqual(await second.take(1), [{ type: 'subscribe', task_id: 'a' }]);
    });

    it('rotates through the URL list on failure and stays on the one that works', async () => {
      const dead1 = `ws://127.0.0.1:${await freePort()}/ws`;
      const dead2 = `ws://127.0.0.1:${await freePort()}/ws`;
      const server = await startServer();
      const client = createClient({ url: [dead1, dead2, server.url] });
      const states = record(client, 'state');
      const open = opened(client);
      client.connect();
      const [change] = await open;

      assert.equal(change.url, server.url);
      assert.deepEqual(
        states.map(([c]) => [c.state, c.url, c.attempt]),
        [
          ['connecting', dead1, undefined],
          ['reconnecting', dead2, 1],
          ['reconnecting', server.url, 2],
          ['open', server.url, undefined],
        ],
      );

      // Losing the working one moves on to the next in the list (wrapping around).
      const next = nextEvent(client, 'state', (c) => c.state === 'reconnecting');
      (await server.connection(0)).socket.terminate();
      const [lost] = await next;
      assert.equal(lost.url, dead1);
      assert.equal(lost.attempt, 1, 'the failure count starts again after a successful open');
    });

    it('waits a full-jitter exponential delay between attempts, capped, from the injected random', async () => {
      const dead = `ws://127.0.0.1:${await freePort()}/ws`;
      const timers = new RecordingTimers();
      const client = createClient({
        url: dead,
        random: () => 0.999,
        reconnectBaseDelayMs: 8,
        reconnectMaxDelayMs: 40,
        timers,
      });
      const changes: StateChange[] = [];
      const fifth = nextEvent(client, 'state', (change) => change.attempt === 5);
      client.on('state', (change) => changes.push(change));
      client.connect();
      await fifth;

      const retries = changes.filter((c) => c.state === 'reconnecting');
      assert.deepEqual(
        retries.map((c) => c.delayMs),
        [7, 15, 31, 39, 39],
      );
      assert.deepEqual(
        retries.map((c) => c.attempt),
        [1, 2, 3, 4, 5],
      );
      for (const delay of [7, 15, 31, 39]) assert.ok(timers.requested.includes(delay));
      assert.ok(retries.every((c) => c.reason?.startsWith('close 1006')));
    });

    it('treats a connection that does not open within connectTimeoutMs as failed', async () => {
      const silent = await startSilentServer();
      cleanups.push(() => silent.close());
      const server = await startServer();
      // Timed by hand: the working server's handshake cannot run into the timeout on a busy machine.
      const timers = new ManualTimers();
      const client = createClient({
        url: [silent.url, server.url],
        connectTimeoutMs: 300,
        timers,
      });
      const reconnecting = nextEvent(client, 'state', (c) => c.state === 'reconnecting');
      const open = opened(client);
      client.connect();
      timers.advance(299);
      assert.equal(client.state, 'connecting');
      timers.advance(1);
      assert.equal((await reconnecting)[0].reason, 'connect timeout');
      timers.advance(0); // the reconnect delay (random 0)
      assert.equal((await open)[0].url, server.url);
    });

    it('detects a dead connection by a missing pong, drops it and reconnects', async () => {
      // The first connection never answers pings; the second does. Pings and pong timeouts are
      // timed by hand: on a busy machine a real pong can take longer than any short timeout.
      const server = await startServer({ answerPings: (index) => index > 0 });
      const timers = new ManualTimers();
      const client = createClient({
        url: server.url,
        timers,
        pingIntervalMs: 30,
        pongTimeoutMs: 500,
      });
      const isPing = (m: { type: string }) => m.type === 'ping';
      client.subscribe('a');
      const reconnecting = nextEvent(client, 'state', (c) => c.state === 'reconnecting');
      const open = opened(client);
      client.connect();
      await open;
      const first = await server.connection(0);
      timers.advance(30);
      await first.take(1, isPing);
      timers.advance(499);
      assert.equal(client.state, 'open', 'not dropped before the pong timeout');
      timers.advance(1);

      assert.equal((await reconnecting)[0].reason, 'pong timeout');
      // The client dropped the dead socket itself.
      await first.closed;
      const reopened = opened(client);
      timers.advance(0); // the reconnect delay (random 0)
      await reopened;
      const second = await server.connection(1);
      assert.deepEqual(await second.take(1), [{ type: 'subscribe', task_id: 'a' }]);
      // Answered pings keep the connection: the next ping is scheduled once the pong came back,
      // and passing the first ping's pong timeout changes nothing.
      const changes = record(client, 'state');
      const pongAccepted = withTimeout(timers.nextSet(30), WAIT_MS, 'the next ping');
      timers.advance(30);
      await second.take(1, isPing);
      await pongAccepted;
      timers.advance(500);
      await second.take(1, isPing);
      assert.equal(client.state, 'open');
      assert.deepEqual(changes, []);
    });
  });

  describe('close()', () => {
    it('closes the socket with 1000 and schedules nothing more', async () => {
      const server = await startServer();
      const timers = new RecordingTimers();
      const client = createClient({ url: server.url, timers, pingIntervalMs: 1_000 });
      const open = opened(client);
      client.connect();
      await open;
      const connection = await server.connection(0);
      assert.ok(timers.pendingCount > 0, 'the ping is scheduled while open');

      const states = record(client, 'state');
      await client.close();

      assert.deepEqual((await connection.closed).code, 1000);
      assert.equal(client.state, 'closed');
      assert.deepEqual(
        states.map(([c]) => c.state),
        ['closed'],
      );
      assert.equal(timers.pendingCount, 0, 'no reconnect, ping or timeout left scheduled');
      assert.equal(server.connections.length, 1);
      // Sending while closed only remembers the subscription.
      client.subscribe('later');
      assert.deepEqual(client.subscriptions(), ['later']);
      assert.equal(timers.pendingCount, 0);
    });

    it('cancels a pending reconnect', async () => {
      const dead = `ws://127.0.0.1:${await freePort()}/ws`;
      const timers = new RecordingTimers();
      const client = createClient({
        url: dead,
        timers,
        reconnectBaseDelayMs: 60_000,
        reconnectMaxDelayMs: 120_000,
        random: () => 0.5,
      });
      const reconnecting = nextEvent(client, 'state', (c) => c.state === 'reconnecting');
      client.connect();
      const [change] = await reconnecting;
      assert.equal(change.delayMs, 30_000);
      assert.equal(timers.pendingCount, 1, 'the reconnect is scheduled');

      await client.close();
      assert.equal(timers.pendingCount, 0);
      assert.equal(client.state, 'closed');
    });

    it('works from a state listener, and connect() starts again with the same subscriptions', async () => {
      const server = await startServer();
      const timers = new RecordingTimers();
      const client = createClient({ url: server.url, timers });
      client.subscribe('a');
      const closing = new Promise<void>((resolve) => {
        const off = client.on('state', (change) => {
          if (change.state === 'open') {
            off();
            void client.close().then(resolve);
          }
        });
      });
      client.connect();
      await closing;
      assert.equal(client.state, 'closed');
      assert.equal(timers.pendingCount, 0);

      const open = opened(client);
      client.connect();
      await open;
      const again = await server.connection(1);
      assert.deepEqual(await again.take(1), [{ type: 'subscribe', task_id: 'a' }]);
    });
  });

  it('needs a WebSocket implementation and at least one URL', () => {
    assert.throws(() => new TaskStatusClient({ url: [], WebSocket }), TypeError);
    assert.throws(
      () => new TaskStatusClient({ url: 'ws://x/ws', WebSocket, pongTimeoutMs: 0 }),
      RangeError,
    );
    if (!('WebSocket' in globalThis)) {
      assert.throws(() => new TaskStatusClient({ url: 'ws://x/ws' }), /No global WebSocket/);
    }
  });

  it('types its events', () => {
    const client = new TaskStatusClient({ url: 'ws://127.0.0.1:1/ws', WebSocket });
    const seen: TaskUpdate[] = [];
    const off = client.on('status_update', (update) => seen.push(update));
    // @ts-expect-error: not an event of the client
    client.on('status-update', () => undefined);
    off();
    assert.equal(client.listenerCount('status_update'), 0);
  });
});
