import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { publishTaskStatus, shardChannelOf, shardKeyOf } from '@task-status/client/publisher';
import type { ServerMessage } from '@task-status/client/protocol';
import { CLOCK } from '../../src/clock/clock.js';
import { RedisSubscriberService } from '../../src/outbound/redis-subscriber.service.js';
import { getStats, waitForStats, type GatewayStats } from '../support/gateway-stats.js';
import { ManualClock } from '../support/manual-clock.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const CHANNEL = 'task_status_updates';
const PARTITIONS = 64;
const SHARDED = { mode: 'sharded', partitions: PARTITIONS } as const;
const WAIT_MS = 10_000;
const GRACE_MS = 30_000;

function shardStats(stats: GatewayStats) {
  const shards = stats.redis.shard_channels;
  assert.ok(shards, 'shard_channels in sharded mode');
  return shards;
}

function lastVersion(client: WsTestClient, taskId: string): unknown {
  const updates = client.updates(taskId);
  const last = updates[updates.length - 1];
  return last?.type === 'status_update' ? last.data.version : undefined;
}

/** How many connections hold each shard channel (PUBSUB SHARDNUMSUB). */
async function shardSubscribers(redis: Redis, taskIds: readonly string[]): Promise<number[]> {
  const channels = taskIds.map((id) => shardChannelOf(CHANNEL, id, PARTITIONS));
  const reply = (await redis.call('PUBSUB', 'SHARDNUMSUB', ...channels)) as Array<string | number>;
  return channels.map((_, i) => Number(reply[i * 2 + 1]));
}

/** Waits for a status update of the task (the snapshot, or a live one). */
async function firstUpdate(client: WsTestClient, taskId: string): Promise<ServerMessage> {
  await waitUntil(() => client.updates(taskId).length > 0, WAIT_MS, `an update of ${taskId}`);
  return client.updates(taskId)[0];
}

async function unsubscribe(client: WsTestClient, taskId: string): Promise<void> {
  client.send({ type: 'unsubscribe', task_id: taskId });
  await waitUntil(
    () => client.received.some((m) => m.type === 'unsubscribed' && m.task_id === taskId),
    WAIT_MS,
    `unsubscribed from ${taskId}`,
  );
}

const range = (count: number, name: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => name(i));

