import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { WebSocket } from 'ws';
import { CLOCK } from '../../src/clock/clock.js';
import { CloseCode, type ServerMessage } from '@task-status/client/protocol';
import {
  attemptUpgrade,
  JwksServer,
  mintToken,
  TEST_SECRET,
  unsignedToken,
} from '../support/auth-tokens.js';
import { getJson, type GatewayStats } from '../support/gateway-stats.js';
import { ManualClock } from '../support/manual-clock.js';
import { RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { useGateway } from '../support/use-gateway.js';
import { withTimeout } from '../support/with-timeout.js';
import { UpgradeRefusedError, WsTestClient } from '../support/ws-test-client.js';

const STATS_TOKEN = 'stats-token-for-the-auth-e2e';
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'task-status';
const AUTH = {
  jwtSecret: TEST_SECRET,
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ['HS256'],
  clockToleranceSeconds: 0,
  statsToken: STATS_TOKEN,
};

const isUpdate = (taskId: string) => (m: ServerMessage) =>
  m.type === 'status_update' && m.task_id === taskId;

function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { Authorization: `Bearer ${token}` } };
}

/** A token as this suite's gateway expects it: right issuer, audience and secret. */
function token(claims: Record<string, unknown>, expiresInSeconds: number | null = 300) {
  return mintToken(claims, { issuer: ISSUER, audience: AUDIENCE, expiresInSeconds });
}

function tokenExpiringAt(claims: Record<string, unknown>, expiresAt: number) {
  return mintToken(claims, { issuer: ISSUER, audience: AUDIENCE, expiresAt });
}

async function stats(
  gateway: TestApp,
): Promise<GatewayStats & { connections_refused: { auth: number } }> {
  const { status, body } = await getJson<GatewayStats & { connections_refused: { auth: number } }>(
    `${gateway.httpUrl}/ws/stats`,
  );
  assert.equal(status, 200);
  return body;
}

