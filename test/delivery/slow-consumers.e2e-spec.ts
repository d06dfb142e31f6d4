import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { getStats, waitForStats, type GatewayStats } from '../support/gateway-stats.js';
import { startTestApp } from '../support/test-app.js';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

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
  return { socket };
}

/**
 * A `ws` client that subscribes and then stops reading (`pause()`: its TCP socket is no longer
 * read, so the kernel buffers fill up); `resume()` reads again.
 */
async function pausedSubscriber(wsUrl: string, taskIds: string[]): Promise<WsTestClient> {
  const client = await WsTestClient.connect(wsUrl);
  for (const taskId of taskIds) await client.subscribe(taskId);
  client.socket.pause();
  return client;
}

/**
 * Frames between two stats: each one offered to a socket is written (`frames_delivered`),
 * replaced by a newer state while held back (`frames_coalesced`) or dropped with its closed
 * socket (`frames_dropped`), so their sum is what was offered.
 */
function frameCounts(before: GatewayStats, after: GatewayStats) {
  const delta = (read: (stats: GatewayStats) => number) => read(after) - read(before);
  const dropped = delta((s) => s.slow_consumers.frames_dropped);
  return {
    offered:
      delta((s) => s.frames_delivered) + delta((s) => s.slow_consumers.frames_coalesced) + dropped,
    dropped,
  };
}

/** Long enough that a client reading after the close is never cut off on a busy machine. */
const CLOSE_GRACE_MS = 30_000;