describe('sharded pub/sub on a standalone Redis 7', () => {
  let dataDir: string;
  let redis: RedisServer;
  let publisher: Redis;
  let one: TestApp;
  let two: TestApp;
  // Instance one keeps channels for the grace on a clock the tests move; two unsubscribes at once.
  const clock = new ManualClock();
  const clients: WsTestClient[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gateway-sharded-'));
    redis = await RedisServer.start({ dataDir });
    publisher = new Redis(redis.url, { maxRetriesPerRequest: null });
    publisher.on('error', () => undefined); // it reconnects by itself after the restart
    const settings = {
      redisUrl: redis.url,
      pubsubMode: 'sharded',
      partitions: PARTITIONS,
      resyncBatchSize: 50,
      maxSubscriptionsPerConnection: 500,
      rateLimitPerSecond: 0,
    } as const;
    [one, two] = await Promise.all([
      startTestApp(
        {
          ...settings,
          instanceId: 'sharded-one',
          canaryIntervalMs: 100,
          demoPublishEnabled: true,
          unsubscribeGraceMs: GRACE_MS,
        },
        { configure: (builder) => builder.overrideProvider(CLOCK).useValue(clock) },
      ),
      startTestApp({
        ...settings,
        instanceId: 'sharded-two',
        canaryIntervalMs: 0,
        unsubscribeGraceMs: 0,
      }),
    ]);
  });

  let oneClosed = false;

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all([oneClosed ? undefined : one?.close(), two?.close()]);
    publisher?.disconnect();
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function connect(app: TestApp): Promise<WsTestClient> {
    const client = await WsTestClient.connect(app.wsUrl);
    clients.push(client);
    return client;
  }

  const publish = (taskId: string, version: number, status = 'processing') =>
    publishTaskStatus(publisher, { task_id: taskId, status, version }, SHARDED);

  it('subscribes a task’s shard channel with its first watcher, sends the snapshot, relays live updates, and unsubscribes after the grace', async () => {
    const tasks = range(200, (i) => `many-${i}`);
    for (const taskId of tasks) await publish(taskId, 1, 'queued');
    const a = await connect(one);
    const b = await connect(one);

    // Every task on a, every other one on b too: 300 subscriptions, 200 channels.
    for (const [i, taskId] of tasks.entries()) {
      await a.subscribe(taskId);
      if (i % 2 === 0) await b.subscribe(taskId);
    }
    for (const [i, taskId] of tasks.entries()) {
      const snapshot = await firstUpdate(a, taskId);
      assert.equal(snapshot.type === 'status_update' && snapshot.snapshot, true);
      if (i % 2 === 0) await firstUpdate(b, taskId);
    }
    assert.deepEqual(new Set(await shardSubscribers(publisher, tasks)), new Set([1]));

    for (const taskId of tasks) await publish(taskId, 2);
    for (const taskId of tasks) {
      await waitUntil(() => lastVersion(a, taskId) === 2, WAIT_MS, `live update of ${taskId}`);
    }
    await waitUntil(
      () => tasks.every((taskId, i) => i % 2 === 1 || lastVersion(b, taskId) === 2),
      WAIT_MS,
      'live updates on b',
    );

    // a leaves every task: those b watches stay, the others enter the grace, still subscribed.
    const held = await getStats(one.httpUrl);
    for (const taskId of tasks) await unsubscribe(a, taskId);
    const inGrace = await waitForStats(
      one.httpUrl,
      (stats) => shardStats(stats).in_grace === 100,
      'the tasks nobody watches in grace',
    );
    assert.equal(shardStats(inGrace).held, shardStats(held).held);
    assert.equal(shardStats(inGrace).sunsubscribe_commands, shardStats(held).sunsubscribe_commands);
    assert.deepEqual(new Set(await shardSubscribers(publisher, tasks)), new Set([1]));

    // An update during the grace finds no watcher: dropped as unrouted.
    const [graced, comesBack] = [tasks[1], tasks[3]];
    await publish(graced, 3);
    await waitForStats(
      one.httpUrl,
      (stats) => stats.messages.unrouted === inGrace.messages.unrouted + 1,
      'the update of a task in grace dropped',
    );
    // A newcomer within the grace: its snapshot, and no SSUBSCRIBE.
    const c = await connect(one);
    await c.subscribe(comesBack);
    const snapshot = await firstUpdate(c, comesBack);
    assert.equal(snapshot.type === 'status_update' && snapshot.snapshot, true);
    assert.equal(lastVersion(c, comesBack), 2);
    const back = shardStats(await getStats(one.httpUrl));
    assert.equal(back.in_grace, 99);
    assert.equal(back.ssubscribe_commands, shardStats(inGrace).ssubscribe_commands);

    // The grace is over: SUNSUBSCRIBE of the 99 nobody came back to.
    clock.advance(GRACE_MS);
    const expectHolders = (i: number) => (i % 2 === 0 || tasks[i] === comesBack ? 1 : 0);
    await waitUntil(
      async () =>
        (await shardSubscribers(publisher, tasks)).every((n, i) => n === expectHolders(i)),
      WAIT_MS,
      'SUNSUBSCRIBE of the tasks nobody watches, after the grace',
    );
    const after = shardStats(await getStats(one.httpUrl));
    assert.equal(after.in_grace, 0);
    assert.equal(after.held, back.held - 99);
    // Batched per partition: 99 tasks over 64 partitions, fewer commands than tasks.
    const sent = after.sunsubscribe_commands - back.sunsubscribe_commands;
    assert.ok(sent > 0 && sent < 99, `${sent} SUNSUBSCRIBE commands`);

    await Promise.all([b.close(), c.close()]);
    await waitForStats(
      one.httpUrl,
      (stats) => shardStats(stats).in_grace === 101,
      'the tasks of the closed clients in grace',
    );
    clock.advance(GRACE_MS);
    await waitUntil(
      async () => (await shardSubscribers(publisher, tasks)).every((n) => n === 0),
      WAIT_MS,
      'SUNSUBSCRIBE after the grace of the last watchers',
    );
    const stats = await getStats(one.httpUrl);
    assert.equal(shardStats(stats).in_grace, 0);
    assert.equal(stats.messages.unrouted, 1);
    assert.equal(stats.messages.dropped, 0);
  });

  it('reports the pub/sub mode and the shard channel counters in /ws/stats and /metrics', async () => {
    const tasks = range(3, (i) => `counted-${i}`);
    const client = await connect(two);
    const before = shardStats(await getStats(two.httpUrl));
    for (const taskId of tasks) {
      await client.subscribe(taskId);
      // `subscribed` is answered once the SSUBSCRIBE is confirmed: every later update arrives.
      assert.deepEqual(await shardSubscribers(publisher, [taskId]), [1]);
    }
    const subscribed = await getStats(two.httpUrl);
    assert.equal(subscribed.redis.pubsub_mode, 'sharded');
    // One SSUBSCRIBE per first watcher (each subscribe came on its own).
    assert.deepEqual(shardStats(subscribed), {
      held: before.held + 3,
      in_grace: 0,
      ssubscribe_commands: before.ssubscribe_commands + 3,
      sunsubscribe_commands: before.sunsubscribe_commands,
    });

    for (const taskId of tasks) await unsubscribe(client, taskId);
    const left = await waitForStats(
      two.httpUrl,
      (stats) => shardStats(stats).held === before.held,
      'the SUNSUBSCRIBEs without a grace',
    );
    assert.equal(shardStats(left).sunsubscribe_commands, before.sunsubscribe_commands + 3);

    const response = await fetch(`${two.httpUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    const sample = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`task_status_gateway_${name} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    assert.equal(sample('redis_pubsub_mode{mode="sharded"}'), 1);
    assert.equal(sample('redis_shard_channels'), before.held);
    assert.equal(sample('redis_shard_channels_in_grace'), 0);
    assert.equal(sample('redis_ssubscribe_commands_total'), before.ssubscribe_commands + 3);
    assert.equal(sample('redis_sunsubscribe_commands_total'), before.sunsubscribe_commands + 3);
  });

  it('keeps the canary alive on its own shard channel', async () => {
    await waitUntil(
      async () => (await getStats(one.httpUrl)).redis.canary_round_trip_ms !== null,
      WAIT_MS,
      'a canary round trip',
    );
    const stats = await getStats(one.httpUrl);
    assert.equal(stats.redis.data_path, 'ok');
  });

  it('gives each of two instances only the updates of the tasks its clients watch', async () => {
    const mine = range(30, (i) => `one-${i}`);
    const theirs = range(30, (i) => `two-${i}`);
    const nobody = range(30, (i) => `nobody-${i}`);
    const onOne = await connect(one);
    const onTwo = await connect(two);
    for (const taskId of [...mine, 'both']) await onOne.subscribe(taskId);
    for (const taskId of [...theirs, 'both']) await onTwo.subscribe(taskId);
    const before = await Promise.all([getStats(one.httpUrl), getStats(two.httpUrl)]);

    for (let version = 1; version <= 5; version += 1) {
      for (const taskId of [...mine, ...theirs, ...nobody, 'both']) await publish(taskId, version);
    }
    await waitUntil(
      () =>
        [...mine, 'both'].every((id) => lastVersion(onOne, id) === 5) &&
        [...theirs, 'both'].every((id) => lastVersion(onTwo, id) === 5),
      WAIT_MS,
      'every update on its instance',
    );

    const after = await Promise.all([getStats(one.httpUrl), getStats(two.httpUrl)]);
    for (const [i, stats] of after.entries()) {
      assert.equal(
        stats.messages.unrouted - before[i].messages.unrouted,
        0,
        `instance ${i + 1} got updates nobody there watches`,
      );
      // 31 watched tasks × 5 versions; nothing else arrived.
      assert.equal(stats.messages.received - before[i].messages.received, 31 * 5);
      assert.equal(stats.messages.routed - before[i].messages.routed, 31 * 5);
    }
    assert.equal(
      onOne.updates().filter((m) => m.type === 'status_update' && m.task_id.startsWith('two-'))
        .length,
      0,
    );
    assert.equal(
      onTwo.updates().filter((m) => m.type === 'status_update' && m.task_id.startsWith('one-'))
        .length,
      0,
    );
  });

  it('resubscribes every watched task after a Redis restart and resyncs what changed meanwhile', async () => {
    const tasks = range(40, (i) => `restart-${i}`);
    const watchers = await Promise.all([connect(one), connect(two)]);
    for (const taskId of tasks) await publish(taskId, 1);
    for (const client of watchers) for (const taskId of tasks) await client.subscribe(taskId);
    for (const client of watchers) {
      for (const taskId of tasks) await firstUpdate(client, taskId);
    }

    // States stored while no gateway listens (SET only, no publish), saved to survive the kill.
    for (const taskId of tasks) {
      const json = JSON.stringify({ task_id: taskId, status: 'processing', version: 2 });
      await publisher.set(shardKeyOf('task:status:', taskId, PARTITIONS), json, 'EX', 3600);
    }
    await publisher.save();
    const subscribers = [one, two].map((app) => app.app.get(RedisSubscriberService));
    const lost = subscribers.map((s) => once(s.events, 'disconnected'));
    await redis.kill();
    await withTimeout(Promise.all(lost), WAIT_MS, 'the gateways to notice');
    const back = subscribers.map((s) => once(s.events, 'subscribed'));
    await redis.restart();
    await withTimeout(Promise.all(back), 15_000, 'the gateways to resubscribe');

    // Resync: the stored states reach every client without a publish.
    for (const client of watchers) {
      await waitUntil(
        () => tasks.every((taskId) => lastVersion(client, taskId) === 2),
        15_000,
        'the resync',
      );
    }
    // Resubscribed: each channel is held by both instances again, and live updates flow.
    await waitUntil(
      async () => (await shardSubscribers(publisher, tasks)).every((n) => n === 2),
      WAIT_MS,
      'the resubscription',
    );
    for (const taskId of tasks) await publish(taskId, 3);
    for (const client of watchers) {
      await waitUntil(
        () => tasks.every((taskId) => lastVersion(client, taskId) === 3),
        WAIT_MS,
        'live updates after the restart',
      );
      const versions = client
        .updates()
        .filter((m) => m.type === 'status_update' && m.task_id.startsWith('restart-'))
        .map((m) => (m.type === 'status_update' ? (m.data.version as number) : 0));
      assert.equal(versions.length, tasks.length * 3, 'each state exactly once');
    }
    assert.equal((await getStats(two.httpUrl)).messages.unrouted, 0);
  });

  it('npm run publish stores and SPUBLISHes in sharded mode', async () => {
    const client = await connect(one);
    await client.subscribe('cli-task');
    await waitUntil(
      async () => (await shardSubscribers(publisher, ['cli-task']))[0] === 1,
      WAIT_MS,
      'the subscription',
    );
    const child = spawn(
      process.execPath,
      [resolve('scripts', 'publish-task-status.mjs'), 'cli-task', 'processing', '40', 'hello'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          REDIS_URL: redis.url,
          REDIS_PUBSUB_MODE: 'sharded',
          REDIS_PARTITIONS: String(PARTITIONS),
        },
        cwd: tmpdir(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await withTimeout(once(child, 'close'), 20_000, 'the CLI')) as [number | null];
    assert.equal(code, 0, output);
    const channel = shardChannelOf(CHANNEL, 'cli-task', PARTITIONS);
    assert.match(
      output,
      new RegExp(`published on ${channel.replace(/[{}]/g, '\\$&')} .* to 1 subscriber`),
    );
    const update = await firstUpdate(client, 'cli-task');
    assert.equal(update.type === 'status_update' && update.data.message, 'hello');
    const stored = await publisher.get(shardKeyOf('task:status:', 'cli-task', PARTITIONS));
    assert.equal((JSON.parse(stored ?? '{}') as { progress?: number }).progress, 40);
  });

  it('the demo simulator publishes in the sharded layout', async () => {
    const client = await connect(one);
    await client.subscribe('demo-sharded');
    const response = await fetch(`${one.httpUrl}/demo/simulate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ task_id: 'demo-sharded', step_ms: 50 }),
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(response.status, 202);
    await waitUntil(
      () => lastVersion(client, 'demo-sharded') === 7,
      WAIT_MS,
      'the simulated task to complete',
    );
    const stored = await publisher.get(shardKeyOf('task:status:', 'demo-sharded', PARTITIONS));
    assert.equal((JSON.parse(stored ?? '{}') as { status?: string }).status, 'completed');
  });

  // Last: it closes instance one.
  it('leaves no grace timer pending at shutdown', async () => {
    const client = await connect(one);
    await client.subscribe('leaving-at-shutdown');
    await client.close();
    await waitForStats(one.httpUrl, (stats) => shardStats(stats).in_grace > 0, 'the task in grace');
    assert.equal(clock.pending().length, 1, 'the one grace timer');

    oneClosed = true;
    await one.close();

    assert.deepEqual(clock.pending(), []);
  });
});
