import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { publishTaskStatus, shardChannelOf } from '@task-status/client/publisher';
import type { ServerMessage } from '@task-status/client/protocol';
import { getStats } from '../support/gateway-stats.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const PARTITIONS = 64;
const BOTH = { mode: 'both', partitions: PARTITIONS } as const;

const isUpdateOf = (taskId: string) => (m: ServerMessage) =>
  m.type === 'status_update' && m.task_id === taskId;

/** Version and snapshot flag of each status update, in arrival order. */
const received = (messages: ServerMessage[]) =>
  messages.map((m) => (m.type === 'status_update' ? [m.data.version, m.snapshot === true] : []));

// docs/scaling.md, Migration step 2: publishers write both layouts while the gateways move.
describe('migration: dual-written updates reach a channel-mode and a sharded-mode gateway', () => {
  let redis: RedisServer;
  let publisher: Redis;
  let channelGateway: TestApp;
  let shardedGateway: TestApp;
  const clients: WsTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
    const settings = { redisUrl: redis.url, partitions: PARTITIONS, canaryIntervalMs: 0 };
    [channelGateway, shardedGateway] = await Promise.all([
      startTestApp({ ...settings, instanceId: 'migrating-channel', pubsubMode: 'channel' }),
      startTestApp({ ...settings, instanceId: 'migrating-sharded', pubsubMode: 'sharded' }),
    ]);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all([channelGateway?.close(), shardedGateway?.close()]);
    publisher?.disconnect();
    await redis?.stop();
  });

  async function watcher(app: TestApp, taskId: string): Promise<WsTestClient> {
    const client = await WsTestClient.connect(app.wsUrl);
    clients.push(client);
    await client.subscribe(taskId);
    return client;
  }

  it('gives both gateways the snapshot and every live update once, in order', async () => {
    const taskId = 'migrating-task';
    await publishTaskStatus(publisher, { task_id: taskId, status: 'queued', version: 1 }, BOTH);
    const onChannel = await watcher(channelGateway, taskId);
    const onSharded = await watcher(shardedGateway, taskId);
    for (const client of [onChannel, onSharded]) {
      assert.deepEqual(received(await client.take(1, isUpdateOf(taskId))), [[1, true]]);
    }

    const results = [];
    for (const version of [2, 3]) {
      results.push(
        await publishTaskStatus(
          publisher,
          { task_id: taskId, status: 'processing', version },
          BOTH,
        ),
      );
    }

    for (const client of [onChannel, onSharded]) {
      assert.deepEqual(received(await client.take(2, isUpdateOf(taskId))), [
        [2, false],
        [3, false],
      ]);
    }
    // One receiver on each layout: the channel gateway on PUBLISH, the sharded one on SPUBLISH.
    for (const result of results) {
      assert.equal(result.receivers, 1);
      assert.equal(result.shard?.receivers, 1);
      assert.equal(
        result.shard?.channel,
        shardChannelOf('task_status_updates', taskId, PARTITIONS),
      );
    }
    // Neither gateway got the other layout's copy: three updates each, none dropped as unknown.
    await onChannel.ping();
    await onSharded.ping();
    for (const [client, app] of [
      [onChannel, channelGateway],
      [onSharded, shardedGateway],
    ] as const) {
      assert.equal(client.updates(taskId).length, 3);
      const stats = await getStats(app.httpUrl);
      assert.equal(stats.messages.routed, 2);
      assert.equal(stats.messages.dropped, 0);
    }
  });

  it('npm run publish with REDIS_PUBSUB_MODE=both writes both layouts', async () => {
    const taskId = 'cli-migrating';
    const onChannel = await watcher(channelGateway, taskId);
    const onSharded = await watcher(shardedGateway, taskId);
    const child = spawn(
      process.execPath,
      [resolve('scripts', 'publish-task-status.mjs'), taskId, 'processing', '55', 'both'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          REDIS_URL: redis.url,
          REDIS_PUBSUB_MODE: 'both',
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
    const shardChannel = shardChannelOf('task_status_updates', taskId, PARTITIONS);
    assert.match(output, /published on task_status_updates at .* to 1 subscriber/);
    assert.match(
      output,
      new RegExp(`published on ${shardChannel.replace(/[{}]/g, '\\$&')} at .* to 1 subscriber`),
    );
    for (const client of [onChannel, onSharded]) {
      const [update] = await client.take(1, isUpdateOf(taskId));
      assert.equal(update.type === 'status_update' && update.data.progress, 55);
    }
  });
});
