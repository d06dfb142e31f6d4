import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { AppProcess } from '../support/app-process.js';
import { getStats, waitForStats } from '../support/gateway-stats.js';
import type { HeapProbeReading } from '../support/heap-probe.js';
import { RedisServer } from '../support/redis-server.js';
import { SseTestClient } from '../support/sse-test-client.js';
import { waitUntil } from '../support/with-timeout.js';

/** The default REDIS_CHANNEL. */
const CHANNEL = 'task_status_updates';
const WARM_UP_STREAMS = 50;
const MEASURED_STREAMS = 400;
const BATCH = 50;
/**
 * Heap per idle stream, after a full GC: about 9.3 KB now; 15 KB while a stream kept its head as
 * a tree of string pieces, its header table, Express' routing closures and once wrappers.
 */
const HEAP_PER_STREAM_LIMIT_BYTES = 12_000;

/** Asks the gateway's heap probe (SIGUSR2) for the heap in use after a full GC. */
async function heapOf(app: AppProcess): Promise<HeapProbeReading> {
  const count = (): number => app.stdout.split('HEAP_PROBE ').length - 1;
  const seen = count();
  app.signal('SIGUSR2');
  await waitUntil(() => count() > seen, 5_000, 'the heap probe to answer');
  const line = app.stdout.split('HEAP_PROBE ').at(-1)?.split('\n')[0] ?? '';
  return JSON.parse(line) as HeapProbeReading;
}

/** Opens `count` streams, a task each, a batch at a time, and waits for each one's `subscribed`. */
async function openStreams(
  app: AppProcess,
  prefix: string,
  count: number,
): Promise<SseTestClient[]> {
  const streams: SseTestClient[] = [];
  for (let from = 0; from < count; from += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, count - from) }, (_, index) =>
        SseTestClient.open(`${app.httpUrl}/tasks/events?task_id=${prefix}-${from + index}`),
      ),
    );
    streams.push(...batch);
    await Promise.all(batch.map((stream) => stream.waitForEvents('subscribed', 1)));
  }
  return streams;
}

describe('an idle event stream in the gateway process', () => {
  let redis: RedisServer;
  let publisher: Redis;
  let gateway: AppProcess;
  const streams: SseTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
    const probe = fileURLToPath(new URL('../support/heap-probe.js', import.meta.url));
    gateway = await AppProcess.startServing(
      {
        REDIS_URL: redis.url,
        LOG_LEVEL: 'ERROR',
        WS_MAX_CONNECTIONS: '2000',
        WS_MAX_CONNECTIONS_PER_IP: '0',
        SSE_HEARTBEAT_MS: '250',
      },
      '/health/ready',
      { nodeArgs: ['--expose-gc', '--import', pathToFileURL(probe).href] },
    );
  });

  after(async () => {
    for (const stream of streams) stream.close();
    publisher?.disconnect();
    await gateway?.stop();
    await redis?.stop();
  });

  it('holds a bounded heap, and still beats, delivers and is released on close', async () => {
    // Warm-up: compiled code and lazy state belong to the baseline, not to the streams.
    streams.push(...(await openStreams(gateway, 'warm', WARM_UP_STREAMS)));
    const baseline = await heapOf(gateway);
    const measured = await openStreams(gateway, 'idle', MEASURED_STREAMS);
    streams.push(...measured);
    const heap = await heapOf(gateway);

    assert.ok(heap.gc, 'the gateway runs with --expose-gc');
    const perStream = (heap.heapUsed - baseline.heapUsed) / MEASURED_STREAMS;
    assert.ok(
      perStream < HEAP_PER_STREAM_LIMIT_BYTES,
      `${perStream.toFixed(0)} B of heap per idle stream (limit ${HEAP_PER_STREAM_LIMIT_BYTES})`,
    );

    // What the stream let go of once started is not needed for the rest of its life.
    const idle = measured[7];
    const beats = idle.comments.length;
    await idle.waitFor(() => idle.comments.length > beats, 'a heartbeat on an idle stream');
    await publisher.publish(
      CHANNEL,
      JSON.stringify({ task_id: 'idle-7', status: 'running', progress: 50, version: 2 }),
    );
    const [update] = await idle.waitForEvents('status_update', 1);
    assert.equal(update.id, 'idle-7:v2');
    assert.equal(
      (await getStats(gateway.httpUrl)).transports.sse.connections,
      WARM_UP_STREAMS + MEASURED_STREAMS,
    );

    for (const stream of streams.splice(0)) stream.close();
    await waitForStats(
      gateway.httpUrl,
      (stats) => stats.transports.sse.connections === 0 && stats.total_connections === 0,
      'every stream released',
    );
  });
});
