import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { after, describe, it } from 'node:test';
import type { ClientOptions } from 'ws';
import { getStats, waitForStats } from '../support/gateway-stats.js';
import { upgradeRequest } from '../support/raw-websocket.js';
import type { TestApp } from '../support/test-app.js';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil } from '../support/with-timeout.js';
import { UpgradeRefusedError, WsTestClient } from '../support/ws-test-client.js';

const PER_IP = 2;

function refusedWith(statusCode: number) {
  return (error: unknown): true => {
    assert.ok(
      error instanceof UpgradeRefusedError,
      `expected a refused upgrade, got ${String(error)}`,
    );
    assert.equal(error.statusCode, statusCode);
    return true;
  };
}

const from = (forwardedFor: string): ClientOptions => ({
  headers: { 'X-Forwarded-For': forwardedFor },
});

describe('WS_MAX_CONNECTIONS_PER_IP', () => {
  // Opened without the fixture: some tests go on with the connections an earlier one opened.
  const clients: WsTestClient[] = [];

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
  });

  const connect = async (app: TestApp, options: ClientOptions = {}): Promise<WsTestClient> => {
    const client = await WsTestClient.connect(app.wsUrl, options);
    clients.push(client);
    return client;
  };

  describe('without TRUST_PROXY (the socket address counts)', () => {
    const fixture = useGateway({ settings: { maxConnectionsPerIp: PER_IP } });

    it('refuses the upgrade past the limit with HTTP 429 and counts it as per_ip', async () => {
      const before = await getStats(fixture.httpUrl);
      const open = [await connect(fixture.gateway), await connect(fixture.gateway)];

      await assert.rejects(WsTestClient.connect(fixture.wsUrl), refusedWith(429));

      for (const client of open) await client.ping();
      const after = await getStats(fixture.httpUrl);
      assert.equal(after.connections_refused.per_ip - before.connections_refused.per_ip, 1);
      assert.equal(after.connections_refused.limit, before.connections_refused.limit);
      const metrics = await (await fetch(`${fixture.httpUrl}/metrics`)).text();
      assert.match(metrics, /connections_refused_total\{reason="per_ip"\} [1-9]/);
    });

    it('ignores X-Forwarded-For, which any client can send', async () => {
      await assert.rejects(
        WsTestClient.connect(fixture.wsUrl, from('198.51.100.77')),
        refusedWith(429),
      );
    });

    it('frees the slot when a connection closes, cleanly or not', async () => {
      const [first, second] = clients.splice(0, 2);
      await first.close();
      second.socket.terminate();
      await waitForStats(fixture.httpUrl, (s) => s.total_connections === 0, 'both closed');

      // The slot is released when the TCP socket closes, which the server may see a moment later.
      let admitted: WsTestClient[] = [];
      await waitUntil(
        async () => {
          const attempts = await Promise.allSettled([
            connect(fixture.gateway),
            connect(fixture.gateway),
          ]);
          admitted = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
          if (admitted.length === PER_IP) return true;
          await Promise.all(admitted.map((client) => client.close()));
          return false;
        },
        5_000,
        'two slots to be free again',
      );
      for (const client of admitted) await client.ping();
      await Promise.all(clients.splice(0).map((client) => client.close()));
    });

    it('releases the slot of an upgrade whose client vanished mid-handshake', async () => {
      await waitForStats(fixture.httpUrl, (s) => s.total_connections === 0, 'no connections');
      // The request is sent and the socket destroyed at once: the server checks the upgrade
      // against a socket that is gone, or is about to be.
      for (let i = 0; i < 10; i += 1) {
        const socket = connectTcp(fixture.gateway.port, '127.0.0.1', () => {
          socket.write(upgradeRequest(fixture.gateway.port));
          socket.destroy();
        });
        socket.on('error', () => undefined);
        await once(socket, 'close');
      }
      await waitUntil(
        async () => {
          try {
            const a = await connect(fixture.gateway);
            const b = await connect(fixture.gateway);
            await a.ping();
            await b.ping();
            return true;
          } catch {
            return false;
          } finally {
            await Promise.all(clients.splice(0).map((client) => client.close()));
          }
        },
        5_000,
        'the slots to be free',
      );
    });
  });

  describe('with TRUST_PROXY=1 (one proxy in front, appending to X-Forwarded-For)', () => {
    after(async () => {
      await Promise.all(clients.splice(0).map((client) => client.close()));
    });

    const fixture = useGateway({ settings: { maxConnectionsPerIp: PER_IP, trustProxy: 1 } });

    it('counts the address the proxy saw, not the proxy', async () => {
      await connect(fixture.gateway, from('198.51.100.1'));
      await connect(fixture.gateway, from('198.51.100.1'));

      await assert.rejects(
        WsTestClient.connect(fixture.wsUrl, from('198.51.100.1')),
        refusedWith(429),
      );
      // Another client behind the same proxy (the same socket address) has slots of its own.
      const other = await connect(fixture.gateway, from('198.51.100.2'));
      await other.ping();
    });

    it('trusts only the entry the proxy appended, not what the client wrote before it', async () => {
      await assert.rejects(
        WsTestClient.connect(fixture.wsUrl, from('203.0.113.9, 198.51.100.1')),
        refusedWith(429),
      );
      const forgedButDistinct = await connect(fixture.gateway, from('198.51.100.1, 198.51.100.3'));
      await forgedButDistinct.ping();
    });

    it('counts the socket address when the proxy sent no X-Forwarded-For', async () => {
      const direct = [await connect(fixture.gateway), await connect(fixture.gateway)];
      for (const client of direct) await client.ping();
      await assert.rejects(WsTestClient.connect(fixture.wsUrl), refusedWith(429));
    });
  });
});
