import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { CLOCK } from '../../src/clock/clock.js';
import { ConnectionRegistry } from '../../src/connections/connection-registry.js';
import { EventStreams } from '../../src/sse/event-streams.js';
import { mintToken, TEST_SECRET } from '../support/auth-tokens.js';
import { getStats, waitForStats } from '../support/gateway-stats.js';
import { ManualClock } from '../support/manual-clock.js';
import { SseTestClient } from '../support/sse-test-client.js';
import { CHANNEL, useGateway, type GatewayFixture } from '../support/use-gateway.js';
import { waitUntil } from '../support/with-timeout.js';

/** Streams opened by a test, closed after it whatever happened. */
const opened: SseTestClient[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) client.close();
});

async function stream(
  fixture: GatewayFixture,
  path: string,
  headers: Record<string, string> = {},
): Promise<SseTestClient> {
  const client = await SseTestClient.open(`${fixture.httpUrl}${path}`, headers);
  opened.push(client);
  return client;
}

/** What the documented backend integration does: keep the state, then publish it. */
async function store(
  fixture: GatewayFixture,
  state: Record<string, unknown>,
  { publish = false } = {},
): Promise<void> {
  const json = JSON.stringify(state);
  const transaction = fixture.publisher.multi().set(`task:status:${String(state.task_id)}`, json);
  if (publish) transaction.publish(CHANNEL, json);
  await transaction.exec();
}

