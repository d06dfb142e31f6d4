import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { setupApiDocs } from '../../src/api-docs/setup-api-docs.js';
import { CHROMIUM_MISSING, launchChromium } from '../support/chromium.js';
import { upgradeRequest } from '../support/raw-websocket.js';
import { useGateway } from '../support/use-gateway.js';
import { withTimeout } from '../support/with-timeout.js';

const HANDSHAKE_TIMEOUT_MS = 400;
/**
 * Cut-offs come between the timeout and 1.25 times it; without limitHandshakeTime they would take
 * Node's defaults, 30 s and more (a 30 s check interval, a 60 s headers timeout, no idle timeout).
 * The bound sits far from both, so a loaded machine's late timers cannot fail a correct server.
 */
const CUT_OFF_BOUND_MS = 5_000;

/** What a raw TCP client got before the server closed the connection, and when. */
interface RawAnswer {
  text: string;
  closedAfterMs: number;
}

/**
 * Opens a TCP connection, lets `act` write to it (or not), and waits (bounded) for the server to
 * close it. Time is counted from before the connect, so never from later than the server's own
 * count: a slow connect cannot make a cut-off look early.
 */
async function rawExchange(
  port: number,
  act: (socket: Socket) => void | Promise<void>,
  timeoutMs = 5_000,
): Promise<RawAnswer> {
  const started = performance.now();
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await withTimeout(
    new Promise<void>((resolve) => socket.once('connect', () => resolve())),
    timeoutMs,
    'TCP connect',
  );
  try {
    await act(socket);
    await withTimeout(closed, timeoutMs, 'the server to close the connection');
  } finally {
    socket.destroy();
  }
  return { text, closedAfterMs: performance.now() - started };
}

/** Error bodies must carry no stack frames, file paths or exception class names. */
function assertNoInternals(body: string): void {
  assert.doesNotMatch(body, /\bat .+\(.*:\d+:\d+\)|node_modules|\/src\/|\.ts:\d+|stack/i, body);
}

