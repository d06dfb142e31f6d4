import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { AppProcess } from '../support/app-process.js';
import { getStats, waitForStats } from '../support/gateway-stats.js';
import { RedisServer } from '../support/redis-server.js';
import { SseTestClient } from '../support/sse-test-client.js';

/** The default REDIS_CHANNEL. */
const CHANNEL = 'task_status_updates';
const STREAMS = 100;
const BATCH = 50;

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

describe('an event stream that let go of its head, header table and routing state', () => {
  let redis: RedisServer;
  let publisher: Redis;
  let gateway: AppProcess;
  const streams: SseTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
    gateway = await AppProcess.startServing(
      {
        REDIS_URL: redis.url,
        LOG_LEVEL: 'ERROR',
        WS_MAX_CONNECTIONS: '2000',
        WS_MAX_CONNECTIONS_PER_IP: '0',
        SSE_HEARTBEAT_MS: '250',
      },
      '/health/ready',
    );
  });

  after(async () => {
    for (const stream of streams) stream.close();
    publisher?.disconnect();
    await gateway?.stop();
    await redis?.stop();
  });

  it('still beats, delivers and is released on close', async () => {
    // How much it saves is measured in docs/benchmarks.md, not here.
    const measured = await openStreams(gateway, 'idle', STREAMS);
    streams.push(...measured);

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
    assert.equal((await getStats(gateway.httpUrl)).transports.sse.connections, STREAMS);

    for (const stream of streams.splice(0)) stream.close();
    await waitForStats(
      gateway.httpUrl,
      (stats) => stats.transports.sse.connections === 0 && stats.total_connections === 0,
      'every stream released',
    );
  });
});