describe('JWT authentication and per-task authorization', () => {
  const fixture = useGateway({ settings: { auth: AUTH } });

  const getStats = async () => {
    const response = await fetch(`${fixture.httpUrl}/ws/stats`, bearer(STATS_TOKEN));
    assert.equal(response.status, 200);
    return (await response.json()) as GatewayStats & { connections_refused: { auth: number } };
  };

  async function connectAs(
    claims: Record<string, unknown>,
    expiresAt?: number,
    app = fixture.gateway,
  ) {
    const jwt =
      expiresAt === undefined ? await token(claims) : await tokenExpiringAt(claims, expiresAt);
    return fixture.connect(bearer(jwt), app.wsUrl);
  }

  describe('where the token comes from', () => {
    it('accepts it from the Authorization: Bearer header', async () => {
      const client = await connectAs({ sub: 'alice', tasks: ['task-h'] });
      await client.subscribe('task-h');
    });

    it('accepts it from the token query parameter', async () => {
      const jwt = await token({ sub: 'alice', tasks: ['task-q'] });
      const client = await fixture.connect({}, `${fixture.wsUrl}?token=${encodeURIComponent(jwt)}`);
      await client.subscribe('task-q');
    });

    it('accepts it as a bearer.<jwt> subprotocol and echoes task-status.v1, never the token', async () => {
      const jwt = await token({ sub: 'alice', tasks: ['task-p'] });
      const socket = new WebSocket(fixture.wsUrl, ['task-status.v1', `bearer.${jwt}`]);
      const upgraded = once(socket, 'upgrade') as Promise<[{ headers: Record<string, string> }]>;
      const opened = once(socket, 'open');
      const [response] = await withTimeout(upgraded, 5_000, 'upgrade');
      await withTimeout(opened, 5_000, 'open');
      assert.equal(response.headers['sec-websocket-protocol'], 'task-status.v1');
      assert.equal(socket.protocol, 'task-status.v1');
      socket.send(JSON.stringify({ type: 'subscribe', task_id: 'task-p' }));
      const [answer] = (await withTimeout(once(socket, 'message'), 5_000, 'answer')) as [Buffer];
      assert.equal((JSON.parse(answer.toString()) as ServerMessage).type, 'subscribed');
      socket.close();
      await withTimeout(once(socket, 'close'), 5_000, 'close');
    });

    it('echoes no subprotocol when only the token was offered', async () => {
      const jwt = await token({ sub: 'alice' });
      const answer = await attemptUpgrade(fixture.wsUrl, {
        'Sec-WebSocket-Protocol': `bearer.${jwt}`,
      });
      assert.equal(answer.status, 101);
      assert.equal(answer.headers['sec-websocket-protocol'], undefined);
    });
  });

  describe('refused at the upgrade with HTTP 401, before any WebSocket opens', () => {
    const authorization = async (jwt: Promise<string> | string) => ({
      Authorization: `Bearer ${await jwt}`,
    });
    const otherSecret = new TextEncoder().encode('another-secret-of-more-than-32-bytes-long');
    const cases: Array<{
      what: string;
      headers: () => Promise<Record<string, string>>;
      query?: string;
      body: string;
    }> = [
      { what: 'no token', headers: () => Promise.resolve({}), body: 'Missing token' },
      {
        what: 'an empty Bearer',
        headers: () => Promise.resolve({ Authorization: 'Bearer ' }),
        body: 'Missing token',
      },
      {
        what: 'a malformed token',
        headers: () => authorization('not.a.jwt'),
        body: 'Invalid token',
      },
      {
        what: 'a malformed token in the query string',
        headers: () => Promise.resolve({}),
        query: '?token=garbage',
        body: 'Invalid token',
      },
      {
        what: 'an expired token',
        headers: () => authorization(token({ sub: 'a', tasks: ['*'] }, -10)),
        body: 'Token expired',
      },
      {
        what: 'a token signed with another secret',
        headers: () =>
          authorization(
            mintToken({ sub: 'a' }, { key: otherSecret, issuer: ISSUER, audience: AUDIENCE }),
          ),
        body: 'Invalid token',
      },
      {
        what: 'a token of another issuer',
        headers: () =>
          authorization(
            mintToken({ sub: 'a' }, { issuer: 'https://evil.test', audience: AUDIENCE }),
          ),
        body: 'Invalid token',
      },
      {
        what: 'a token for another audience',
        headers: () =>
          authorization(mintToken({ sub: 'a' }, { issuer: ISSUER, audience: 'other' })),
        body: 'Invalid token',
      },
      {
        what: 'an alg "none" token',
        headers: () =>
          authorization(unsignedToken({ sub: 'a', iss: ISSUER, aud: AUDIENCE, tasks: ['*'] })),
        body: 'Invalid token',
      },
      {
        what: 'an algorithm outside the allow-list (HS384 with the right secret)',
        headers: () =>
          authorization(
            mintToken({ sub: 'a' }, { alg: 'HS384', issuer: ISSUER, audience: AUDIENCE }),
          ),
        body: 'Invalid token',
      },
    ];

    for (const { what, headers, query = '', body } of cases) {
      it(`refuses ${what}`, async () => {
        const before = (await getStats()).connections_refused.auth;
        const answer = await attemptUpgrade(`${fixture.wsUrl}${query}`, await headers());
        assert.equal(answer.status, 401);
        assert.equal(answer.body, body);
        assert.match(String(answer.headers['www-authenticate']), /^Bearer realm="task-status"/);
        assert.equal(answer.headers['sec-websocket-accept'], undefined);
        assert.equal((await getStats()).connections_refused.auth - before, 1);
      });
    }

    it('refuses through a real client too, and counts the refusal in /metrics', async () => {
      await assert.rejects(WsTestClient.connect(fixture.wsUrl), (error: unknown) => {
        assert.ok(error instanceof UpgradeRefusedError, String(error));
        assert.equal(error.statusCode, 401);
        return true;
      });
      const metrics = await fetch(`${fixture.httpUrl}/metrics`, bearer(STATS_TOKEN));
      assert.match(
        await metrics.text(),
        /^task_status_gateway_connections_refused_total\{reason="auth"\} [1-9]\d*$/m,
      );
    });
  });

  describe('per-task authorization', () => {
    it('matches exact ids and prefix patterns from the tasks claim', async () => {
      const client = await connectAs({ sub: 'alice', tasks: ['exact-1', 'org-42:*'] });
      await client.subscribe('exact-1');
      await client.subscribe('org-42:job-7');
      for (const denied of ['exact-10', 'org-420', 'org-43:job-7']) {
        client.send({ type: 'subscribe', task_id: denied });
        assert.deepEqual(await client.next(), {
          type: 'error',
          code: 'forbidden',
          message: 'This token does not allow that task',
          task_id: denied,
        });
      }
      const everything = await connectAs({ sub: 'ops', tasks: ['*'] });
      await everything.subscribe('anything-at-all');
      const nothing = await connectAs({ sub: 'nobody' });
      nothing.send({ type: 'subscribe', task_id: 'exact-1' });
      assert.equal((await nothing.next()).type, 'error');
    });

    it('keeps a denied connection open and never lets an update or snapshot of the task reach it', async () => {
      await fixture.publisher.set(
        'task:status:secret-1',
        JSON.stringify({ task_id: 'secret-1', status: 'stored' }),
      );
      await fixture.publisher.set(
        'task:status:mine-1',
        JSON.stringify({ task_id: 'mine-1', status: 'stored' }),
      );
      const client = await connectAs({ sub: 'alice', tasks: ['mine-*'] });

      client.send({ type: 'subscribe', task_id: 'secret-1' });
      assert.deepEqual(await client.next(), {
        type: 'error',
        code: 'forbidden',
        message: 'This token does not allow that task',
        task_id: 'secret-1',
      });
      await client.ping();
      // A snapshot read of secret-1 would have been answered before this one (one connection).
      await client.subscribe('mine-1');
      await client.next(isUpdate('mine-1'));
      const stored = await getStats();
      assert.equal(stored.connections_per_task['secret-1'], undefined);
      assert.equal(stored.connections_per_task['mine-1'], 1);

      // Published in this order on one channel: had secret-1 been routed here, it would come first.
      await fixture.publish({ task_id: 'secret-1', status: 'live' });
      await fixture.publish({ task_id: 'mine-1', status: 'live' });
      await client.next((m) => isUpdate('mine-1')(m) && !('snapshot' in m));
      assert.deepEqual(client.updates('secret-1'), []);
    });
  });

  describe('token lifetime', () => {
    // Expiry is timed by this clock, which moves only when a test moves it. Tokens are valid for
    // minutes of real time (jose checks them against it at the upgrade), so a loaded machine
    // cannot let one expire before the test is connected, and no test waits for exp.
    let clock: ManualClock;
    let timed: TestApp;

    before(async () => {
      clock = new ManualClock();
      timed = await startTestApp(
        { redisUrl: fixture.redis.url, auth: AUTH },
        { configure: (builder) => builder.overrideProvider(CLOCK).useValue(clock) },
      );
    });

    after(async () => {
      await timed?.close();
    });

    /** Moves the gateway's clock to `ms` since the epoch. */
    const moveClockTo = (ms: number) => clock.advance(ms - clock.now());

    it('closes a connection whose token expires with 4001 "Token expired", not before exp', async () => {
      const expiresAt = Math.floor(clock.now() / 1000) + 300;
      const client = await connectAs({ sub: 'alice', tasks: ['t-exp'] }, expiresAt, timed);
      await client.subscribe('t-exp');

      moveClockTo(expiresAt * 1000 - 1);
      await client.ping();
      moveClockTo(expiresAt * 1000);
      const closed = await withTimeout(client.closed, 5_000, 'the expiry close');
      assert.deepEqual(closed, { code: CloseCode.TOKEN_EXPIRED, reason: 'Token expired' });
    });

    it('replaces the token on {"type":"auth"}, re-arming the expiry timer', async () => {
      const firstExp = Math.floor(clock.now() / 1000) + 300;
      const client = await connectAs({ sub: 'alice', tasks: ['t-ref'] }, firstExp, timed);
      const secondExp = firstExp + 300;
      const fresh = await tokenExpiringAt({ sub: 'alice', tasks: ['t-ref'] }, secondExp);

      client.send({ type: 'auth', token: fresh });
      assert.deepEqual(await client.next(), {
        type: 'authenticated',
        expires_at: new Date(secondExp * 1000).toISOString(),
      });
      await client.subscribe('t-ref');
      // The first token's expiry passes without closing it...
      moveClockTo(firstExp * 1000);
      await client.ping();
      moveClockTo(secondExp * 1000 - 1);
      await client.ping();
      // ...the new one's does.
      moveClockTo(secondExp * 1000);
      const closed = await withTimeout(client.closed, 5_000, 'the expiry close of the new token');
      assert.equal(closed.code, CloseCode.TOKEN_EXPIRED);
    });

    it('answers an invalid refresh with unauthorized and keeps the previous token', async () => {
      const client = await connectAs({ sub: 'alice', tasks: ['t-keep'] });
      client.send({ type: 'auth', token: await token({ sub: 'alice', tasks: ['*'] }, -10) });
      assert.deepEqual(await client.next(), {
        type: 'error',
        code: 'unauthorized',
        message: 'Token rejected: expired; the previous token stays in effect',
      });
      client.send({ type: 'auth', token: 'garbage' });
      assert.equal((await client.next()).type, 'error');
      client.send({ type: 'auth' });
      assert.deepEqual(await client.next(), {
        type: 'error',
        code: 'invalid_message',
        message: 'token must be a non-empty string',
        field: 'token',
      });
      await client.subscribe('t-keep');
      client.send({ type: 'subscribe', task_id: 'other' });
      assert.equal((await client.next()).type, 'error');
    });

    it('drops the subscriptions a refreshed token no longer allows', async () => {
      const client = await connectAs({ sub: 'alice', tasks: ['keep-1', 'drop-1'] });
      await client.subscribe('keep-1');
      await client.subscribe('drop-1');
      client.send({ type: 'auth', token: await token({ sub: 'alice', tasks: ['keep-1'] }) });
      const [revoked, authenticated] = await client.take(2);
      assert.deepEqual(revoked, {
        type: 'error',
        code: 'forbidden',
        message: 'The new token does not allow this task; unsubscribed',
        task_id: 'drop-1',
      });
      assert.equal(authenticated.type, 'authenticated');

      await fixture.publish({ task_id: 'drop-1', status: 'late' });
      await fixture.publish({ task_id: 'keep-1', status: 'late' });
      await client.next(isUpdate('keep-1'));
      assert.deepEqual(client.updates('drop-1'), []);
    });
  });
});

