import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { publishTaskStatus, type TaskStatusUpdate } from '../../client/src/publisher.js';
import {
  TaskStatusClient,
  type StateChange,
  type TaskStatusClientOptions,
  type TaskUpdate,
} from '../../client/src/task-status-client.js';
import { ManualTimers } from '../../client/test/support/manual-timers.js';
import { freePort, RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';

const WAIT_MS = 5_000;
// The gateway's Redis reconnect backoff is capped at 5 s; this leaves room for two attempts.
const RECOVERY_TIMEOUT_MS = 12_000;

/** Resolves with the client's state of a task once it satisfies `predicate` (now or later). */
function stateOf(
  client: TaskStatusClient,
  taskId: string,
  predicate: (update: TaskUpdate) => boolean,
  ms = WAIT_MS,
): Promise<TaskUpdate> {
  const current = client.latest(taskId);
  if (current && predicate(current)) return Promise.resolve(current);
  let off: () => void = () => undefined;
  const reached = new Promise<TaskUpdate>((resolve) => {
    off = client.on('status_update', (update) => {
      if (update.taskId === taskId && predicate(update)) resolve(update);
    });
  });
  return withTimeout(reached, ms, `task ${taskId} to reach the expected state`).finally(() =>
    off(),
  );
}

function nextState(
  client: TaskStatusClient,
  predicate: (change: StateChange) => boolean,
  ms = WAIT_MS,
): Promise<StateChange> {
  let off: () => void = () => undefined;
  const found = new Promise<StateChange>((resolve) => {
    off = client.on('state', (change) => {
      if (predicate(change)) resolve(change);
    });
  });
  return withTimeout(found, ms, 'a connection state change').finally(() => off());
}

async function getStatus(url: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(WAIT_MS) });
  await response.body?.cancel();
  return response.status;
}

