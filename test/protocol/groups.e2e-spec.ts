import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerMessage } from '@task-status/client/protocol';
import {
  groupShardChannelOf,
  groupShardKeyOf,
  publishTaskStatus as publishInChannelMode,
  type PublishTaskStatusOptions,
  type RedisLike,
  type TaskStatusUpdate,
} from '../../client/src/publisher.js';
import { TaskUpdateDelivery } from '../../src/outbound/task-update-delivery.js';
import { mintToken, TEST_SECRET } from '../support/auth-tokens.js';
import { CHANNEL, type GatewayFixture, useGateway } from '../support/use-gateway.js';
import type { WsTestClient } from '../support/ws-test-client.js';

const isUpdate = (m: ServerMessage) => m.type === 'status_update';
const summary = (m: ServerMessage) =>
  m.type === 'status_update'
    ? `${m.task_id}:${String(m.data.status)}${m.snapshot ? ':snapshot' : ''}`
    : m.type;

let sentinels = 0;
/** The layout the suite under way publishes in (the gateway's REDIS_PUBSUB_MODE). */
let mode: 'channel' | 'sharded' = 'channel';

/** The publisher helper, in the layout of the suite under way. */
function publishTaskStatus(
  redis: RedisLike,
  update: TaskStatusUpdate,
  options: PublishTaskStatusOptions = {},
) {
  return publishInChannelMode(redis, update, { mode, ...options });
}

/**
 * Publishes the updates, then one of a sentinel task the client watches on its own, and waits
 * for that: the channel keeps publish order, so whatever the updates caused has arrived by then.
 * Returns the updates received before the sentinel.
 */
async function publishAndSettle(
  fixture: GatewayFixture,
  client: WsTestClient,
  updates: TaskStatusUpdate[],
): Promise<string[]> {
  const sentinel = `sentinel-${(sentinels += 1)}`;
  await client.subscribe(sentinel);
  for (const update of updates) await publishTaskStatus(fixture.publisher, update);
  await publishTaskStatus(fixture.publisher, { task_id: sentinel, status: 'processing' });
  const received: string[] = [];
  for (;;) {
    const message = await client.next(isUpdate);
    if (message.type === 'status_update' && message.task_id === sentinel) break;
    received.push(summary(message));
  }
  return received;
}

async function subscribeGroup(client: WsTestClient, group: string): Promise<void> {
  client.send({ type: 'subscribe', group });
  const answer = await client.next((m) => m.type === 'subscribed' || m.type === 'error');
  assert.deepEqual(answer, { type: 'subscribed', group, message: 'Successfully subscribed' });
}

/**
 * The group suite, in the pub/sub mode given. In `sharded` mode an instance holds a group's shard
 * channel while the group is watched, and gets an update of a task it also watches twice.
 */