describe('the connection limit with asynchronous token verification', () => {
  const fixture = useGateway({
    settings: { maxConnections: 3, auth: { jwtSecret: TEST_SECRET } },
  });

  it('admits exactly the limit out of a concurrent burst of 10 authenticated upgrades', async () => {
    const jwt = await mintToken({ sub: 'alice', tasks: ['*'] });
    const attempts = await Promise.allSettled(
      Array.from({ length: 10 }, () => WsTestClient.connect(fixture.wsUrl, bearer(jwt))),
    );
    const opened = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    try {
      assert.equal(opened.length, 3);
      for (const attempt of attempts) {
        if (attempt.status === 'rejected') {
          assert.ok(attempt.reason instanceof UpgradeRefusedError, String(attempt.reason));
          assert.equal(attempt.reason.statusCode, 503);
        }
      }
      for (const client of opened) await client.ping();
    } finally {
      await Promise.all(opened.map((client) => client.close()));
    }
  });
});

describe('JWT authentication against a remote JWKS', () => {
  let redis: RedisServer;
  let jwks: JwksServer;
  let gateway: TestApp;
  let first: { privateKey: CryptoKey; jwk: JWK };
  let second: { privateKey: CryptoKey; jwk: JWK };

  async function esKey(kid: string) {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
  }

  before(async () => {
    redis = await RedisServer.start();
    first = await esKey('key-1');
    second = await esKey('key-2');
    jwks = await JwksServer.start({ keys: [first.jwk] });
    gateway = await startTestApp({
      redisUrl: redis.url,
      auth: { jwksUrl: jwks.url, algorithms: ['ES256'], jwksCooldownMs: 0 },
    });
  });

  after(async () => {
    await gateway?.close();
    await jwks?.stop();
    await redis?.stop();
  });

  const signed = (key: { privateKey: CryptoKey }, kid: string) =>
    mintToken({ sub: 'alice', tasks: ['*'] }, { key: key.privateKey, alg: 'ES256', kid });

  it('verifies with the fetched key set, and caches it', async () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const client = await WsTestClient.connect(
        gateway.wsUrl,
        bearer(await signed(first, 'key-1')),
      );
      await client.subscribe('task-1');
      await client.close();
    }
    assert.equal(jwks.fetches, 1);
  });

  it('fetches the set again for an unknown kid (key rotation)', async () => {
    jwks.keys = { keys: [first.jwk, second.jwk] };
    const client = await WsTestClient.connect(gateway.wsUrl, bearer(await signed(second, 'key-2')));
    await client.subscribe('task-1');
    await client.close();
    assert.equal(jwks.fetches, 2);
  });

  it('refuses a kid the set does not hold even after a refetch, and a key of the wrong type', async () => {
    const stranger = await esKey('key-3');
    const unknownKid = await attemptUpgrade(gateway.wsUrl, {
      Authorization: `Bearer ${await signed(stranger, 'key-3')}`,
    });
    assert.equal(unknownKid.status, 401);
    const hmac = await attemptUpgrade(gateway.wsUrl, {
      Authorization: `Bearer ${await mintToken({ sub: 'a' })}`,
    });
    assert.equal(hmac.status, 401);
  });

  it('answers 503 when the key set cannot be fetched for a token it does not know', async () => {
    await jwks.stop();
    const stranger = await esKey('key-4');
    const answer = await attemptUpgrade(gateway.wsUrl, {
      Authorization: `Bearer ${await signed(stranger, 'key-4')}`,
    });
    assert.equal(answer.status, 503);
    assert.equal(answer.body, 'Authentication unavailable');
  });
});

