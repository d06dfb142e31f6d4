import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { getStats, waitForStats, type GatewayStats } from '../support/gateway-stats.js';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { SseTestClient } from '../support/sse-test-client.js';

/**
 * An event stream whose client stops reading once subscribed, as a stalled tab would: its TCP
 * socket is no longer read, so the kernel buffers fill up. `resume()` reads again.
 */
async function stalledStream(port: number, taskIds: string[]) {
  const socket: Socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const query = taskIds.map((taskId) => `task_id=${taskId}`).join('&');
  socket.write(`GET /tasks/events?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  let received = '';
  const onData = (chunk: Buffer) => (received += chunk.toString('latin1'));
  socket.on('data', onData);
  await waitUntil(
    () => received.split('event: subscribed').length - 1 === taskIds.length,
    5_000,
    'the subscribed events',
  );
  socket.off('data', onData);
  socket.pause();
  return socket;
}

/** Every frame offered to a subscriber is delivered, coalesced or dropped: their sum. */
function offered(before: GatewayStats, after: GatewayStats): number {
  const delta = (read: (stats: GatewayStats) => number) => read(after) - read(before);
  return (
    delta((s) => s.frames_delivered) +
    delta((s) => s.slow_consumers.frames_coalesced) +
    delta((s) => s.slow_consumers.frames_dropped)
  );
}

// Both pub/sub modes; the byte bound (about 6 s of 256 KiB updates) runs in channel mode only:
// it is the stream's own limit, and the sharded path is proven by the coalescing test.
for (const pubsubMode of ['channel', 'sharded'] as const) {
  describe(`slow event-stream consumers (${pubsubMode} mode)`, () => {
    const fixture = useGateway({
      settings: {
        pubsubMode,
        partitions: 64,
        backpressureBytes: 256 * 1024,
        slowClientMaxBytes: 1024 * 1024,
        slowClientStallMs: 0,
        // The client reads again after the close: it must not be cut off meanwhile.
        slowClientCloseGraceMs: 10_000,
        maxSubscriptionsPerConnection: 50,
        canaryIntervalMs: 0,
      },
    });

    const sockets: Socket[] = [];
    const readers: SseTestClient[] = [];
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.destroy();
      for (const reader of readers.splice(0)) reader.close();
    });

    async function flood(taskIds: string[], rounds: number, size: number): Promise<number> {
      const pad = 'x'.repeat(size);
      const pipeline = fixture.publisher.pipeline();
      for (let seq = 0; seq < rounds; seq += 1) {
        for (const taskId of taskIds) {
          const message = JSON.stringify({ task_id: taskId, status: 'running', seq, pad });
          fixture.publishIn(pipeline, taskId, message);
        }
      }
      await pipeline.exec();
      return rounds * taskIds.length;
    }

    it('holds back and coalesces a stalled stream per task, counted like a socket', async () => {
      const stalled = await stalledStream(fixture.gateway.port, ['sse-slow']);
      sockets.push(stalled);
      const reader = await SseTestClient.open(`${fixture.httpUrl}/tasks/events?task_id=sse-slow`);
      readers.push(reader);
      await reader.waitForEvents('subscribed', 1);
      const before = await getStats(fixture.httpUrl);

      // ~13 MB: far more than the kernel buffers of the stalled connection take.
      const count = await flood(['sse-slow'], 400, 32 * 1024);
      await reader.waitFor(
        () => reader.updates().some((update) => (update.data as { seq: number }).seq === count - 1),
        'the last update at the reader',
        30_000,
      );
      const seqs = reader.updates().map((update) => (update.data as { seq: number }).seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        'in order, whatever was coalesced',
      );

      const after = await getStats(fixture.httpUrl);
      assert.ok(after.slow_consumers.detected > before.slow_consumers.detected);
      assert.ok(after.slow_consumers.frames_coalesced > before.slow_consumers.frames_coalesced);
      assert.equal(
        after.slow_consumers.closed,
        0,
        'one task coalesces to one event: under the bound',
      );
      assert.equal(after.transports.sse.connections, 2);

      // Once it reads again it catches up, ending on the newest state.
      let tail = '';
      stalled.on(
        'data',
        (chunk: Buffer) => (tail = (tail + chunk.toString('latin1')).slice(-100_000)),
      );
      stalled.resume();
      await waitUntil(() => tail.includes(`"seq":${count - 1},`), 30_000, 'the last update');
      const final = await waitForStats(
        fixture.httpUrl,
        (stats) => offered(before, stats) === 2 * count,
        'every frame accounted for',
        30_000,
      );
      assert.equal(
        final.transports.sse.frames_delivered - before.transports.sse.frames_delivered,
        final.frames_delivered - before.frames_delivered,
      );
    });

    it(
      'ends a stalled stream past WS_SLOW_CLIENT_MAX_BYTES with a retry advice',
      { skip: pubsubMode === 'sharded' && 'channel mode only (the stream’s own bound)' },
      async () => {
        await waitForStats(
          fixture.httpUrl,
          (stats) => stats.total_connections === 0,
          'no connection',
        );
        const taskIds = Array.from({ length: 40 }, (_, index) => `sse-burst-${index}`);
        const stalled = await stalledStream(fixture.gateway.port, taskIds);
        sockets.push(stalled);
        const before = await getStats(fixture.httpUrl);

        // One large event per task, each routed before the next, until the kernel buffers are full,
        // then held back, until buffered plus held pass 1 MiB: nothing is published after the close.
        let published = 0;
        let stats = before;
        for (const taskId of taskIds) {
          published += await flood([taskId], 1, 256 * 1024);
          stats = await waitForStats(
            fixture.httpUrl,
            (current) => current.messages.routed - before.messages.routed === published,
            `${published} updates routed`,
            15_000,
          );
          if (stats.slow_consumers.closed > before.slow_consumers.closed) break;
        }
        assert.equal(stats.slow_consumers.closed - before.slow_consumers.closed, 1, 'closed once');

        // What it had buffered, then the end: `retry:` and the 1013 it stands for.
        let tail = '';
        stalled.on(
          'data',
          (chunk: Buffer) => (tail = (tail + chunk.toString('latin1')).slice(-2_000)),
        );
        stalled.resume();
        await withTimeout(once(stalled, 'end'), 30_000, 'the end of the stream');
        assert.match(tail, /retry: \d+\n: close 1013 Client too slow to keep up\n\n\r\n0\r\n\r\n$/);
        const after = await waitForStats(
          fixture.httpUrl,
          (current) => current.transports.sse.connections === 0,
          'the stream released',
        );
        assert.equal(
          offered(before, after),
          published,
          'each update written, coalesced or dropped',
        );
        assert.ok(after.slow_consumers.frames_dropped > before.slow_consumers.frames_dropped);
      },
    );
  });
}
