import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { getStats } from './support/gateway-stats.js';
import { RedisServer } from './support/redis-server.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { waitUntil, withTimeout } from './support/with-timeout.js';
import { WsTestClient } from './support/ws-test-client.js';

const CHANNEL = 'task_status_updates';

/** A masked client text frame (payloads under 126 bytes). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/**
 * A WebSocket client that subscribes and then stops reading its socket, as a stalled browser
 * tab or a congested mobile link would. `resume()` starts reading again and counts the bytes.
 */
async function stalledSubscriber(port: number, taskIds: string[]) {
  const socket: Socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer) => (received = Buffer.concat([received, chunk]));
  socket.on('data', onData);
  await waitUntil(() => received.includes('\r\n\r\n'), 5_000, 'the handshake answer');
  for (const taskId of taskIds) {
    socket.write(textFrame(JSON.stringify({ type: 'subscribe', task_id: taskId })));
  }
  // Every subscribe is answered before anything stalls.
  await waitUntil(
    () => received.toString('latin1').split('"subscribed"').length - 1 === taskIds.length,
    5_000,
    'the subscribe answers',
  );
  socket.off('data', onData);
  socket.pause();
  const closed = once(socket, 'close');
  return { socket, closed };
}

describe('slow consumers', () => {
  let redis: RedisServer;
  let publisher: Redis;
  let gateway: TestApp;

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
    gateway = await startTestApp({
      redisUrl: redis.url,
      backpressureBytes: 256 * 1024,
      slowClientMaxBytes: 1024 * 1024,
      canaryIntervalMs: 0,
      maxSubscriptionsPerConnection: 20,
      // These tests stall clients on purpose; the stall limit has its own test below.
      slowClientStallMs: 0,
    });
  });

  after(async () => {
    await gateway?.close();
    publisher?.disconnect();
    await redis?.stop();
  });

  /** Publishes `count` updates of about `size` bytes for a task, pipelined. */
  async function flood(taskId: string, count: number, size: number, final?: string) {
    const pad = 'x'.repeat(size);
    const pipeline = publisher.pipeline();
    for (let seq = 0; seq < count; seq += 1) {
      const status = seq === count - 1 && final ? final : 'processing';
      pipeline.publish(CHANNEL, JSON.stringify({ task_id: taskId, status, seq, pad }));
    }
    await pipeline.exec();
  }

  it('holds back and coalesces frames for a client that stops reading, without holding up readers', async () => {
    const stalled = await stalledSubscriber(gateway.port, ['shared']);
    const reader = await WsTestClient.connect(gateway.wsUrl);
    await reader.subscribe('shared');

    // ~13 MB for the task: far more than the kernel buffers of the stalled connection take.
    const count = 400;
    await flood('shared', count, 32 * 1024, 'completed');
    const last = await reader.next(
      (m) => m.type === 'status_update' && m.data.status === 'completed',
      30_000,
    );
    assert.ok(last.type === 'status_update' && last.data.seq === count - 1);
    const seqs = reader
      .updates('shared')
      .map((m) => (m.type === 'status_update' ? (m.data.seq as number) : -1));
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'in order, whatever was coalesced',
    );
    const stats = await getStats(gateway.httpUrl);
    assert.ok(stats.slow_consumers.detected >= 1, JSON.stringify(stats.slow_consumers));
    assert.ok(stats.slow_consumers.frames_coalesced > 0, JSON.stringify(stats.slow_consumers));
    assert.equal(
      stats.slow_consumers.closed,
      0,
      'one task coalesces to one frame: under the bound',
    );
    assert.equal(stats.total_connections, 2);

    // Once it reads again it catches up, ending on the terminal state.
    let tail = '';
    stalled.socket.on(
      'data',
      (chunk: Buffer) => (tail = (tail + chunk.toString('latin1')).slice(-200_000)),
    );
    stalled.socket.resume();
    await waitUntil(
      () => tail.includes('"status":"completed"'),
      15_000,
      'the stalled client to catch up',
    );
    stalled.socket.destroy();
    await reader.close();
  });

  it('closes with 1013 a stalled client whose held-back frames pass the bound, and frees it', async () => {
    const tasks = Array.from({ length: 12 }, (_, i) => `wide-${i}`);
    const stalled = await stalledSubscriber(gateway.port, tasks);
    const reader = await WsTestClient.connect(gateway.wsUrl);
    await reader.subscribe('wide-0');
    const before = await getStats(gateway.httpUrl);

    // Fill the kernel buffers with one task, then one large frame per task: 12 x 128 KiB held.
    await flood('wide-0', 200, 32 * 1024);
    for (const taskId of tasks) await flood(taskId, 1, 128 * 1024);

    await waitUntil(
      async () =>
        (await getStats(gateway.httpUrl)).slow_consumers.closed > before.slow_consumers.closed,
      15_000,
      'the slow client to be closed',
    );
    // A client that does not read cannot see the close either; once it reads, it does.
    stalled.socket.on('data', () => undefined);
    stalled.socket.resume();
    await withTimeout(stalled.closed, 10_000, 'the stalled socket to see the close');
    const after = await getStats(gateway.httpUrl);
    assert.equal(after.total_connections, 1, 'only the reader is left');
    assert.equal(after.connections_per_task['wide-5'], undefined, 'its subscriptions are gone');
    await reader.ping();
    await reader.close();
  });

  it('closes with 1013 a held-back client that reads nothing for WS_SLOW_CLIENT_STALL_MS', async () => {
    const quick = await startTestApp({
      redisUrl: redis.url,
      backpressureBytes: 256 * 1024,
      // The reader can be held back too while the flood lasts: a stall limit of seconds, so that a
      // busy machine's slow turn cannot make it look like a client that stopped reading.
      slowClientStallMs: 3_000,
      canaryIntervalMs: 0,
    });
    try {
      const stalled = await stalledSubscriber(quick.port, ['stall-1']);
      const reader = await WsTestClient.connect(quick.wsUrl);
      await reader.subscribe('stall-1');

      // ~6.4 MB: past the stalled connection's kernel buffers, so its frames are held back.
      await flood('stall-1', 200, 32 * 1024, 'completed');
      await waitUntil(
        async () => (await getStats(quick.httpUrl)).slow_consumers.closed === 1,
        15_000,
        'the stalled client to be closed',
      );
      const last = await reader.next(
        (m) => m.type === 'status_update' && m.data.status === 'completed',
        15_000,
      );
      assert.ok(last.type === 'status_update' && last.data.seq === 199, 'the reader got it all');
      stalled.socket.on('data', () => undefined);
      stalled.socket.resume();
      await withTimeout(stalled.closed, 10_000, 'the stalled socket to see the close');
      const stats = await getStats(quick.httpUrl);
      assert.equal(stats.total_connections, 1, 'only the reader is left');
      await reader.close();
    } finally {
      await quick.close();
    }
  });
});