function groupSubscriptions(pubsubMode: 'channel' | 'sharded'): void {
  const fixture = useGateway({
    settings: {
      maxSubscriptionsPerConnection: 6,
      maxGroupsPerConnection: 2,
      ...(pubsubMode === 'sharded' ? { pubsubMode, canaryIntervalMs: 0 } : {}),
    },
  });
  before(() => {
    mode = pubsubMode;
  });
  after(() => {
    mode = 'channel';
  });

  it('delivers the updates of the tasks in the group, and no others', async () => {
    const client = await fixture.connect();
    await subscribeGroup(client, 'live-g');

    const received = await publishAndSettle(fixture, client, [
      { task_id: 'live-1', group: 'live-g', status: 'queued' },
      { task_id: 'live-2', group: 'other-g', status: 'queued' },
      { task_id: 'live-3', status: 'queued' },
      { task_id: 'live-4', group: 'live-g', status: 'processing' },
      { task_id: 'live-1', group: 'live-g', status: 'processing' },
    ]);

    assert.deepEqual(received, ['live-1:queued', 'live-4:processing', 'live-1:processing']);
  });

  it('passes the update on unchanged: data holds the group', async () => {
    const client = await fixture.connect();
    await subscribeGroup(client, 'shape-g');

    const update = { task_id: 'shape-1', group: 'shape-g', status: 'processing', x: 1 };
    // What a worker without the helper publishes: on the group's shard channel in sharded mode.
    if (pubsubMode === 'sharded') {
      await fixture.publisher.spublish(
        groupShardChannelOf(CHANNEL, 'shape-g'),
        JSON.stringify(update),
      );
    } else {
      await fixture.publish(update);
    }

    assert.deepEqual(await client.next(isUpdate), {
      type: 'status_update',
      task_id: 'shape-1',
      data: { group: 'shape-g', status: 'processing', x: 1 },
    });
  });

  it('sends the latest stored state of each task of the group after subscribed', async () => {
    for (const update of [
      { task_id: 'snap-1', group: 'snap-g', status: 'queued' },
      { task_id: 'snap-1', group: 'snap-g', status: 'processing', progress: 50 },
      { task_id: 'snap-2', group: 'snap-g', status: 'completed' },
      { task_id: 'snap-3', group: 'snap-other', status: 'queued' },
    ]) {
      await publishTaskStatus(fixture.publisher, update);
    }
    const client = await fixture.connect();

    client.send({ type: 'subscribe', group: 'snap-g' });
    const [subscribed, ...snapshots] = await client.take(3);

    assert.deepEqual(subscribed, {
      type: 'subscribed',
      group: 'snap-g',
      message: 'Successfully subscribed',
    });
    // The most recently published first.
    assert.deepEqual(snapshots.map(summary), [
      'snap-2:completed:snapshot',
      'snap-1:processing:snapshot',
    ]);
    const first = snapshots[1];
    assert.ok(first.type === 'status_update');
    assert.equal(first.data.progress, 50);
    await client.ping();
    assert.equal(client.updates().length, 2, 'nothing of another group');
  });

  it('latches each task of a group at its terminal state, the others going on', async () => {
    const client = await fixture.connect();
    await subscribeGroup(client, 'latch-g');

    const received = await publishAndSettle(fixture, client, [
      { task_id: 'latch-1', group: 'latch-g', status: 'processing' },
      { task_id: 'latch-1', group: 'latch-g', status: 'completed' },
      { task_id: 'latch-1', group: 'latch-g', status: 'processing' },
      { task_id: 'latch-2', group: 'latch-g', status: 'processing' },
      { task_id: 'latch-1', group: 'latch-g', status: 'queued' },
      { task_id: 'latch-2', group: 'latch-g', status: 'failed' },
    ]);

    assert.deepEqual(received, [
      'latch-1:processing',
      'latch-1:completed',
      'latch-2:processing',
      'latch-2:failed',
    ]);
  });

  it('keeps each task of a group in its version order', async () => {
    const client = await fixture.connect();
    await subscribeGroup(client, 'order-g');

    const received = await publishAndSettle(fixture, client, [
      { task_id: 'order-1', group: 'order-g', status: 'v2', version: 2 },
      { task_id: 'order-1', group: 'order-g', status: 'v1', version: 1 },
      { task_id: 'order-1', group: 'order-g', status: 'v3', version: 3 },
    ]);

    assert.deepEqual(received, ['order-1:v2', 'order-1:v3']);
  });

  it('delivers an update once to a client subscribed to the task and to its group', async () => {
    const client = await fixture.connect();
    const taskOnly = await fixture.connect();
    await client.subscribe('dup-1');
    await taskOnly.subscribe('dup-1');
    await subscribeGroup(client, 'dup-g');

    const received = await publishAndSettle(fixture, client, [
      { task_id: 'dup-1', group: 'dup-g', status: 'processing' },
      { task_id: 'dup-2', group: 'dup-g', status: 'processing' },
      { task_id: 'dup-1', group: 'dup-g', status: 'completed' },
    ]);

    assert.deepEqual(received, ['dup-1:processing', 'dup-2:processing', 'dup-1:completed']);
    const other = await taskOnly.take(2, isUpdate);
    assert.deepEqual(other.map(summary), ['dup-1:processing', 'dup-1:completed']);
  });

  it('stops the group’s updates after unsubscribed, and is idempotent both ways', async () => {
    const client = await fixture.connect();
    await subscribeGroup(client, 'unsub-g');
    await subscribeGroup(client, 'unsub-g');

    client.send({ type: 'unsubscribe', group: 'unsub-g' });
    assert.deepEqual(await client.next(), {
      type: 'unsubscribed',
      group: 'unsub-g',
      message: 'Successfully unsubscribed',
    });
    client.send({ type: 'unsubscribe', group: 'unsub-g' });
    assert.equal((await client.next()).type, 'unsubscribed');
    const received = await publishAndSettle(fixture, client, [
      { task_id: 'unsub-1', group: 'unsub-g', status: 'processing' },
    ]);

    assert.deepEqual(received, []);
  });

  it('counts groups in the subscription limit, and caps the groups per connection', async () => {
    const client = await fixture.connect();
    for (const task of ['lim-1', 'lim-2', 'lim-3']) await client.subscribe(task);
    await subscribeGroup(client, 'lim-g1');
    await subscribeGroup(client, 'lim-g2');

    client.send({ type: 'subscribe', group: 'lim-g3' });
    assert.deepEqual(await client.next(), {
      type: 'error',
      code: 'subscription_limit',
      message:
        'A connection may hold at most 2 group subscriptions; unsubscribe from a group first',
      group: 'lim-g3',
    });
    await client.subscribe('lim-4');
    client.send({ type: 'subscribe', task_id: 'lim-5' });
    const limit = await client.next();
    assert.ok(limit.type === 'error' && limit.code === 'subscription_limit', summary(limit));
    // Freeing a group's slot lets a task take it; then no slot is left for a group either.
    client.send({ type: 'unsubscribe', group: 'lim-g1' });
    await client.next((m) => m.type === 'unsubscribed');
    await client.subscribe('lim-5');
    client.send({ type: 'subscribe', group: 'lim-g3' });
    const error = await client.next();
    assert.deepEqual(error, {
      type: 'error',
      code: 'subscription_limit',
      message:
        'A connection may hold at most 6 subscriptions (tasks and groups); unsubscribe first',
      group: 'lim-g3',
    });
    await client.ping();
  });

  it('answers bad group messages with invalid_message and stays open', async () => {
    const client = await fixture.connect();
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ type: 'subscribe', group: '' }, 'group', 'group must be'],
      [{ type: 'subscribe', group: 'a b' }, 'group', 'group must be'],
      [{ type: 'subscribe', group: 'g'.repeat(129) }, 'group', 'group must be'],
      [{ type: 'subscribe', group: 42 }, 'group', 'group must be'],
      [{ type: 'subscribe', group: null }, 'group', 'group must be'],
      [{ type: 'subscribe', group: ['g'] }, 'group', 'group must be'],
      [{ type: 'unsubscribe', group: 'a/b' }, 'group', 'group must be'],
      [{ type: 'subscribe', task_id: 't', group: 'g' }, 'group', 'either task_id or group'],
      [{ type: 'unsubscribe', task_id: 't', group: 'g' }, 'group', 'either task_id or group'],
      [{ type: 'subscribe', task_id: 'a b', group: 'g' }, 'task_id', 'task_id must be'],
    ];
    for (const [message, field, text] of cases) {
      client.send(message);
      const answer = await client.next();
      assert.ok(answer.type === 'error', JSON.stringify(message));
      assert.equal(answer.code, 'invalid_message', JSON.stringify(message));
      assert.equal(answer.field, field, JSON.stringify(message));
      assert.ok(answer.message.includes(text), `${JSON.stringify(message)}: ${answer.message}`);
    }
    await client.ping();
  });

  it('resyncs the tasks of a watched group: those delivered, and new ones of its index', async () => {
    const client = await fixture.connect();
    await subscribeGroup(client, 'resync-g');
    await publishTaskStatus(fixture.publisher, {
      task_id: 'resync-1',
      group: 'resync-g',
      status: 'processing',
    });
    await client.next(isUpdate);
    // Written while the gateway cannot hear them (no PUBLISH): a changed state, a task new to
    // the group's index, and a task of another group.
    const stateOf = (taskId: string, group: string, status: string) =>
      JSON.stringify({ task_id: taskId, status, group });
    const now = Date.now();
    const indexOf = (group: string) =>
      pubsubMode === 'sharded' ? groupShardKeyOf('task:group:', group) : `task:group:${group}`;
    await fixture.publisher
      .multi()
      .set(fixture.stateKeyOf('resync-1'), stateOf('resync-1', 'resync-g', 'completed'))
      .set(fixture.stateKeyOf('resync-2'), stateOf('resync-2', 'resync-g', 'queued'))
      .zadd(indexOf('resync-g'), now, 'resync-2')
      .set(fixture.stateKeyOf('resync-3'), stateOf('resync-3', 'other-g', 'queued'))
      .zadd(indexOf('other-g'), now, 'resync-3')
      .exec();

    await fixture.gateway.app.get(TaskUpdateDelivery).resync();
    const received = await client.take(2, isUpdate);
    await client.ping();

    assert.deepEqual(received.map(summary).sort(), ['resync-1:completed', 'resync-2:queued']);
    assert.equal(client.updates().length, 3, 'nothing of the other group');
  });

  it('drops a published group that is not a string without harm', async () => {
    const client = await fixture.connect();
    await subscribeGroup(client, '42');

    await fixture.publish({ task_id: 'bad-1', group: 42, status: 'processing' });
    const received = await publishAndSettle(fixture, client, [
      { task_id: 'bad-2', group: '42', status: 'processing' },
    ]);

    assert.deepEqual(received, ['bad-2:processing']);
  });
}

