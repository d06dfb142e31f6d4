import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const CHANNEL = 'task_status_updates';
// The subscriber's reconnect backoff is capped at 5 s; this leaves room for two attempts.
const RECOVERY_TIMEOUT_MS = 12_000;

interface HealthBody {
  status: string;
  redis: string;
  active_connections: number;
}

async function getStatus(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

async function getHealth(gateway: TestApp): Promise<{ status: number; body: HealthBody }> {
  const response = await fetch(`${gateway.httpUrl}/health`);
  return { status: response.status, body: (await response.json()) as HealthBody };
}

/** A publisher that, like a backend worker, survives Redis going away and comes back with it. */
function createPublisher(redis: RedisServer): Redis {
  const publisher = new Redis(redis.url, { retryStrategy: () => 100 });
  publisher.on('error', () => undefined);
  return publisher;
}

describe('Redis outages', () => {
  const redisServers: RedisServer[] = [];
  const gateways: TestApp[] = [];
  const publishers: Redis[] = [];
  const clients: WsTestClient[] = [];

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(gateways.map((gateway) => gateway.close()));
    for (const publisher of publishers) publisher.disconnect();
    await Promise.all(redisServers.map((server) => server.stop()));
  });

  const startRedis = async (): Promise<RedisServer> => {
    const server = await RedisServer.start();
    redisServers.push(server);
    return server;
  };

  const connect = async (gateway: TestApp): Promise<WsTestClient> => {
    const client = await WsTestClient.connect(gateway.wsUrl);
    clients.push(client);
    return client;
  };

  it('survives Redis being killed and restarted: health follows, clients stay, delivery resumes', async () => {
    const redis = await startRedis();
    const gateway = await startTestApp({ redisUrl: redis.url });
    gateways.push(gateway);
    const publisher = createPublisher(redis);
    publishers.push(publisher);

    const client = await connect(gateway);
    const socket = client.socket;
    let closeEvents = 0;
    socket.on('close', () => (closeEvents += 1));
    await client.subscribe('outage-task');
    await publisher.publish(CHANNEL, JSON.stringify({ task_id: 'outage-task', status: 'before' }));
    await client.next((m) => m.type === 'status_update' && m.data.status === 'before');

    await redis.kill();

    await waitUntil(
      async () => (await getStatus(`${gateway.httpUrl}/health`)) === 503,
      5_000,
      '/health to turn 503',
    );
    const down = await getHealth(gateway);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'unhealthy');
    assert.equal(down.body.redis, 'disconnected');
    assert.equal(down.body.active_connections, 1);
    assert.equal(await getStatus(`${gateway.httpUrl}/health/ready`), 503);
    assert.equal(await getStatus(`${gateway.httpUrl}/health/live`), 200);
    // The WebSocket side keeps serving during the outage.
    await client.ping();
    await client.subscribe('outage-task-2');

    await redis.restart();
    await waitUntil(
      async () => (await getStatus(`${gateway.httpUrl}/health`)) === 200,
      RECOVERY_TIMEOUT_MS,
      '/health to return to 200',
    );
    const up = await getHealth(gateway);
    assert.equal(up.body.status, 'healthy');
    assert.equal(up.body.redis, 'connected');
    assert.equal(await getStatus(`${gateway.httpUrl}/health/ready`), 200);

    await publisher.publish(CHANNEL, JSON.stringify({ task_id: 'outage-task', status: 'after' }));
    await publisher.publish(CHANNEL, JSON.stringify({ task_id: 'outage-task-2', status: 'new' }));
    const update = await client.next(
      (m) => m.type === 'status_update' && m.task_id === 'outage-task',
      RECOVERY_TIMEOUT_MS,
    );
    assert.deepEqual(update, {
      type: 'status_update',
      task_id: 'outage-task',
      data: { status: 'after' },
    });
    await client.next((m) => m.type === 'status_update' && m.task_id === 'outage-task-2');
    // The same connection, never closed in between: the client did not have to reconnect.
    assert.equal(client.socket, socket);
    assert.equal(socket.readyState, socket.OPEN);
    assert.equal(closeEvents, 0);
    assert.equal(client.updates('outage-task').length, 2);
  });

  it('starts while Redis is unreachable, serves WebSockets, and subscribes once Redis appears', async () => {
    const redis = await startRedis();
    await redis.stop(); // its port is now known and nothing listens on it
    const gateway = await startTestApp({ redisUrl: redis.url }, { waitForRedis: false });
    gateways.push(gateway);

    const client = await connect(gateway);
    await client.ping();
    await client.subscribe('late-redis-task');
    const down = await getHealth(gateway);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'unhealthy');
    assert.equal(down.body.redis, 'disconnected');
    assert.equal(await getStatus(`${gateway.httpUrl}/health/ready`), 503);
    assert.equal(await getStatus(`${gateway.httpUrl}/health/live`), 200);

    await redis.restart();
    await gateway.subscribed();
    assert.equal((await getHealth(gateway)).status, 200);

    const publisher = createPublisher(redis);
    publishers.push(publisher);
    const receivers = await publisher.publish(
      CHANNEL,
      JSON.stringify({ task_id: 'late-redis-task', status: 'delivered', progress: 100 }),
    );
    assert.equal(receivers, 1, 'the gateway is the one subscriber of the channel');
    assert.deepEqual(await client.next((m) => m.type === 'status_update'), {
      type: 'status_update',
      task_id: 'late-redis-task',
      data: { status: 'delivered', progress: 100 },
    });
  });
});
