import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisServer } from './support/redis-server.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { waitUntil, withTimeout } from './support/with-timeout.js';
import { WsTestClient } from './support/ws-test-client.js';

const CHANNEL = 'task_status_updates';
const HEARTBEAT_INTERVAL_MS = 200;

interface Stats {
  total_connections: number;
  total_subscriptions: number;
  connections_per_task: Record<string, number>;
  heartbeat_terminations: number;
}

/** Resolves when the socket has received `count` protocol pings. */
function pingsReceived(client: WsTestClient, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onPing = (): void => {
      seen += 1;
      if (seen < count) return;
      client.socket.off('ping', onPing);
      resolve();
    };
    client.socket.on('ping', onPing);
  });
}

describe('protocol-level heartbeat', () => {
  let redis: RedisServer;
  let publisher: Redis;
  let gateway: TestApp;
  const clients: WsTestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
    gateway = await startTestApp({
      redisUrl: redis.url,
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await gateway?.close();
    publisher?.disconnect();
    await redis?.stop();
  });

  const stats = async (): Promise<Stats> => {
    const response = await fetch(`${gateway.httpUrl}/ws/stats`);
    return (await response.json()) as Stats;
  };

  it('terminates a connection that does not answer pings and frees its subscriptions, keeping a healthy one', async () => {
    const before = await stats();
    const healthy = await WsTestClient.connect(gateway.wsUrl);
    // ws answers pings itself unless told not to: this one plays a dead peer.
    const silent = await WsTestClient.connect(gateway.wsUrl, { autoPong: false });
    clients.push(healthy, silent);
    const silentPinged = pingsReceived(silent, 1);
    const healthyPinged = pingsReceived(healthy, 5);
    await healthy.subscribe('hb-shared');
    await silent.subscribe('hb-shared');
    await silent.subscribe('hb-silent-only');
    const subscribed = await stats();
    assert.equal(subscribed.connections_per_task['hb-shared'], 2);
    assert.equal(subscribed.connections_per_task['hb-silent-only'], 1);

    await withTimeout(silentPinged, 5_000, 'a ping to the silent client');
    const { code } = await withTimeout(silent.closed, 5_000, 'the silent client to be dropped');
    assert.equal(code, 1006, 'terminated, without a close handshake');

    await waitUntil(
      async () => (await stats()).total_connections === before.total_connections + 1,
      5_000,
      'the server to forget the dropped connection',
    );
    const afterDrop = await stats();
    assert.equal(afterDrop.connections_per_task['hb-shared'], 1);
    assert.equal(afterDrop.connections_per_task['hb-silent-only'], undefined);
    assert.equal(afterDrop.total_subscriptions, before.total_subscriptions + 1);
    assert.ok(
      afterDrop.heartbeat_terminations > before.heartbeat_terminations,
      'the termination is counted',
    );

    // Five pings answered is four intervals survived (at least 800 ms), more than the silent one lasted.
    await withTimeout(healthyPinged, 5_000, 'five pings to the healthy client');
    assert.equal(healthy.socket.readyState, healthy.socket.OPEN);
    await healthy.ping();
    await publisher.publish(CHANNEL, JSON.stringify({ task_id: 'hb-shared', status: 'alive' }));
    const update = await healthy.next((m) => m.type === 'status_update');
    assert.deepEqual(update, {
      type: 'status_update',
      task_id: 'hb-shared',
      data: { status: 'alive' },
    });
    assert.equal((await stats()).heartbeat_terminations, afterDrop.heartbeat_terminations);
  });
});
