import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil } from '../support/with-timeout.js';
import { UpgradeRefusedError, WsTestClient } from '../support/ws-test-client.js';

const MAX_CONNECTIONS = 3;

interface Stats {
  total_connections: number;
  connections_refused: { limit: number; origin: number; shutting_down: number };
  limits: { max_connections: number };
}

function assertRefusedWith(statusCode: number) {
  return (error: unknown): true => {
    assert.ok(
      error instanceof UpgradeRefusedError,
      `expected a refused upgrade, got ${String(error)}`,
    );
    assert.equal(error.statusCode, statusCode);
    return true;
  };
}

describe('WS_MAX_CONNECTIONS', () => {
  const fixture = useGateway({ settings: { maxConnections: MAX_CONNECTIONS } });
  /** The clients the current test opened, for closeAll(). */
  const clients: WsTestClient[] = [];

  const stats = async (): Promise<Stats> => {
    const response = await fetch(`${fixture.httpUrl}/ws/stats`);
    assert.equal(response.status, 200);
    return (await response.json()) as Stats;
  };

  const connect = async (): Promise<WsTestClient> => {
    const client = await fixture.connect();
    clients.push(client);
    return client;
  };

  /** Closes the clients and waits until the server has seen them go. */
  const closeAll = async (): Promise<void> => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await waitUntil(async () => (await stats()).total_connections === 0, 5_000, 'no connections');
  };

  it('refuses the upgrade past the limit with HTTP 503, keeps the open ones, and frees a slot on close', async () => {
    const before = await stats();
    assert.equal(before.limits.max_connections, MAX_CONNECTIONS);
    const open = [await connect(), await connect(), await connect()];

    await assert.rejects(WsTestClient.connect(fixture.wsUrl), assertRefusedWith(503));
    for (const client of open) await client.ping();
    assert.equal((await stats()).total_connections, MAX_CONNECTIONS);

    await open[0].close();
    // The server sees the close asynchronously; the slot is free once the count says so.
    await waitUntil(
      async () => (await stats()).total_connections === MAX_CONNECTIONS - 1,
      5_000,
      'the server to see the close',
    );
    const admitted = await connect();
    await admitted.ping();
    await open[1].ping();
    await open[2].ping();

    const after = await stats();
    assert.equal(after.total_connections, MAX_CONNECTIONS);
    assert.equal(after.connections_refused.limit - before.connections_refused.limit, 1);
    assert.equal(after.connections_refused.origin, before.connections_refused.origin);
    await closeAll();
  });

  it('admits exactly the limit out of a concurrent burst of 10', async () => {
    const before = await stats();
    assert.equal(before.total_connections, 0);
    const attempts = await Promise.allSettled(Array.from({ length: 10 }, () => connect()));
    const opened = attempts.flatMap((attempt) =>
      attempt.status === 'fulfilled' ? [attempt.value] : [],
    );
    const refused = attempts.flatMap((attempt) =>
      attempt.status === 'rejected' ? [attempt.reason as unknown] : [],
    );

    assert.equal(opened.length, MAX_CONNECTIONS);
    assert.equal(refused.length, 10 - MAX_CONNECTIONS);
    for (const error of refused) assertRefusedWith(503)(error);
    for (const client of opened) await client.ping();

    const after = await stats();
    assert.equal(after.total_connections, MAX_CONNECTIONS);
    assert.equal(after.connections_refused.limit - before.connections_refused.limit, 7);
    await closeAll();
  });
});