describe('Server-Sent Events over raw HTTP', () => {
  const fixture = useGateway({
    settings: { ssePaddingBytes: 64, sseRetryMs: 1000, sseRetryJitterMs: 500 },
  });

  it('opens a proxy-proof stream: headers, padding, and a jittered retry advice', async () => {
    const client = await stream(fixture, '/tasks/events?task_id=sse-head');

    assert.equal(client.status, 200);
    assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(client.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(client.headers['x-accel-buffering'], 'no');
    await client.waitForEvents('subscribed', 1);
    assert.equal(client.comments[0], ' '.repeat(64), 'the padding comes first');
    assert.equal(client.retries.length, 1);
    assert.ok(client.retries[0] >= 1000 && client.retries[0] <= 1500, `retry ${client.retries[0]}`);
  });

  it('sends each task its snapshot first, then its live updates, as the WebSocket JSON', async () => {
    await store(fixture, { task_id: 'sse-a', status: 'running', progress: 10, version: 1 });
    await store(fixture, {
      task_id: 'sse-b',
      status: 'queued',
      updated_at: '2026-12-04T10:00:00.000Z',
    });
    const client = await stream(fixture, '/tasks/events?task_id=sse-a&task_id=sse-b');
    const ws = await fixture.connect();
    await ws.subscribe('sse-a');
    // Both snapshots in first: an update that came while a snapshot was read would replace it.
    await ws.next((message) => message.type === 'status_update');
    await client.waitForEvents('status_update', 2);

    await fixture.publish({ task_id: 'sse-a', status: 'running', progress: 50, version: 2 });
    await fixture.publish({ task_id: 'sse-a', status: 'completed', progress: 100, version: 3 });
    const updates = await client.waitForEvents('status_update', 4);

    assert.deepEqual(
      client.named('subscribed').map((event) => JSON.parse(event.data) as unknown),
      ['sse-a', 'sse-b'].map((task_id) => ({
        type: 'subscribed',
        task_id,
        message: 'Successfully subscribed',
      })),
    );
    const snapshots = updates.slice(0, 2).map((event) => JSON.parse(event.data) as unknown);
    assert.deepEqual(
      new Set(snapshots.map((update) => JSON.stringify(update))),
      new Set([
        JSON.stringify({
          type: 'status_update',
          task_id: 'sse-a',
          data: { status: 'running', progress: 10, version: 1 },
          snapshot: true,
        }),
        JSON.stringify({
          type: 'status_update',
          task_id: 'sse-b',
          data: { status: 'queued', updated_at: '2026-12-04T10:00:00.000Z' },
          snapshot: true,
        }),
      ]),
    );
    assert.deepEqual(
      updates.map((event) => event.id),
      [...updates.slice(0, 2).map((event) => event.id), 'sse-a:v2', 'sse-a:v3'],
    );
    assert.ok(updates.slice(0, 2).some((event) => event.id === 'sse-a:v1'));
    assert.ok(
      updates
        .slice(0, 2)
        .some((event) => event.id === `sse-b:t${Date.parse('2026-12-04T10:00:00.000Z')}`),
    );
    // The very JSON the WebSocket subscriber got (after its own snapshot).
    const wsLive = await ws.take(2);
    assert.deepEqual(
      updates.slice(2).map((event) => JSON.parse(event.data) as unknown),
      wsLive,
    );
  });

  it('serves /tasks/{task_id}/events for one task', async () => {
    await store(fixture, { task_id: 'sse-path:1', status: 'running', version: 4 });
    const client = await stream(fixture, '/tasks/sse-path:1/events');
    const [snapshot] = await client.waitForEvents('status_update', 1);
    assert.equal(snapshot.id, 'sse-path:1:v4');
    assert.equal((JSON.parse(snapshot.data) as { task_id: string }).task_id, 'sse-path:1');
  });

  it('resumes from Last-Event-ID: only a newer stored state, never the one already seen', async () => {
    await store(fixture, { task_id: 'sse-r1', status: 'running', version: 5 });
    await store(fixture, { task_id: 'sse-r2', status: 'running', version: 9 });
    await store(fixture, { task_id: 'sse-r3', status: 'running', version: 2 });

    const client = await stream(
      fixture,
      '/tasks/events?task_id=sse-r1&task_id=sse-r2&task_id=sse-r3',
      {
        // r1 seen at v5 (current), r2 at v7 (older than stored), r3 not named.
        'Last-Event-ID': 'sse-r1:v5,sse-r2:v7',
      },
    );
    await client.waitForEvents('subscribed', 3);
    const updates = await client.waitForEvents('status_update', 2);
    // A live update after the snapshots: had r1's snapshot been sent, it would have come first.
    await fixture.publish({ task_id: 'sse-r1', status: 'running', version: 6 });
    await client.waitForEvents('status_update', 3);

    assert.deepEqual(
      updates
        .slice(0, 2)
        .map((event) => event.id)
        .sort(),
      ['sse-r2:v9', 'sse-r3:v2'],
    );
    assert.equal(client.named('status_update')[2].id, 'sse-r1:v6');
  });

  it('takes ?last_event_id= when there is no header', async () => {
    await store(fixture, { task_id: 'sse-q', status: 'running', version: 3 });
    const client = await stream(fixture, '/tasks/events?task_id=sse-q&last_event_id=sse-q:v3');
    await client.waitForEvents('subscribed', 1);
    await fixture.publish({ task_id: 'sse-q', status: 'done', version: 4 });
    const [first] = await client.waitForEvents('status_update', 1);
    assert.equal(first.id, 'sse-q:v4');
  });

  it('answers 400 with a clear message for a request without a valid task', async () => {
    for (const path of [
      '/tasks/events',
      '/tasks/events?task_id=',
      '/tasks/events?task_id=a%20b',
      `/tasks/events?task_id=${'x'.repeat(129)}`,
      '/tasks/events?task_id=__canary__:x',
    ]) {
      const client = await stream(fixture, path);
      await client.whenEnded();
      assert.equal(client.status, 400, path);
      const body = JSON.parse(client.body) as { statusCode: number; message: string };
      assert.equal(body.statusCode, 400);
      assert.match(body.message, /task/i, path);
    }
  });

  it('counts streams in the stats and metrics under the sse transport', async () => {
    const before = await getStats(fixture.httpUrl);
    const client = await stream(fixture, '/tasks/events?task_id=sse-stats');
    await client.waitForEvents('subscribed', 1);
    await fixture.publish({ task_id: 'sse-stats', status: 'running' });
    await client.waitForEvents('status_update', 1);

    const stats = await getStats(fixture.httpUrl);
    assert.equal(stats.transports.sse.connections, 1);
    assert.equal(stats.total_connections, before.total_connections + 1);
    assert.equal(stats.transports.sse.frames_delivered - before.transports.sse.frames_delivered, 1);
    assert.equal(stats.frames_delivered - before.frames_delivered, 1);
    const metrics = await (await fetch(`${fixture.httpUrl}/metrics`)).text();
    assert.match(metrics, /task_status_gateway_transport_connections\{transport="sse"\} 1\n/);

    client.close();
    await waitForStats(
      fixture.httpUrl,
      (after) => after.transports.sse.connections === 0 && after.total_subscriptions === 0,
      'the stream released',
    );
  });
});

describe('Server-Sent Events limits', () => {
  const fixture = useGateway({
    settings: { maxConnections: 2, maxSubscriptionsPerConnection: 2 },
  });

  it('refuses past the connection limit, counting WebSockets and streams together', async () => {
    const first = await stream(fixture, '/tasks/events?task_id=lim-1');
    await first.waitForEvents('subscribed', 1);
    await fixture.connect();
    const refused = await stream(fixture, '/tasks/events?task_id=lim-2');
    await refused.whenEnded();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal((await getStats(fixture.httpUrl)).connections_refused.limit, 1);
  });

  it('answers tasks past the subscription limit with an error event, as over WebSocket', async () => {
    await waitForStats(fixture.httpUrl, (stats) => stats.total_connections === 0, 'no connection');
    const client = await stream(fixture, '/tasks/events?task_id=s1&task_id=s2&task_id=s3');
    const [error] = await client.waitForEvents('error', 1);
    assert.deepEqual(JSON.parse(error.data), {
      type: 'error',
      code: 'subscription_limit',
      message: 'A connection may hold at most 2 subscriptions; ask for fewer tasks',
      task_id: 's3',
    });
    assert.deepEqual(
      client
        .named('subscribed')
        .map((event) => (JSON.parse(event.data) as { task_id: string }).task_id),
      ['s1', 's2'],
    );
  });
});

describe('Server-Sent Events and the per-address limit', () => {
  const fixture = useGateway({ settings: { maxConnectionsPerIp: 1 } });

  it('shares one count per address with WebSockets, and frees the slot when the stream ends', async () => {
    const first = await stream(fixture, '/tasks/events?task_id=ip-1');
    await first.waitForEvents('subscribed', 1);

    const second = await stream(fixture, '/tasks/events?task_id=ip-2');
    await second.whenEnded();
    assert.equal(second.status, 429);
    assert.equal(second.headers['retry-after'], '5');
    await assert.rejects(fixture.connect(), /429/);

    first.close();
    await waitForStats(fixture.httpUrl, (stats) => stats.transports.sse.connections === 0, 'freed');
    const third = await stream(fixture, '/tasks/events?task_id=ip-3');
    assert.equal(third.status, 200);
    assert.equal((await getStats(fixture.httpUrl)).connections_refused.per_ip, 2);
  });
});

describe('Server-Sent Events under authentication', () => {
  const fixture = useGateway({
    settings: { auth: { jwtSecret: TEST_SECRET }, allowedOrigins: ['http://frontend.example'] },
  });

  it('answers 401 without a token and for an invalid one', async () => {
    const missing = await stream(fixture, '/tasks/events?task_id=auth-1');
    await missing.whenEnded();
    assert.equal(missing.status, 401);
    assert.match(String(missing.headers['www-authenticate']), /^Bearer/);

    const invalid = await stream(fixture, '/tasks/events?task_id=auth-1&token=not.a.jwt');
    await invalid.whenEnded();
    assert.equal(invalid.status, 401);
  });

  it('answers 403 for a forbidden origin', async () => {
    const jwt = await mintToken({ sub: 'alice', tasks: ['*'] });
    const client = await stream(fixture, `/tasks/events?task_id=auth-1&token=${jwt}`, {
      Origin: 'http://evil.example',
    });
    await client.whenEnded();
    assert.equal(client.status, 403);
  });

  it('takes the token from Authorization or ?token=, and reports a forbidden task as an error event', async () => {
    const jwt = await mintToken({ sub: 'alice', tasks: ['mine-*'] });
    for (const [path, headers] of [
      ['/tasks/events?task_id=mine-1&task_id=theirs-1', { Authorization: `Bearer ${jwt}` }],
      [`/tasks/events?task_id=mine-1&task_id=theirs-1&token=${jwt}`, {}],
    ] as const) {
      const client = await stream(fixture, path, { ...headers, Origin: 'http://frontend.example' });
      assert.equal(client.status, 200);
      const [error] = await client.waitForEvents('error', 1);
      const [subscribed] = await client.waitForEvents('subscribed', 1);
      assert.deepEqual(JSON.parse(error.data), {
        type: 'error',
        code: 'forbidden',
        message: 'This token does not allow that task',
        task_id: 'theirs-1',
      });
      assert.equal((JSON.parse(subscribed.data) as { task_id: string }).task_id, 'mine-1');
      await fixture.publish({ task_id: 'theirs-1', status: 'secret' });
      await fixture.publish({ task_id: 'mine-1', status: 'running' });
      const [update] = await client.waitForEvents('status_update', 1);
      assert.equal((JSON.parse(update.data) as { task_id: string }).task_id, 'mine-1');
      assert.equal(client.named('status_update').length, 1);
      client.close();
    }
  });
});

describe('Server-Sent Events heartbeats', () => {
  const clock = new ManualClock();
  const fixture = useGateway({
    settings: { sseHeartbeatMs: 15_000, handshakeTimeoutMs: 200 },
    start: { configure: (builder) => builder.overrideProvider(CLOCK).useValue(clock) },
  });

  it('writes a `:` comment every SSE_HEARTBEAT_MS to an idle stream, and the stream outlives the idle timeout', async () => {
    const client = await stream(fixture, '/tasks/events?task_id=hb-1');
    await client.waitForEvents('subscribed', 1);
    const comments = client.comments.length;

    // The round after the stream sent `subscribed`: not idle, no comment. The heartbeat would
    // be written in the round itself, before the update published after it.
    clock.advance(15_000);
    await fixture.publish({ task_id: 'hb-1', status: 'queued' });
    await client.waitForEvents('status_update', 1);
    assert.equal(client.comments.length, comments);
    // Then a round that saw the update, and two idle ones: a comment each.
    clock.advance(15_000);
    clock.advance(15_000);
    await client.waitFor(() => client.comments.length === comments + 1, 'a heartbeat');
    clock.advance(15_000);
    await client.waitFor(() => client.comments.length === comments + 2, 'a second heartbeat');
    assert.deepEqual(client.comments.slice(comments), ['', '']);

    // Quiet for five times the server's idle timeout (handshakeTimeoutMs): the time is the test.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(client.ended, false);
    await fixture.publish({ task_id: 'hb-1', status: 'running' });
    await client.waitForEvents('status_update', 2);
  });
});

describe('Server-Sent Events when the token expires', () => {
  const clock = new ManualClock();
  const fixture = useGateway({
    settings: { auth: { jwtSecret: TEST_SECRET } },
    start: { configure: (builder) => builder.overrideProvider(CLOCK).useValue(clock) },
  });

  it('ends the stream at the token exp, naming 4001, and releases its subscriptions', async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 60;
    const jwt = await mintToken({ sub: 'alice', tasks: ['*'] }, { expiresAt });
    const client = await stream(fixture, `/tasks/events?task_id=exp-1&token=${jwt}`);
    await client.waitForEvents('subscribed', 1);

    // To just past exp and the 5 s clock tolerance (the clock started when this file loaded).
    clock.advance((expiresAt + 5) * 1000 - clock.now() + 1);
    await client.whenEnded();
    assert.deepEqual(client.comments.slice(-1), [' close 4001 Token expired']);
    // /ws/stats needs an operator's credentials here: read the providers instead.
    const registry = fixture.gateway.app.get(ConnectionRegistry);
    const streams = fixture.gateway.app.get(EventStreams);
    await waitUntil(
      () => streams.size === 0 && registry.subscriptionCount === 0,
      5_000,
      'the stream released',
    );
  });
});