describe('HTTP hardening', () => {
  const fixture = useGateway({
    settings: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
    // The application as main.ts builds it, API docs included.
    start: { beforeListen: (app) => setupApiDocs(app) },
  });

  describe('security headers (helmet)', () => {
    for (const path of ['/health', '/ws/stats', '/docs', '/nope']) {
      it(`are sent with ${path}`, async () => {
        const response = await fetch(`${fixture.httpUrl}${path}`);
        await response.body?.cancel();
        const headers = response.headers;
        assert.match(headers.get('content-security-policy') ?? '', /default-src 'self'/);
        assert.doesNotMatch(headers.get('content-security-policy') ?? '', /upgrade-insecure/);
        assert.equal(headers.get('x-content-type-options'), 'nosniff');
        assert.equal(headers.get('x-frame-options'), 'SAMEORIGIN');
        assert.equal(headers.get('referrer-policy'), 'no-referrer');
        assert.match(headers.get('strict-transport-security') ?? '', /max-age=\d+/);
        assert.equal(headers.get('cross-origin-opener-policy'), 'same-origin');
        assert.equal(headers.get('x-powered-by'), null);
      });
    }

    it(
      'leave Swagger UI working at /docs over plain HTTP on a non-local host (Chromium, no CSP violation)',
      {
        skip: CHROMIUM_MISSING,
      },
      async () => {
        const browser = await launchChromium([
          // A name that is not localhost: browsers treat loopback as secure, which would hide a
          // policy that breaks the page for everyone else (upgrade-insecure-requests).
          '--host-resolver-rules=MAP gateway.test 127.0.0.1',
        ]);
        try {
          const page = await browser.newPage();
          const violations: string[] = [];
          page.on('console', (message) => {
            if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
          });
          await page.goto(`http://gateway.test:${fixture.gateway.port}/docs`);
          // Swagger UI renders the document's title once its scripts ran and fetched the document.
          await page.waitForSelector('.swagger-ui .info .title', { timeout: 10_000 });
          const title = await page.textContent('.swagger-ui .info .title');
          assert.match(title ?? '', /Task-status gateway/);
          assert.ok((await page.locator('.opblock').count()) >= 4, 'operations listed');
          assert.deepEqual(violations, []);
        } finally {
          await browser.close();
        }
      },
    );
  });

  describe('error responses carry no stack traces', () => {
    it('404 for an unknown path', async () => {
      const response = await fetch(`${fixture.httpUrl}/no/such/path`);
      const body = await response.text();
      assert.equal(response.status, 404);
      assert.deepEqual(JSON.parse(body), {
        message: 'Cannot GET /no/such/path',
        error: 'Not Found',
        statusCode: 404,
      });
      assertNoInternals(body);
    });

    it('400 for a query parameter that is not an integer', async () => {
      const response = await fetch(`${fixture.httpUrl}/ws/stats?limit=1e400`);
      const body = await response.text();
      assert.equal(response.status, 400);
      assert.deepEqual(Object.keys(JSON.parse(body) as object).sort(), [
        'error',
        'message',
        'statusCode',
      ]);
      assertNoInternals(body);
    });

    it('400 for a malformed JSON body', async () => {
      const response = await fetch(`${fixture.httpUrl}/health`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"unterminated": ',
      });
      const body = await response.text();
      assert.equal(response.status, 400);
      assertNoInternals(body);
    });

    it('400 for a path that is not valid percent-encoding', async () => {
      const response = await fetch(`${fixture.httpUrl}/demo/%E0%A4%A`);
      const body = await response.text();
      assert.ok([400, 404].includes(response.status), `status ${response.status}`);
      assertNoInternals(body);
    });

    it('413 for a body over the parser limit', async () => {
      const response = await fetch(`${fixture.httpUrl}/health`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ padding: 'x'.repeat(200 * 1024) }),
      });
      const body = await response.text();
      assert.equal(response.status, 413);
      assertNoInternals(body);
    });
  });

  describe('bounded requests', () => {
    it('answers 431 to a URL longer than the header limit (16 KiB)', async () => {
      const answer = await rawExchange(fixture.gateway.port, (socket) => {
        socket.write(`GET /ws/stats?limit=${'9'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      });
      assert.match(answer.text, /^HTTP\/1\.1 431 /);
    });

    it('answers 431 to an upgrade request with oversized headers', async () => {
      const answer = await rawExchange(fixture.gateway.port, (socket) => {
        socket.write(
          upgradeRequest(fixture.gateway.port, '/ws', [`X-Padding: ${'a'.repeat(20_000)}`]),
        );
      });
      assert.match(answer.text, /^HTTP\/1\.1 431 /);
    });

    it('clamps ?limit= to STATS_MAX_TASKS and rejects repeated or huge ones', async () => {
      const clamped = await fetch(`${fixture.httpUrl}/ws/stats?limit=99999999999`);
      const stats = (await clamped.json()) as { connections_per_task_limit: number };
      assert.equal(stats.connections_per_task_limit, 1000);
      for (const query of ['?limit=1&limit=2', `?limit=${'9'.repeat(400)}`]) {
        const response = await fetch(`${fixture.httpUrl}/ws/stats${query}`);
        await response.body?.cancel();
        assert.equal(response.status, 400, query);
      }
    });
  });

  describe('handshakes that never finish', () => {
    const bound = CUT_OFF_BOUND_MS;
    const waitMs = 2 * CUT_OFF_BOUND_MS;

    it('cuts off a partial upgrade request that stalls', async () => {
      const answer = await rawExchange(
        fixture.gateway.port,
        (socket) => {
          socket.write(
            `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${fixture.gateway.port}\r\nUpgrade: websocket\r\n`,
          );
        },
        waitMs,
      );
      assert.ok(
        answer.closedAfterMs < bound,
        `closed after ${Math.round(answer.closedAfterMs)} ms`,
      );
      assert.ok(
        answer.closedAfterMs >= HANDSHAKE_TIMEOUT_MS * 0.8,
        `too early: ${answer.closedAfterMs}`,
      );
      // Node answers 408, or the idle-socket timeout closes it without a word, whichever is first.
      assert.ok(answer.text === '' || answer.text.startsWith('HTTP/1.1 408'), answer.text);
    });

    it('cuts off a connection that sends nothing at all', async () => {
      const answer = await rawExchange(fixture.gateway.port, () => undefined, waitMs);
      assert.ok(
        answer.closedAfterMs < bound,
        `closed after ${Math.round(answer.closedAfterMs)} ms`,
      );
      assert.equal(answer.text, '');
    });

    it('cuts off headers trickled one line at a time (slowloris)', async () => {
      // One header line every 50 ms, never the blank line that ends them, for at least twice the
      // bound: a cut-off within the bound came while the lines were still trickling in.
      const maxLines = (2 * CUT_OFF_BOUND_MS) / 50;
      let lines = 0;
      const answer = await rawExchange(
        fixture.gateway.port,
        async (socket) => {
          socket.write('GET /ws HTTP/1.1\r\n');
          while (!socket.destroyed && lines < maxLines) {
            socket.write(`X-Line-${lines}: a\r\n`);
            lines += 1;
            await delay(50);
          }
        },
        waitMs,
      );
      assert.ok(
        answer.closedAfterMs < bound,
        `closed after ${Math.round(answer.closedAfterMs)} ms`,
      );
      assert.ok(lines < maxLines);
    });

    it('leaves open WebSockets alone, however long they are idle', async () => {
      const client = await fixture.connect();
      // Idle for three timeouts: only the handshake is bounded, not the connection.
      await delay(HANDSHAKE_TIMEOUT_MS * 3);
      await client.ping();
      await client.close();
    });

    it('leaves a slow but complete HTTP exchange alone', async () => {
      const response = await fetch(`${fixture.httpUrl}/health/live`);
      assert.equal(response.status, 200);
      await response.body?.cancel();
    });
  });
});
