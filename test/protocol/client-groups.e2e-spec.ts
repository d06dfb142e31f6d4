import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { publishTaskStatus, type TaskStatusUpdate } from '../../client/src/publisher.js';
import {
  TaskStatusClient,
  type TaskStatusClientEvents,
  type TaskStatusClientOptions,
} from '../../client/src/task-status-client.js';
import { useGateway } from '../support/use-gateway.js';
import { withTimeout } from '../support/with-timeout.js';

const WAIT_MS = 5_000;

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

/** Whether the gateway serves groups on /tasks/events (`?group=` without a task is not a 400). */
async function streamsServeGroups(httpUrl: string): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), WAIT_MS);
  try {
    const response = await fetch(`${httpUrl}/tasks/events?group=probe`, {
      signal: controller.signal,
    });
    return response.status === 200;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

describe('the typed client with group subscriptions', () => {
  const fixture = useGateway();
  const clients: TaskStatusClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  const createClient = (options: TaskStatusClientOptions): TaskStatusClient => {
    const client = new TaskStatusClient({ WebSocket, EventSource, ...options });
    clients.push(client);
    return client;
  };
  const publish = (update: TaskStatusUpdate) => publishTaskStatus(fixture.publisher, update);

  /** A group's stored task arrives as a snapshot, a new task of the group live, in order. */
  async function receivesGroup(client: TaskStatusClient, group: string): Promise<void> {
    await publish({ task_id: `${group}-a`, status: 'processing', version: 1, group });
    client.subscribeGroup(group);
    const confirmed = next(client, 'group_subscribed', (id) => id === group);
    const snapshot = next(client, 'snapshot', (u) => u.taskId === `${group}-a`);
    client.connect();
    await confirmed;
    const [stored] = await snapshot;
    assert.equal(stored.data.group, group);

    const live = next(client, 'status_update', (u) => u.taskId === `${group}-b`);
    await publish({ task_id: `${group}-b`, status: 'queued', version: 1, group });
    const [update] = await live;
    assert.equal(update.snapshot, false);
    assert.deepEqual(client.groupSubscriptions(), [group]);
  }

  it('receives the tasks of a group over WebSocket', async () => {
    const client = createClient({ url: fixture.wsUrl, transport: 'websocket' });
    await receivesGroup(client, 'org-ws');

    // After unsubscribing, the group's tasks are forgotten and no longer delivered.
    client.unsubscribeGroup('org-ws');
    const other = next(client, 'status_update', (u) => u.taskId === 'solo');
    client.subscribe('solo');
    await next(client, 'subscribed', (id) => id === 'solo');
    await publish({ task_id: 'org-ws-a', status: 'completed', version: 2, group: 'org-ws' });
    await publish({ task_id: 'solo', status: 'queued', version: 1 });
    await other;
    assert.equal(client.latest('org-ws-a'), undefined);
  });

  it('receives the tasks of a group over SSE (?group=)', async (t) => {
    if (!(await streamsServeGroups(fixture.httpUrl))) {
      t.skip('this gateway does not serve ?group= on /tasks/events');
      return;
    }
    const client = createClient({ url: fixture.wsUrl, transport: 'sse' });
    await receivesGroup(client, 'org-sse');
  });
});
