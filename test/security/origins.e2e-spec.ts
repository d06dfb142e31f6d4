import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useGateway } from '../support/use-gateway.js';
import { UpgradeRefusedError, WsTestClient } from '../support/ws-test-client.js';

const LISTED = 'http://localhost:3000';
const ALSO_LISTED = 'http://localhost:3001';
const UNLISTED = 'http://evil.example';

interface Stats {
  connections_refused: { limit: number; origin: number; shutting_down: number };
}

async function get(url: string, origin?: string): Promise<Response> {
  const response = await fetch(url, { headers: origin ? { Origin: origin } : {} });
  await response.body?.cancel();
  return response;
}

async function preflight(url: string, origin: string): Promise<Response> {
  const response = await fetch(url, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' },
  });
  await response.body?.cancel();
  return response;
}

/** Proves the upgrade was accepted: the connection answers a ping. */
async function assertUpgradeAccepted(url: string, origin?: string): Promise<void> {
  const client = await WsTestClient.connect(url, origin ? { origin } : {});
  try {
    await client.ping();
  } finally {
    await client.close();
  }
}

describe('CORS_ORIGINS for HTTP and WebSocket upgrades', () => {
  describe('with a list of origins', () => {
    const fixture = useGateway({ settings: { allowedOrigins: [LISTED, ALSO_LISTED] } });

    const refusedForOrigin = async (): Promise<number> => {
      const response = await fetch(`${fixture.httpUrl}/ws/stats`);
      return ((await response.json()) as Stats).connections_refused.origin;
    };

    it('accepts upgrades from each listed origin', async () => {
      await assertUpgradeAccepted(fixture.wsUrl, LISTED);
      await assertUpgradeAccepted(fixture.wsUrl, ALSO_LISTED);
    });

    it('refuses an upgrade from an unlisted origin with HTTP 403, and counts it', async () => {
      const before = await refusedForOrigin();
      await assert.rejects(
        WsTestClient.connect(fixture.wsUrl, { origin: UNLISTED }),
        (error: unknown) => {
          assert.ok(error instanceof UpgradeRefusedError, String(error));
          assert.equal(error.statusCode, 403);
          return true;
        },
      );
      assert.equal((await refusedForOrigin()) - before, 1);
    });

    it('accepts an upgrade without an Origin header (a non-browser client)', async () => {
      await assertUpgradeAccepted(fixture.wsUrl);
    });

    it('sends Access-Control-Allow-Origin for a listed origin only', async () => {
      const allowed = await get(`${fixture.httpUrl}/health`, LISTED);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers.get('access-control-allow-origin'), LISTED);

      const other = await get(`${fixture.httpUrl}/health`, ALSO_LISTED);
      assert.equal(other.headers.get('access-control-allow-origin'), ALSO_LISTED);

      // CORS is the browser's check: the server answers, but without the header.
      const refused = await get(`${fixture.httpUrl}/health`, UNLISTED);
      assert.equal(refused.status, 200);
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
    });

    it('answers a preflight from a listed origin, and not one from an unlisted origin', async () => {
      const allowed = await preflight(`${fixture.httpUrl}/health`, LISTED);
      assert.ok(allowed.status === 204 || allowed.status === 200, `status ${allowed.status}`);
      assert.equal(allowed.headers.get('access-control-allow-origin'), LISTED);
      assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /\bGET\b/);

      const refused = await preflight(`${fixture.httpUrl}/health`, UNLISTED);
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
      assert.equal(refused.headers.get('access-control-allow-methods'), null);
    });
  });

  describe('with an empty list', () => {
    const fixture = useGateway({ settings: { allowedOrigins: [] } });

    it('accepts upgrades from any origin, and from none', async () => {
      await assertUpgradeAccepted(fixture.wsUrl, UNLISTED);
      await assertUpgradeAccepted(fixture.wsUrl, LISTED);
      await assertUpgradeAccepted(fixture.wsUrl);
    });

    it('allows any origin over HTTP, preflight included', async () => {
      const response = await get(`${fixture.httpUrl}/health`, UNLISTED);
      assert.equal(response.status, 200);
      const allowOrigin = response.headers.get('access-control-allow-origin');
      assert.ok(allowOrigin === UNLISTED || allowOrigin === '*', `got ${allowOrigin}`);

      const allowed = await preflight(`${fixture.httpUrl}/health`, UNLISTED);
      const preflightOrigin = allowed.headers.get('access-control-allow-origin');
      assert.ok(preflightOrigin === UNLISTED || preflightOrigin === '*', `got ${preflightOrigin}`);
    });
  });
});
