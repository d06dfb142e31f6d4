import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { getJson, getStats, waitForStats, type GatewayStats } from '../support/gateway-stats.js';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil } from '../support/with-timeout.js';
import type { WsTestClient } from '../support/ws-test-client.js';

interface HealthBody {
  status: string;
  redis: string;
  active_connections: number;
}

interface TerminusBody {
  status: string;
  info?: Record<string, { status: string }>;
  error?: Record<string, unknown>;
  details?: Record<string, { status: string }>;
}

const STATS_MAX_TASKS = 5;

describe('HTTP endpoints', () => {
  const fixture = useGateway({
    settings: { statsMaxTasks: STATS_MAX_TASKS, instanceId: 'http-e2e' },
  });
  /** The clients the current test opened, in order. */
  const clients: WsTestClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    // Each test counts connections from zero.
    await waitForStats(fixture.httpUrl, (s) => s.total_connections === 0, 'clients gone');
  });

  async function connect(...taskIds: string[]): Promise<WsTestClient> {
    const client = await fixture.connect();
    clients.push(client);
    for (const taskId of taskIds) await client.subscribe(taskId);
    return client;
  }

  describe('GET /health', () => {
    it('answers 200 healthy, redis connected, with the number of open connections', async () => {
      await Promise.all([connect(), connect(), connect()]);
      const { status, body, headers } = await getJson<HealthBody>(`${fixture.httpUrl}/health`);
      assert.equal(status, 200);
      assert.match(headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(body.status, 'healthy');
      assert.equal(body.redis, 'connected');
      assert.equal(body.active_connections, 3);

      await clients[0].close();
      // The server sees the close a moment after the client does.
      let last: HealthBody | undefined;
      await waitUntil(
        async () => {
          const response = await getJson<HealthBody>(`${fixture.httpUrl}/health`);
          assert.equal(response.status, 200);
          last = response.body;
          return last.active_connections === 2;
        },
        5_000,
        'active_connections to drop to 2',
      );
      assert.equal(last?.status, 'healthy');
      assert.equal(last?.redis, 'connected');
    });

    it('answers /health/live with 200 in the Terminus format', async () => {
      const { status, body } = await getJson<TerminusBody>(`${fixture.httpUrl}/health/live`);
      assert.equal(status, 200);
      assert.equal(body.status, 'ok');
      assert.deepEqual(body.error, {});
    });

    it('answers /health/ready with 200 while subscribed to Redis', async () => {
      const { status, body } = await getJson<TerminusBody>(`${fixture.httpUrl}/health/ready`);
      assert.equal(status, 200);
      assert.equal(body.status, 'ok');
      assert.equal(body.info?.redis?.status, 'up');
      assert.deepEqual(body.error, {});
    });
  });

  describe('GET /ws/stats', () => {
    it('has the documented shape', async () => {
      const client = await connect('shape-1', 'shape-2');
      await client.ping();
      const stats = await getStats(fixture.httpUrl);

      assert.equal(stats.total_connections, 1);
      assert.equal(stats.total_subscriptions, 2);
      assert.equal(stats.tasks_with_subscribers, 2);
      assert.deepEqual(stats.connections_per_task, { 'shape-1': 1, 'shape-2': 1 });
      assert.equal(stats.connections_per_task_truncated, false);
      assert.equal(stats.instance_id, 'http-e2e');
      assert.equal(typeof stats.uptime_seconds, 'number');
      assert.ok(stats.uptime_seconds >= 0);
      for (const key of ['received', 'routed', 'unrouted', 'dropped'] as const) {
        assert.equal(typeof stats.messages[key], 'number', `messages.${key}`);
      }
      assert.deepEqual(Object.keys(stats.messages.dropped_by_reason).sort(), [
        'invalid_json',
        'invalid_task_id',
        'missing_task_id',
        'not_an_object',
        'wrong_channel',
      ]);
      assert.equal(typeof stats.frames_delivered, 'number');
      assert.equal(stats.redis.status, 'connected');
      assert.equal(stats.redis.channel, 'task_status_updates');
    });

    /** Subscriber counts 4, 3, 2, 1, 1, 1, 1 over seven tasks: more than STATS_MAX_TASKS. */
    async function sevenTasks(): Promise<void> {
      await connect('top-a', 'top-b', 'top-c', 'top-d');
      await connect('top-a', 'top-b', 'top-c', 'top-e');
      await connect('top-a', 'top-b', 'top-f');
      await connect('top-a', 'top-g');
    }

    it('lists the top tasks by subscriber count with ?limit=', async () => {
      await sevenTasks();
      const stats = await getStats(fixture.httpUrl, '?limit=2');
      assert.deepEqual(stats.connections_per_task, { 'top-a': 4, 'top-b': 3 });
      assert.equal(stats.connections_per_task_truncated, true);
      assert.equal(stats.connections_per_task_limit, 2);
      // The totals are not truncated.
      assert.equal(stats.tasks_with_subscribers, 7);
      assert.equal(stats.total_subscriptions, 13);
      assert.equal(stats.total_connections, 4);
    });

    it('clamps ?limit= to the configured maximum', async () => {
      await sevenTasks();
      for (const query of ['?limit=50', '']) {
        const stats: GatewayStats = await getStats(fixture.httpUrl, query);
        assert.equal(
          Object.keys(stats.connections_per_task).length,
          STATS_MAX_TASKS,
          `entries for "${query}"`,
        );
        assert.equal(stats.connections_per_task_limit, STATS_MAX_TASKS);
        assert.equal(stats.connections_per_task_truncated, true);
        assert.equal(stats.connections_per_task['top-a'], 4);
        assert.equal(stats.connections_per_task['top-c'], 2);
      }
    });

    it('answers 400 to a ?limit= that is not an integer', async () => {
      for (const query of ['?limit=abc', '?limit=1.5']) {
        const { status } = await getJson(`${fixture.httpUrl}/ws/stats${query}`);
        assert.equal(status, 400, query);
      }
    });
  });
});