describe('JWT authentication with a PEM public key', () => {
  let redis: RedisServer;
  let gateway: TestApp;
  let privateKey: CryptoKey;

  before(async () => {
    redis = await RedisServer.start();
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    gateway = await startTestApp({
      redisUrl: redis.url,
      auth: { jwtPublicKey: await exportSPKI(pair.publicKey) },
    });
  });

  after(async () => {
    await gateway?.close();
    await redis?.stop();
  });

  it('accepts RS256 tokens of the key and refuses an HS256 token signed with the PEM text', async () => {
    const client = await WsTestClient.connect(
      gateway.wsUrl,
      bearer(await mintToken({ tasks: ['t1'] }, { key: privateKey, alg: 'RS256' })),
    );
    await client.subscribe('t1');
    await client.close();
    // The classic key-confusion attack: the public key used as an HMAC secret.
    const pem = await exportSPKI((await generateKeyPair('RS256', { extractable: true })).publicKey);
    const confused = await mintToken({ tasks: ['*'] }, { key: new TextEncoder().encode(pem) });
    assert.equal(
      (await attemptUpgrade(gateway.wsUrl, { Authorization: `Bearer ${confused}` })).status,
      401,
    );
  });
});

describe('without authentication configured', () => {
  const fixture = useGateway();

  it('admits upgrades without a token, ignores one, and refuses auth messages', async () => {
    const client = await fixture.connect(bearer('whatever'));
    await client.subscribe('task-1');
    client.send({ type: 'auth', token: 'whatever' });
    assert.deepEqual(await client.next(), {
      type: 'error',
      code: 'invalid_message',
      message: 'Authentication is not enabled on this server',
    });
    await client.close();
    assert.equal((await stats(fixture.gateway)).connections_refused.auth, 0);
  });
});
