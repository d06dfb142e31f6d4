import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { METRIC_PREFIX } from '../../src/metrics/gateway-metrics.js';
import { startTestApp } from '../support/test-app.js';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil } from '../support/with-timeout.js';
import { UpgradeRefusedError, WsTestClient } from '../support/ws-test-client.js';

const CHANNEL = 'task_status_updates';
const ALLOWED_ORIGIN = 'http://allowed.example';
const MAX_CONNECTIONS = 3;

interface Scrape {
  status: number;
  contentType: string;
  text: string;
}

async function scrape(httpUrl: string): Promise<Scrape> {
  const response = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}

/** One sample of the exposition text; `series` is the name without prefix, labels included. */
function sample(text: string, series: string): number {
  const name = `${METRIC_PREFIX}${series}`;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  assert.ok(line, `no sample ${name} in:\n${text}`);
  return Number(line.slice(name.length + 1));
}

async function metricsOf(httpUrl: string): Promise<string> {
  const { status, text } = await scrape(httpUrl);
  assert.equal(status, 200);
  return text;
}

describe('GET /metrics', () => {
  // Opened without the fixture: later tests count the connections earlier ones left open.
  const clients: WsTestClient[] = [];

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
  });

  const fixture = useGateway({
    settings: { maxConnections: MAX_CONNECTIONS, allowedOrigins: [ALLOWED_ORIGIN] },
  });

  it('answers in the Prometheus text format, with the default process metrics', async () => {
    const { status, contentType, text } = await scrape(fixture.httpUrl);
    assert.equal(status, 200);
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(text, /^# TYPE process_cpu_user_seconds_total counter$/m);
    assert.match(text, /^# TYPE nodejs_heap_size_used_bytes gauge$/m);
    assert.match(text, /^# TYPE task_status_gateway_delivery_duration_seconds histogram$/m);
    assert.equal(sample(text, 'redis_subscriber_up'), 1);
    assert.equal(sample(text, 'accepting_connections'), 1);
  });

  it('counts connections, subscriptions, messages, drops and deliveries', async () => {
    const before = await metricsOf(fixture.httpUrl);
    const first = await WsTestClient.connect(fixture.wsUrl);
    const second = await WsTestClient.connect(fixture.wsUrl);
    clients.push(first, second);
    await first.subscribe('metrics-a');
    await first.subscribe('metrics-b');
    await second.subscribe('metrics-a');

    await fixture.publisher.publish(CHANNEL, 'not json');
    await fixture.publisher.publish(CHANNEL, '{"status":"processing"}');
    await fixture.publisher.publish(CHANNEL, '{"task_id":"nobody-watches","status":"processing"}');
    await fixture.publisher.publish(
      CHANNEL,
      '{"task_id":"metrics-a","status":"processing","progress":40}',
    );
    // The channel is read in order: once both clients have the last update, all four were handled.
    const isUpdate = (m: { type: string }) => m.type === 'status_update';
    await Promise.all([first.next(isUpdate), second.next(isUpdate)]);

    const text = await metricsOf(fixture.httpUrl);
    const delta = (series: string): number => sample(text, series) - sample(before, series);
    assert.equal(sample(text, 'connections'), 2);
    assert.equal(sample(text, 'subscriptions'), 3);
    assert.equal(sample(text, 'tasks_with_subscribers'), 2);
    assert.ok(delta('redis_messages_received_total') >= 4);
    assert.equal(delta('redis_messages_dropped_total{reason="invalid_json"}'), 1);
    assert.equal(delta('redis_messages_dropped_total{reason="missing_task_id"}'), 1);
    assert.equal(delta('redis_messages_dropped_total{reason="not_an_object"}'), 0);
    assert.equal(delta('redis_messages_routed_total'), 1);
    assert.ok(delta('redis_messages_unrouted_total') >= 1);
    assert.equal(delta('frames_delivered_total'), 2);
    // Both clients read: nothing held back, so nothing coalesced or dropped.
    assert.equal(delta('frames_coalesced_total'), 0);
    assert.equal(delta('frames_dropped_total'), 0);
    assert.equal(delta('delivery_duration_seconds_count'), 1);
    assert.equal(delta('delivery_duration_seconds_bucket{le="+Inf"}'), 1);
    assert.ok(delta('delivery_duration_seconds_sum') > 0);
  });

  it('counts refused upgrades by reason', async () => {
    const before = await metricsOf(fixture.httpUrl);
    await assert.rejects(
      WsTestClient.connect(fixture.wsUrl, { origin: 'http://elsewhere.example' }),
      (error: unknown) => error instanceof UpgradeRefusedError && error.statusCode === 403,
    );
    while (clients.length < MAX_CONNECTIONS) {
      clients.push(await WsTestClient.connect(fixture.wsUrl, { origin: ALLOWED_ORIGIN }));
    }
    await assert.rejects(
      WsTestClient.connect(fixture.wsUrl),
      (error: unknown) => error instanceof UpgradeRefusedError && error.statusCode === 503,
    );

    const text = await metricsOf(fixture.httpUrl);
    const delta = (series: string): number => sample(text, series) - sample(before, series);
    assert.equal(delta('connections_refused_total{reason="origin"}'), 1);
    assert.equal(delta('connections_refused_total{reason="limit"}'), 1);
    assert.equal(delta('connections_refused_total{reason="shutting_down"}'), 0);
    assert.equal(sample(text, 'connections'), MAX_CONNECTIONS);
  });

  it('keeps a registry per application and answers 404 where metrics are off', async () => {
    const other = await startTestApp({ redisUrl: fixture.redis.url });
    const off = await startTestApp({ redisUrl: fixture.redis.url, metrics: false });
    try {
      assert.equal(sample(await metricsOf(other.httpUrl), 'connections'), 0);
      assert.equal(sample(await metricsOf(fixture.httpUrl), 'connections'), MAX_CONNECTIONS);
      const { status } = await scrape(off.httpUrl);
      assert.equal(status, 404);
    } finally {
      await other.close();
      await off.close();
    }
  });

  it('reports the Redis subscriber down while Redis is away', async () => {
    await fixture.redis.kill();
    try {
      await waitUntil(
        async () => sample(await metricsOf(fixture.httpUrl), 'redis_subscriber_up') === 0,
        5_000,
        'redis_subscriber_up to turn 0',
      );
    } finally {
      await fixture.redis.restart();
    }
    await fixture.gateway.subscribed();
    assert.equal(sample(await metricsOf(fixture.httpUrl), 'redis_subscriber_up'), 1);
    assert.ok(sample(await metricsOf(fixture.httpUrl), 'redis_resubscriptions_total') >= 1);
  });
});