describe('the typed client against the gateway', () => {
  const redisServers: RedisServer[] = [];
  const gateways: TestApp[] = [];
  const publishers: Redis[] = [];
  const clients: TaskStatusClient[] = [];

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(gateways.map((gateway) => gateway.close()));
    for (const publisher of publishers) publisher.disconnect();
    await Promise.all(redisServers.map((server) => server.stop()));
  });

  const startRedis = async (): Promise<RedisServer> => {
    const server = await RedisServer.start();
    redisServers.push(server);
    return server;
  };

  const startGateway = async (redis: RedisServer, port?: number): Promise<TestApp> => {
    const gateway = await startTestApp({ redisUrl: redis.url }, port === undefined ? {} : { port });
    gateways.push(gateway);
    return gateway;
  };

  /** A backend publisher that, like a worker, survives Redis going away and comes back with it. */
  const createPublisher = (redis: RedisServer) => {
    const connection = new Redis(redis.url, { retryStrategy: () => 100 });
    connection.on('error', () => undefined);
    publishers.push(connection);
    return (update: TaskStatusUpdate) => publishTaskStatus(connection, update);
  };

  const createClient = (
    options: Pick<TaskStatusClientOptions, 'url'> & Partial<TaskStatusClientOptions>,
  ) => {
    const client = new TaskStatusClient({
      WebSocket,
      reconnectBaseDelayMs: 50,
      reconnectMaxDelayMs: 500,
      pingIntervalMs: 0,
      ...options,
    });
    clients.push(client);
    return client;
  };

  it('subscribes, gets the stored state as a snapshot, then live updates', async () => {
    const redis = await startRedis();
    const gateway = await startGateway(redis);
    const publish = createPublisher(redis);
    await publish({ task_id: 'client-1', status: 'processing', progress: 40, version: 1 });

    const client = createClient({ url: gateway.wsUrl });
    const snapshot = stateOf(client, 'client-1', (u) => u.snapshot);
    client.subscribe('client-1');
    client.connect();

    const stored = await snapshot;
    assert.equal(stored.data.status, 'processing');
    assert.equal(stored.data.progress, 40);
    assert.equal(stored.data.version, 1);
    assert.equal(stored.data.task_id, undefined, 'data is the published object without task_id');

    const live = stateOf(client, 'client-1', (u) => u.data.version === 2);
    await publish({ task_id: 'client-1', status: 'completed', progress: 100, version: 2 });
    const update = await live;
    assert.equal(update.snapshot, false);
    assert.equal(update.data.status, 'completed');
    assert.equal(client.latest('client-1'), update);
  });

  it('moves to the second gateway of its URL list when the first goes away, resubscribes and converges', async () => {
    const redis = await startRedis();
    const first = await startGateway(redis);
    const secondPort = await freePort();
    const secondUrl = `ws://127.0.0.1:${secondPort}/ws`;
    const publish = createPublisher(redis);

    const client = createClient({ url: [first.wsUrl, secondUrl] });
    const changes: StateChange[] = [];
    client.on('state', (change) => changes.push(change));
    const tasks = ['move-1', 'move-2'];
    for (const taskId of tasks) client.subscribe(taskId);
    const subscribed = Promise.all(
      tasks.map(
        (taskId) =>
          new Promise<void>((resolve) =>
            client.on('subscribed', (id) => {
              if (id === taskId) resolve();
            }),
          ),
      ),
    );
    client.connect();
    await withTimeout(subscribed, WAIT_MS, 'both subscriptions on the first gateway');
    const firstStates = tasks.map((taskId) => stateOf(client, taskId, (u) => u.data.version === 1));
    for (const taskId of tasks)
      await publish({ task_id: taskId, status: 'processing', version: 1 });
    await Promise.all(firstStates);

    const lost = nextState(client, (change) => change.state === 'reconnecting');
    await first.close();
    const change = await lost;
    assert.match(change.reason ?? '', /^close 1001/);
    assert.equal(change.url, secondUrl);

    // Published while the client has no connection: it only reaches the state key.
    await publish({ task_id: 'move-1', status: 'completed', progress: 100, version: 2 });

    const reopened = nextState(
      client,
      (c) => c.state === 'open' && c.url === secondUrl,
      RECOVERY_TIMEOUT_MS,
    );
    const second = await startGateway(redis, secondPort);
    await reopened;

    // Converged, though the live update was missed: from the snapshot of the new subscription
    // (or from the second gateway's resync, when the client got there before its Redis did).
    const converged = await stateOf(client, 'move-1', (u) => u.data.version === 2);
    assert.equal(converged.data.status, 'completed');

    // And live updates flow on the new connection.
    const live = stateOf(client, 'move-2', (u) => u.data.version === 3);
    await publish({ task_id: 'move-2', status: 'processing', progress: 70, version: 3 });
    assert.equal((await live).snapshot, false);
    assert.equal(client.state, 'open');
    assert.equal(client.url, second.wsUrl);
    assert.ok(changes.some((c) => c.state === 'open' && c.url === first.wsUrl));
  });

  it('keeps its socket while Redis restarts, and updates flow again afterwards', async () => {
    const redis = await startRedis();
    const gateway = await startGateway(redis);
    const publish = createPublisher(redis);
    // App-level pings keep running through the outage: the gateway answers them without Redis.
    // The client's timers are moved by hand, so that a busy machine's slow pong cannot pass for
    // a dead connection.
    const timers = new ManualTimers();
    const client = createClient({
      url: gateway.wsUrl,
      timers,
      pingIntervalMs: 100,
      pongTimeoutMs: 2_000,
    });
    client.subscribe('restart-1');
    const opened = nextState(client, (c) => c.state === 'open');
    const subscribed = new Promise<void>((resolve) => client.once('subscribed', () => resolve()));
    client.connect();
    await opened;
    await withTimeout(subscribed, WAIT_MS, 'the subscription');
    const before = stateOf(client, 'restart-1', (u) => u.data.version === 1);
    await publish({ task_id: 'restart-1', status: 'processing', version: 1 });
    await before;

    const changes: StateChange[] = [];
    client.on('state', (change) => changes.push(change));
    await redis.kill();
    await waitUntil(
      async () => (await getStatus(`${gateway.httpUrl}/health`)) === 503,
      WAIT_MS,
      '/health to turn 503',
    );
    // A ping sent during the outage is answered: the next one is scheduled once its pong is back.
    const answered = withTimeout(timers.nextSet(100), WAIT_MS, 'a pong during the outage');
    timers.advance(100);
    await answered;
    await redis.restart();
    await waitUntil(
      async () => (await getStatus(`${gateway.httpUrl}/health`)) === 200,
      RECOVERY_TIMEOUT_MS,
      '/health to return to 200',
    );

    const afterRestart = stateOf(
      client,
      'restart-1',
      (u) => u.data.version === 2,
      RECOVERY_TIMEOUT_MS,
    );
    await publish({ task_id: 'restart-1', status: 'completed', version: 2 });
    assert.equal((await afterRestart).data.status, 'completed');
    assert.deepEqual(changes, [], 'the client never lost its connection');
    assert.equal(client.state, 'open');
  });
});
