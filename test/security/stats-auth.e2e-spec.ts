import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mintToken, TEST_SECRET } from '../support/auth-tokens.js';
import { useGateway } from '../support/use-gateway.js';
import { WsTestClient } from '../support/ws-test-client.js';

const STATS_TOKEN = 'operators-only-stats-token';
const PROTECTED = ['/ws/stats', '/metrics'];
const OPEN = ['/health', '/health/live', '/health/ready'];

async function get(url: string, token?: string): Promise<Response> {
  const response = await fetch(url, {
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5_000),
  });
  await response.body?.cancel();
  return response;
}

describe('/ws/stats and /metrics behind credentials, /health open', () => {
  describe('with JWT authentication and STATS_TOKEN', () => {
    const fixture = useGateway({
      settings: {
        auth: {
          jwtSecret: TEST_SECRET,
          statsToken: STATS_TOKEN,
          adminClaim: 'roles=gateway-admin',
        },
      },
    });

    for (const path of PROTECTED) {
      it(`GET ${path}: 401 without credentials or with wrong ones`, async () => {
        const none = await get(`${fixture.httpUrl}${path}`);
        assert.equal(none.status, 401);
        assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="task-status"');
        assert.equal((await get(`${fixture.httpUrl}${path}`, 'not-the-stats-token')).status, 401);
        const expired = await mintToken({ roles: ['gateway-admin'] }, { expiresInSeconds: -60 });
        assert.equal((await get(`${fixture.httpUrl}${path}`, expired)).status, 401);
      });

      it(`GET ${path}: 200 with STATS_TOKEN`, async () => {
        assert.equal((await get(`${fixture.httpUrl}${path}`, STATS_TOKEN)).status, 200);
      });

      it(`GET ${path}: 200 with a JWT carrying the admin claim, 403 with one without`, async () => {
        const admin = await mintToken({ sub: 'ops', roles: ['viewer', 'gateway-admin'] });
        assert.equal((await get(`${fixture.httpUrl}${path}`, admin)).status, 200);
        const user = await mintToken({ sub: 'alice', roles: ['viewer'], tasks: ['*'] });
        assert.equal((await get(`${fixture.httpUrl}${path}`, user)).status, 403);
      });
    }

    for (const path of OPEN) {
      it(`GET ${path}: 200 without credentials (probes)`, async () => {
        assert.equal((await get(`${fixture.httpUrl}${path}`)).status, 200);
      });
    }

    it('does not let a STATS_TOKEN open a WebSocket', async () => {
      await assert.rejects(
        WsTestClient.connect(fixture.wsUrl, {
          headers: { Authorization: `Bearer ${STATS_TOKEN}` },
        }),
        /HTTP 401/,
      );
    });
  });

  describe('with STATS_TOKEN alone (no JWT authentication)', () => {
    const fixture = useGateway({ settings: { auth: { statsToken: STATS_TOKEN } } });

    it('protects the operator endpoints and leaves WebSockets open to all', async () => {
      for (const path of PROTECTED) {
        assert.equal((await get(`${fixture.httpUrl}${path}`)).status, 401, path);
        assert.equal((await get(`${fixture.httpUrl}${path}`, STATS_TOKEN)).status, 200, path);
      }
      const client = await fixture.connect();
      await client.subscribe('task-1');
      await client.close();
    });
  });

  describe('with neither configured', () => {
    const fixture = useGateway();

    it('serves every endpoint without credentials, as before', async () => {
      for (const path of [...PROTECTED, ...OPEN]) {
        assert.equal((await get(`${fixture.httpUrl}${path}`)).status, 200, path);
      }
    });
  });
});
