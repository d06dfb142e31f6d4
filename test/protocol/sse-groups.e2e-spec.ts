import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  publishTaskStatus,
  type PublishMode,
  type TaskStatusUpdate,
} from '../../client/src/publisher.js';
import { mintToken, TEST_SECRET } from '../support/auth-tokens.js';
import { SseTestClient } from '../support/sse-test-client.js';
import { useGateway, type GatewayFixture } from '../support/use-gateway.js';

/** Streams opened by a test, closed after it whatever happened. */
const opened: SseTestClient[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) client.close();
});

async function stream(
  fixture: GatewayFixture,
  path: string,
  headers: Record<string, string> = {},
): Promise<SseTestClient> {
  const client = await SseTestClient.open(`${fixture.httpUrl}${path}`, headers);
  opened.push(client);
  return client;
}

const summary = (update: Record<string, unknown>): string => {
  const data = update.data as Record<string, unknown>;
  return `${String(update.task_id)}:${String(data.status)}${update.snapshot ? ':snapshot' : ''}`;
};

let sentinels = 0;

/**
 * The group e2e over raw HTTP, in the pub/sub mode given: `sharded` runs it against the group's
 * shard channel (SSUBSCRIBEd for its first watcher), the task channels beside it, one Redis.
 */
function groupsOverSse(mode: PublishMode & ('channel' | 'sharded')): void {
  const fixture = useGateway({
    settings: {
      maxSubscriptionsPerConnection: 4,
      maxGroupsPerConnection: 2,
      ssePaddingBytes: 0,
      ...(mode === 'sharded' ? { pubsubMode: 'sharded', canaryIntervalMs: 0 } : {}),
    },
  });

  const publish = (update: TaskStatusUpdate) =>
    publishTaskStatus(fixture.publisher, update, { mode });

  /**
   * Opens a stream of the groups (and tasks) plus a sentinel task, publishes the updates, then
   * the sentinel's, and returns the updates that came before it: one Redis keeps publish order
   * on one subscriber connection, so whatever the updates caused has arrived by then.
   */
  async function openAndSettle(
    query: string,
    updates: TaskStatusUpdate[],
    snapshots = 0,
  ): Promise<{ client: SseTestClient; received: string[] }> {
    const sentinel = `sse-sentinel-${(sentinels += 1)}`;
    const client = await stream(fixture, `/tasks/events?${query}&task_id=${sentinel}`);
    const asked = query.split('&').length + 1;
    await client.waitForEvents('subscribed', asked);
    // Snapshots first: a live update that overtook a snapshot's read would (rightly) replace it.
    await client.waitFor(() => client.updates().length >= snapshots, `${snapshots} snapshot(s)`);
    for (const update of updates) await publish(update);
    await publish({ task_id: sentinel, status: 'processing' });
    await client.waitFor(
      () => client.updates().some((update) => update.task_id === sentinel),
      'the sentinel',
    );
    const received = client
      .updates()
      .filter((update) => update.task_id !== sentinel)
      .map(summary);
    return { client, received };
  }

  it('streams the updates of the tasks in the group, and no others', async () => {
    const { client, received } = await openAndSettle('group=sse-live-g', [
      { task_id: 'sse-live-1', group: 'sse-live-g', status: 'queued' },
      { task_id: 'sse-live-2', group: 'sse-other-g', status: 'queued' },
      { task_id: 'sse-live-3', status: 'queued' },
      { task_id: 'sse-live-4', group: 'sse-live-g', status: 'processing' },
      { task_id: 'sse-live-1', group: 'sse-live-g', status: 'processing' },
    ]);

    assert.deepEqual(received, [
      'sse-live-1:queued',
      'sse-live-4:processing',
      'sse-live-1:processing',
    ]);
    // Tasks are subscribed first (the sentinel), then groups, each in the order asked.
    assert.deepEqual(JSON.parse(client.named('subscribed')[1].data), {
      type: 'subscribed',
      group: 'sse-live-g',
      message: 'Successfully subscribed',
    });
    const live = client.named('status_update')[0];
    assert.match(String(live.id), /^sse-live-1:t\d+$/, 'the task of the update names the id');
  });

  it('sends the stored state of each task of the group after subscribed, newest first', async () => {
    for (const update of [
      { task_id: 'sse-snap-1', group: 'sse-snap-g', status: 'queued', version: 1 },
      { task_id: 'sse-snap-1', group: 'sse-snap-g', status: 'processing', version: 2 },
      { task_id: 'sse-snap-2', group: 'sse-snap-g', status: 'completed', version: 1 },
      { task_id: 'sse-snap-3', group: 'sse-snap-other', status: 'queued' },
    ]) {
      await publish(update);
    }

    const { client } = await openAndSettle('group=sse-snap-g', [], 2);

    const snapshots = client.named('status_update').filter((event) => event.data.includes('snap'));
    assert.deepEqual(
      snapshots.map((event) => summary(JSON.parse(event.data) as Record<string, unknown>)),
      ['sse-snap-2:completed:snapshot', 'sse-snap-1:processing:snapshot'],
    );
    assert.deepEqual(
      snapshots.map((event) => event.id),
      ['sse-snap-2:v1', 'sse-snap-1:v2'],
    );
  });

  it('resumes a group task from Last-Event-ID: its state only if newer, the others as new', async () => {
    await publish({ task_id: 'sse-res-1', group: 'sse-res-g', status: 'processing', version: 4 });
    await publish({ task_id: 'sse-res-2', group: 'sse-res-g', status: 'processing', version: 1 });
    await publish({ task_id: 'sse-res-3', group: 'sse-res-g', status: 'processing', version: 7 });

    const client = await stream(fixture, '/tasks/events?group=sse-res-g', {
      'Last-Event-ID': 'sse-res-1:v4,sse-res-3:v6',
    });
    await client.waitFor(() => client.updates().length >= 2, 'two snapshots');
    await publish({ task_id: 'sse-res-1', group: 'sse-res-g', status: 'completed', version: 5 });
    await client.waitFor(() => client.updates().length >= 3, 'the live update');

    assert.deepEqual(client.updates().map(summary), [
      'sse-res-3:processing:snapshot',
      'sse-res-2:processing:snapshot',
      'sse-res-1:completed',
    ]);
  });

  it('latches each task of a group at its terminal state, the others going on', async () => {
    const { received } = await openAndSettle('group=sse-latch-g', [
      { task_id: 'sse-latch-1', group: 'sse-latch-g', status: 'processing' },
      { task_id: 'sse-latch-1', group: 'sse-latch-g', status: 'completed' },
      { task_id: 'sse-latch-1', group: 'sse-latch-g', status: 'processing' },
      { task_id: 'sse-latch-2', group: 'sse-latch-g', status: 'processing' },
      { task_id: 'sse-latch-1', group: 'sse-latch-g', status: 'queued' },
      { task_id: 'sse-latch-2', group: 'sse-latch-g', status: 'failed' },
    ]);

    assert.deepEqual(received, [
      'sse-latch-1:processing',
      'sse-latch-1:completed',
      'sse-latch-2:processing',
      'sse-latch-2:failed',
    ]);
  });

  it('sends a task once to a stream that asked for the task and its group', async () => {
    await publish({ task_id: 'sse-both-1', group: 'sse-both-g', status: 'queued', version: 1 });

    const { received } = await openAndSettle(
      'task_id=sse-both-1&group=sse-both-g',
      [
        { task_id: 'sse-both-1', group: 'sse-both-g', status: 'processing', version: 2 },
        { task_id: 'sse-both-2', group: 'sse-both-g', status: 'processing', version: 1 },
        { task_id: 'sse-both-1', group: 'sse-both-g', status: 'completed', version: 3 },
      ],
      1,
    );

    assert.deepEqual(received, [
      'sse-both-1:queued:snapshot',
      'sse-both-1:processing',
      'sse-both-2:processing',
      'sse-both-1:completed',
    ]);
  });

  it('counts groups in the subscription limit and caps the groups, as error events', async () => {
    const client = await stream(
      fixture,
      '/tasks/events?task_id=sse-lim-1&group=sse-lim-a&group=sse-lim-b&group=sse-lim-c',
    );
    await client.waitForEvents('error', 1);
    assert.deepEqual(
      client.named('subscribed').map((event) => JSON.parse(event.data) as unknown),
      [
        { type: 'subscribed', task_id: 'sse-lim-1', message: 'Successfully subscribed' },
        { type: 'subscribed', group: 'sse-lim-a', message: 'Successfully subscribed' },
        { type: 'subscribed', group: 'sse-lim-b', message: 'Successfully subscribed' },
      ],
    );
    assert.deepEqual(JSON.parse(client.named('error')[0].data), {
      type: 'error',
      code: 'subscription_limit',
      message: 'A connection may hold at most 2 group subscriptions; ask for fewer groups',
      group: 'sse-lim-c',
    });

    const crowded = await stream(
      fixture,
      '/tasks/events?task_id=sse-lim-1&task_id=sse-lim-2&task_id=sse-lim-3&group=sse-lim-a&group=sse-lim-b',
    );
    await crowded.waitForEvents('error', 1);
    assert.deepEqual(JSON.parse(crowded.named('error')[0].data), {
      type: 'error',
      code: 'subscription_limit',
      message: 'A connection may hold at most 4 subscriptions (tasks and groups); ask for fewer',
      group: 'sse-lim-b',
    });
    assert.equal(crowded.named('subscribed').length, 4);
  });

  it('answers 400 for a group id that breaks the rule, and for a request naming nothing', async () => {
    const bad = await stream(fixture, '/tasks/events?group=org%2042');
    await bad.whenEnded();
    assert.equal(bad.status, 400);
    assert.match(
      (JSON.parse(bad.body) as { message: string }).message,
      /"org 42" is not a group id/,
    );

    const empty = await stream(fixture, '/tasks/events');
    await empty.whenEnded();
    assert.equal(empty.status, 400);
    assert.match(empty.body, /at least one task or group/);
  });
}

