import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { publishTaskStatus, type TaskStatusUpdate } from '../../client/src/publisher.js';
import {
  TaskStatusClient,
  type TaskStatusClientEvents,
  type TaskStatusClientOptions,
  type Transport,
} from '../../client/src/task-status-client.js';
import { mintToken, TEST_SECRET } from '../support/auth-tokens.js';
import { useGateway, type GatewayFixture } from '../support/use-gateway.js';
import { WebSocketRefusingProxy } from '../support/websocket-refusing-proxy.js';
import { withTimeout } from '../support/with-timeout.js';

const WAIT_MS = 5_000;

/** The next emission of `event` whose arguments satisfy `predicate`, within WAIT_MS. */
function next<E extends keyof TaskStatusClientEvents>(
  client: TaskStatusClient,
  event: E,
  predicate: (...args: TaskStatusClientEvents[E]) => boolean = () => true,
): Promise<TaskStatusClientEvents[E]> {
  let off: () => void = () => undefined;
  const found = new Promise<TaskStatusClientEvents[E]>((resolve) => {
    off = client.on(event, (...args) => {
      if (predicate(...args)) resolve(args);
    });
  });
  return withTimeout(found, WAIT_MS, `the client's ${event}`).finally(() => off());
}

/** Resolves once the client holds `version` of the task (now or later). */
function version(client: TaskStatusClient, taskId: string, wanted: number): Promise<unknown> {
  if (client.latest(taskId)?.data.version === wanted) return Promise.resolve();
  return next(client, 'status_update', (u) => u.taskId === taskId && u.data.version === wanted);
}

function useClients() {
  const clients: TaskStatusClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  return (options: TaskStatusClientOptions): TaskStatusClient => {
    // eventsource's EventSource: the Node counterpart of the browser's.
    const client = new TaskStatusClient({ WebSocket, EventSource, ...options });
    clients.push(client);
    return client;
  };
}

const publish = (fixture: GatewayFixture, update: TaskStatusUpdate) =>
  publishTaskStatus(fixture.publisher, update);

describe('the typed client over Server-Sent Events', () => {
  const fixture = useGateway();
  const createClient = useClients();

  it("delivers snapshots and live updates with transport 'sse', and re-opens without replaying", async () => {
    await publish(fixture, { task_id: 'sse-1', status: 'queued', version: 1 });
    await publish(fixture, { task_id: 'sse-2', status: 'queued', version: 1 });
    const client = createClient({ url: fixture.wsUrl, transport: 'sse' });
    client.subscribe('sse-1');
    const snapshot = next(client, 'snapshot', (u) => u.taskId === 'sse-1');
    client.connect();
    const [first] = await snapshot;
    assert.deepEqual(first.data, {
      status: 'queued',
      version: 1,
      updated_at: first.data.updated_at,
    });
    assert.equal(client.transport, 'sse');
    assert.equal(client.url, `${fixture.httpUrl}/tasks/events`);

    await publish(fixture, { task_id: 'sse-1', status: 'processing', version: 2 });
    await version(client, 'sse-1', 2);

    // A new subscription re-opens the stream; sse-1's v2 (held) is not sent again.
    const seen: string[] = [];
    client.on('status_update', (u) => seen.push(`${u.taskId}:v${String(u.data.version)}`));
    const states: string[] = [];
    client.on('state', (change) => states.push(change.state));
    const subscribed = next(client, 'subscribed', (taskId) => taskId === 'sse-2');
    client.subscribe('sse-2');
    await subscribed;
    await version(client, 'sse-2', 1);
    await publish(fixture, { task_id: 'sse-1', status: 'completed', version: 3 });
    await version(client, 'sse-1', 3);

    assert.deepEqual(seen, ['sse-2:v1', 'sse-1:v3']);
    assert.deepEqual(states, [], 'the client stayed open');
    assert.equal(client.latest('sse-2')?.snapshot, true);
  });

  it("falls back to SSE with transport 'auto' when a proxy refuses the WebSocket upgrade", async () => {
    const proxy = await WebSocketRefusingProxy.start(fixture.httpUrl);
    after(() => proxy.close());
    await publish(fixture, { task_id: 'auto-1', status: 'queued', version: 1 });
    const client = createClient({ url: proxy.wsUrl });
    const transports: Transport[] = [];
    client.on('transport', (transport) => transports.push(transport));
    client.subscribe('auto-1');
    const opened = next(client, 'state', (change) => change.state === 'open');
    client.connect();

    const [open] = await opened;
    assert.equal(open.url, `http://127.0.0.1:${proxy.port}/tasks/events`);
    await version(client, 'auto-1', 1);
    await publish(fixture, { task_id: 'auto-1', status: 'processing', version: 2 });
    await version(client, 'auto-1', 2);

    assert.equal(client.transport, 'sse');
    assert.deepEqual(transports, ['sse']);
    assert.equal(proxy.upgradesRefused, 1);
  });

  it("keeps the WebSocket with transport 'auto' when the upgrade succeeds", async () => {
    const client = createClient({ url: fixture.wsUrl });
    client.subscribe('auto-2');
    const opened = next(client, 'state', (change) => change.state === 'open');
    client.connect();
    await opened;
    await next(client, 'subscribed');
    await publish(fixture, { task_id: 'auto-2', status: 'processing', version: 1 });
    await version(client, 'auto-2', 1);
    assert.equal(client.transport, 'websocket');
  });
});

describe('the typed client over Server-Sent Events with authentication', () => {
  const fixture = useGateway({ settings: { auth: { jwtSecret: TEST_SECRET } } });
  const createClient = useClients();

  it('sends the token as ?token= and reports a task the token does not allow as forbidden', async () => {
    const jwt = await mintToken({ sub: 'alice', tasks: ['allowed-1'] });
    await publish(fixture, { task_id: 'allowed-1', status: 'queued', version: 1 });
    await publish(fixture, { task_id: 'denied-1', status: 'queued', version: 1 });
    const client = createClient({ url: fixture.wsUrl, transport: 'sse', sseToken: () => jwt });
    client.subscribe('allowed-1');
    client.subscribe('denied-1');
    const refused = next(client, 'error', (error) => error.task_id === 'denied-1');
    client.connect();

    const [error] = await refused;
    assert.equal(error.code, 'forbidden');
    await version(client, 'allowed-1', 1);
    await publish(fixture, { task_id: 'denied-1', status: 'processing', version: 2 });
    await publish(fixture, { task_id: 'allowed-1', status: 'processing', version: 2 });
    await version(client, 'allowed-1', 2);
    assert.equal(client.latest('denied-1'), undefined, 'nothing of the forbidden task arrived');
  });
});