// Both pub/sub modes; sharded mode runs the two tests where updates come through the subscriber
// in bulk (coalescing, the byte bound over 20 shard channels). The stall and close-grace limits
// are timers on the socket, the same in both modes, and run in channel mode only.
for (const pubsubMode of ['channel', 'sharded'] as const) {
  describe(`slow consumers (${pubsubMode} mode)`, () => {
    const socketTimersOnly = pubsubMode === 'sharded' && 'channel mode only (socket timers)';
    const fixture = useGateway({
      settings: {
        pubsubMode,
        partitions: 64,
        backpressureBytes: 256 * 1024,
        slowClientMaxBytes: 1024 * 1024,
        canaryIntervalMs: 0,
        maxSubscriptionsPerConnection: 20,
        // These tests stall clients on purpose; the stall limit has its own test below.
        slowClientStallMs: 0,
        slowClientCloseGraceMs: CLOSE_GRACE_MS,
      },
    });

    /** Publishes `count` updates of about `size` bytes for a task, pipelined. */
    async function flood(
      taskId: string,
      count: number,
      size: number,
      final?: string,
      firstSeq = 0,
    ) {
      const pad = 'x'.repeat(size);
      const pipeline = fixture.publisher.pipeline();
      for (let seq = firstSeq; seq < firstSeq + count; seq += 1) {
        const status = seq === firstSeq + count - 1 && final ? final : 'processing';
        fixture.publishIn(pipeline, taskId, JSON.stringify({ task_id: taskId, status, seq, pad }));
      }
      await pipeline.exec();
    }

    it('holds back and coalesces frames for a client that stops reading, without holding up readers', async () => {
      const stalled = await stalledSubscriber(fixture.gateway.port, ['shared']);
      const reader = await fixture.connect();
      await reader.subscribe('shared');
      const before = await getStats(fixture.httpUrl);

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
      const stats = await getStats(fixture.httpUrl);
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
      // Every frame offered to the two sockets was written or coalesced away, and counted once.
      assert.deepEqual(frameCounts(before, await getStats(fixture.httpUrl)), {
        offered: 2 * count,
        dropped: 0,
      });
      stalled.socket.destroy();
      await reader.close();
    });

    it('closes with 1013 a stalled client whose held-back frames pass the bound; the client gets the code and reason once it reads again', async () => {
      const tasks = Array.from({ length: 20 }, (_, i) => `wide-${i}`);
      const stalled = await pausedSubscriber(fixture.wsUrl, tasks);
      const reader = await fixture.connect();
      await reader.subscribe('wide-0');
      const before = await getStats(fixture.httpUrl);
      const routed = async (count: number) =>
        waitForStats(
          fixture.httpUrl,
          (stats) => stats.messages.routed - before.messages.routed === count,
          `${count} updates routed`,
          15_000,
        );

      // One task until the kernel buffers are full and its frames are held back (coalesced to one).
      let published = 0;
      for (let batch = 0; ; batch += 1) {
        await flood('wide-0', 50, 32 * 1024, undefined, published);
        published += 50;
        const stats = await routed(published);
        if (stats.slow_consumers.detected > before.slow_consumers.detected) break;
        assert.ok(batch < 40, `never held back: ${JSON.stringify(stats.slow_consumers)}`);
      }
      const sharedWithReader = published;
      // Then one large frame per other task, each held, until buffered plus held pass the bound.
      // One at a time, each routed before the next: nothing is published after the close.
      let stats = before;
      for (const taskId of tasks.slice(1)) {
        await flood(taskId, 1, 256 * 1024);
        published += 1;
        stats = await routed(published);
        if (stats.slow_consumers.closed > before.slow_consumers.closed) break;
      }
      assert.equal(stats.slow_consumers.closed - before.slow_consumers.closed, 1, 'closed once');

      // The close frame waits behind everything the client has not read; once it reads, it gets it.
      stalled.socket.resume();
      const close = await withTimeout(stalled.closed, 15_000, 'the close at the client');
      assert.deepEqual(close, { code: 1013, reason: 'Client too slow to keep up' });
      await waitForStats(
        fixture.httpUrl,
        (s) => s.total_connections === 1 && s.connections_per_task['wide-5'] === undefined,
        'only the reader left, the subscriptions of the slow client gone',
      );
      // Each update went to the slow client, those of wide-0 to the reader too. The reader has all
      // of them once it has the last (its held frames, if any, were flushed); the slow client's
      // were written, coalesced, or dropped at the close.
      await reader.next(
        (m) => m.type === 'status_update' && m.data.seq === sharedWithReader - 1,
        15_000,
      );
      const counts = frameCounts(before, await getStats(fixture.httpUrl));
      assert.equal(counts.offered, published + sharedWithReader, JSON.stringify(counts));
      assert.ok(counts.dropped >= 1, 'the frames held at the close are dropped, not delivered');
      await reader.ping();
      await reader.close();
    });

    it(
      'closes with 1013 a held-back client that reads nothing for WS_SLOW_CLIENT_STALL_MS; a client that then reads slowly gets the code and reason',
      { skip: socketTimersOnly },
      async () => {
        const quick = await startTestApp({
          redisUrl: fixture.redis.url,
          backpressureBytes: 256 * 1024,
          // The reader can be held back too while the flood lasts: a stall limit of seconds, so that a
          // busy machine's slow turn cannot make it look like a client that stopped reading.
          slowClientStallMs: 3_000,
          slowClientCloseGraceMs: CLOSE_GRACE_MS,
          canaryIntervalMs: 0,
        });
        try {
          const stalled = await pausedSubscriber(quick.wsUrl, ['stall-1']);
          const reader = await WsTestClient.connect(quick.wsUrl);
          await reader.subscribe('stall-1');

          // ~6.4 MB: past the stalled connection's kernel buffers, so its frames are held back.
          await flood('stall-1', 200, 32 * 1024, 'completed');
          await waitForStats(
            quick.httpUrl,
            (stats) => stats.slow_consumers.closed === 1,
            'the stalled client to be closed',
            15_000,
          );
          const last = await reader.next(
            (m) => m.type === 'status_update' && m.data.status === 'completed',
            15_000,
          );
          assert.ok(
            last.type === 'status_update' && last.data.seq === 199,
            'the reader got it all',
          );

          // A congested link: one read, then nothing for a few milliseconds, over and over.
          stalled.socket.on('message', () => stalled.socket.pause());
          const reading = setInterval(() => stalled.socket.resume(), 5);
          try {
            const close = await withTimeout(stalled.closed, 15_000, 'the close at the client');
            assert.deepEqual(close, { code: 1013, reason: 'Client stopped reading' });
          } finally {
            clearInterval(reading);
          }
          await waitForStats(
            quick.httpUrl,
            (s) => s.total_connections === 1,
            'only the reader left',
          );
          await reader.close();
        } finally {
          await quick.close();
        }
      },
    );

    it(
      'cuts off a closed slow client that reads nothing during the close grace (1006 at the client)',
      { skip: socketTimersOnly },
      async () => {
        const quick = await startTestApp({
          redisUrl: fixture.redis.url,
          backpressureBytes: 256 * 1024,
          slowClientStallMs: 300,
          slowClientCloseGraceMs: 200,
          canaryIntervalMs: 0,
        });
        try {
          const stalled = await pausedSubscriber(quick.wsUrl, ['cut-1']);
          const reader = await WsTestClient.connect(quick.wsUrl);
          await reader.subscribe('cut-1');

          await flood('cut-1', 200, 32 * 1024, 'completed');
          await waitForStats(
            quick.httpUrl,
            (stats) => stats.slow_consumers.closed === 1,
            'the stalled client to be closed',
            15_000,
          );
          // It does not read, so it cannot answer the close: the TCP connection is cut after the grace.
          await waitForStats(
            quick.httpUrl,
            (s) => s.total_connections === 1,
            'the slow client cut off',
          );

          // What it had not read yet ends without the close frame, which was still in the process.
          stalled.socket.resume();
          const close = await withTimeout(stalled.closed, 15_000, 'the end at the client');
          assert.equal(close.code, 1006);
          await reader.close();
        } finally {
          await quick.close();
        }
      },
    );
  });
}