describe('groups over Server-Sent Events', () => {
  groupsOverSse('channel');
});

describe('groups over Server-Sent Events in sharded pub/sub mode', () => {
  groupsOverSse('sharded');
});

describe('groups over Server-Sent Events with authentication', () => {
  const fixture = useGateway({
    settings: { auth: { jwtSecret: TEST_SECRET }, ssePaddingBytes: 0 },
  });

  it('reports a group outside the groups claim as a forbidden error event, and sends nothing of it', async () => {
    await publishTaskStatus(fixture.publisher, {
      task_id: 'org-43:sse-1',
      group: 'org-43:team',
      status: 'processing',
    });
    await publishTaskStatus(fixture.publisher, {
      task_id: 'org-42:sse-1',
      group: 'org-42:team',
      status: 'processing',
    });
    const token = await mintToken({ sub: 'alice', groups: ['org-42:*'], tasks: ['org-42:*'] });

    const client = await stream(
      fixture,
      `/tasks/events?group=org-43:team&group=org-42:team&token=${token}`,
    );
    await client.waitFor(() => client.updates().length >= 1, 'the allowed group’s snapshot');
    await publishTaskStatus(fixture.publisher, {
      task_id: 'org-43:sse-1',
      group: 'org-43:team',
      status: 'completed',
    });
    await publishTaskStatus(fixture.publisher, {
      task_id: 'org-42:sse-1',
      group: 'org-42:team',
      status: 'completed',
    });
    await client.waitFor(() => client.updates().length >= 2, 'the allowed group’s update');

    assert.deepEqual(JSON.parse(client.named('error')[0].data), {
      type: 'error',
      code: 'forbidden',
      message: 'This token does not allow that group',
      group: 'org-43:team',
    });
    assert.deepEqual(client.updates().map(summary), [
      'org-42:sse-1:processing:snapshot',
      'org-42:sse-1:completed',
    ]);
  });
});