describe('group subscriptions', () => {
  groupSubscriptions('channel');
});

describe('group subscriptions in sharded pub/sub mode', () => {
  groupSubscriptions('sharded');
});

describe('group subscriptions with authentication', () => {
  const fixture = useGateway({ settings: { auth: { jwtSecret: TEST_SECRET } } });

  async function connectWith(claims: Record<string, unknown>): Promise<WsTestClient> {
    const token = await mintToken({ sub: 'alice', ...claims });
    return fixture.connect({ headers: { Authorization: `Bearer ${token}` } });
  }

  it('answers forbidden for a group outside the groups claim, and sends nothing of it', async () => {
    await publishTaskStatus(fixture.publisher, {
      task_id: 'org-43:job-1',
      group: 'org-43:team',
      status: 'processing',
    });
    const client = await connectWith({ groups: ['org-42:*'], tasks: ['sentinel-*'] });

    client.send({ type: 'subscribe', group: 'org-43:team' });
    assert.deepEqual(await client.next(), {
      type: 'error',
      code: 'forbidden',
      message: 'This token does not allow that group',
      group: 'org-43:team',
    });
    await subscribeGroup(client, 'org-42:team');
    const received = await publishAndSettle(fixture, client, [
      { task_id: 'org-43:job-1', group: 'org-43:team', status: 'completed' },
      { task_id: 'org-42:job-1', group: 'org-42:team', status: 'processing' },
    ]);

    assert.deepEqual(received, ['org-42:job-1:processing']);
    // Not even the forbidden group's stored state, at any point.
    assert.deepEqual(
      client.updates().filter((m) => m.type === 'status_update' && m.task_id.startsWith('org-43')),
      [],
    );
  });

  it('does not take the tasks claim for groups', async () => {
    const client = await connectWith({ tasks: ['*'] });

    client.send({ type: 'subscribe', group: 'any' });

    const answer = await client.next();
    assert.ok(answer.type === 'error' && answer.code === 'forbidden', summary(answer));
  });

  it('drops a group that a refreshed token no longer allows', async () => {
    const client = await connectWith({ groups: ['keep', 'drop'], tasks: ['sentinel-*'] });
    await subscribeGroup(client, 'keep');
    await subscribeGroup(client, 'drop');

    client.send({
      type: 'auth',
      token: await mintToken({ groups: ['keep'], tasks: ['sentinel-*'] }),
    });
    const [revoked, authenticated] = await client.take(2);

    assert.deepEqual(revoked, {
      type: 'error',
      code: 'forbidden',
      message: 'The new token does not allow this group; unsubscribed',
      group: 'drop',
    });
    assert.equal(authenticated.type, 'authenticated');
    const received = await publishAndSettle(fixture, client, [
      { task_id: 'refresh-1', group: 'drop', status: 'processing' },
      { task_id: 'refresh-2', group: 'keep', status: 'processing' },
    ]);
    assert.deepEqual(received, ['refresh-2:processing']);
  });
});

describe('group subscriptions turned off (WS_MAX_GROUPS_PER_CONNECTION=0)', () => {
  const fixture = useGateway({ settings: { maxGroupsPerConnection: 0 } });

  it('answers subscription_limit for every group, tasks still working', async () => {
    const client = await fixture.connect();

    client.send({ type: 'subscribe', group: 'g' });

    assert.deepEqual(await client.next(), {
      type: 'error',
      code: 'subscription_limit',
      message: 'This server allows no group subscriptions',
      group: 'g',
    });
    await client.subscribe('task-1');
  });
});
