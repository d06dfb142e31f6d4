import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AppProcess, builtAppPath } from '../support/app-process.js';
import { frame } from '../support/raw-websocket.js';
import { SseTestClient } from '../support/sse-test-client.js';
import { freePort, RedisServer } from '../support/redis-server.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { UpgradeRefusedError, WsTestClient } from '../support/ws-test-client.js';

const SHUTDOWN_TIMEOUT_MS = 5_000;
/**
 * How long a test waits for the process, as a guard against hangs only. Whether shutdown kept to
 * SHUTDOWN_TIMEOUT_MS is the app's own verdict: past it, main.ts logs "Shutdown did not finish"
 * and exits 1. The test's clock would also count signal delivery and process teardown, which a
 * loaded machine stretches.
 */
const EXIT_WAIT_MS = 30_000;

/** Exit code 0, without the deadline's message: shutdown finished within its timeout. */
function assertCleanExit(
  exit: { code: number | null; signal: NodeJS.Signals | null },
  output: string,
) {
  assert.deepEqual(exit, { code: 0, signal: null }, output);
  assert.doesNotMatch(output, /Shutdown did not finish/);
}

/**
 * A WebSocket peer that completes the handshake and then never writes again, so it never answers
 * the server's close frame: the server has to wait for it, which holds the shutdown open.
 */
async function connectSilentPeer(port: number): Promise<{
  received: () => Buffer;
  gone: Promise<void>;
  /** Breaks the silence: answers the server's close frame, completing the handshake. */
  answerClose: () => void;
}> {
  const socket: Socket = connect(port, '127.0.0.1');
  await withTimeout(once(socket, 'connect'), 5_000, 'TCP connect');
  socket.write(
    [
      'GET /ws HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n'),
  );
  let buffer = Buffer.alloc(0);
  let headLength = -1;
  const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  const handshake = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = headLength < 0 ? buffer.indexOf('\r\n\r\n') : -1;
      if (end >= 0) {
        headLength = end + 4;
        resolve(buffer.subarray(0, end).toString());
      }
    });
  });
  const head = await withTimeout(handshake, 5_000, 'the upgrade response');
  assert.match(head, /^HTTP\/1\.1 101 /, head);
  const answerClose = () => void socket.write(frame(0x8, Buffer.from([0x03, 0xe9])));
  return { received: () => buffer.subarray(headLength), gone, answerClose };
}

/** The close code of a server close frame (unmasked, payload < 126 bytes) at the start of `frames`. */
function closeCodeOf(frames: Buffer): number | undefined {
  if (frames.length < 4 || frames[0] !== 0x88) return undefined;
  return frames.readUInt16BE(2);
}

describe('the built app as a process (dist/main.js)', () => {
  let redis: RedisServer;
  const apps: AppProcess[] = [];

  before(async () => {
    builtAppPath(); // fails early, with the reason, when the build is missing
    redis = await RedisServer.start();
  });

  after(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await redis?.stop();
  });

  const serve = async (env: Record<string, string> = {}): Promise<AppProcess> => {
    const app = await AppProcess.startServing({
      REDIS_URL: redis.url,
      LOG_FORMAT: 'json',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      ...env,
    });
    apps.push(app);
    return app;
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal} closes every socket with 1001 and a reason, then exits 0 within the shutdown timeout`, async () => {
      const app = await serve();
      const clients = await Promise.all([
        WsTestClient.connect(app.wsUrl),
        WsTestClient.connect(app.wsUrl),
      ]);
      await clients[0].subscribe('lifecycle-1');
      await clients[1].subscribe('lifecycle-2');

      app.signal(signal);
      const closes = await withTimeout(
        Promise.all(clients.map((client) => client.closed)),
        EXIT_WAIT_MS,
        'both clients to be closed',
      );
      for (const { code, reason } of closes) {
        assert.equal(code, 1001);
        assert.ok(reason.length > 0, 'the close frame carries a reason');
      }
      assertCleanExit(await app.waitForExit(EXIT_WAIT_MS), app.output);
    });
  }

  it('refuses new upgrades with 503 once shutdown has begun, and ends new streams at once', async () => {
    // The silent peer holds the shutdown open until it answers the close frame, or for half the
    // timeout: a long timeout, so that the checks below cannot outlast the hold on a busy machine.
    const app = await serve({ SHUTDOWN_TIMEOUT_MS: '120000' });
    const peer = await connectSilentPeer(app.port!);
    app.signal('SIGTERM');

    // Readiness turns 503 at once; from then on upgrades must be refused.
    await waitUntil(
      async () => {
        const response = await fetch(`${app.httpUrl}/health/ready`);
        await response.body?.cancel();
        return response.status === 503;
      },
      EXIT_WAIT_MS,
      'readiness to turn 503',
    );
    await assert.rejects(WsTestClient.connect(app.wsUrl), (error: unknown) => {
      assert.ok(error instanceof UpgradeRefusedError, String(error));
      assert.equal(error.statusCode, 503);
      return true;
    });

    // An event stream is not answered 503 (an EventSource would give up for good): it ends at
    // once with the shutdown comment and a retry advice, so the browser comes back later.
    const stream = await SseTestClient.open(`${app.httpUrl}/tasks/events?task_id=late`);
    await stream.whenEnded();
    stream.close();
    assert.equal(stream.status, 200);
    assert.deepEqual(stream.comments.slice(-1), [' close 1001 Server shutting down']);
    assert.equal(stream.retries.length, 1);
    assert.deepEqual(stream.named('subscribed'), []);

    const stats = (await (await fetch(`${app.httpUrl}/ws/stats`)).json()) as {
      connections_refused: { shutting_down: number };
    };
    assert.equal(stats.connections_refused.shutting_down, 2);

    // The peer was sent 1001; once it answers, the shutdown goes on and ends.
    await waitUntil(() => closeCodeOf(peer.received()) === 1001, EXIT_WAIT_MS, 'the 1001 close');
    peer.answerClose();
    await withTimeout(peer.gone, EXIT_WAIT_MS, 'the server to end the connection');
    assertCleanExit(await app.waitForExit(EXIT_WAIT_MS), app.output);
  });

  it('cuts off a peer that ignores the close handshake, and still exits 0 within the timeout', async () => {
    const app = await serve();
    // Never answers the close frame: the server waits for it for half the timeout, then cuts it.
    const peer = await connectSilentPeer(app.port!);
    app.signal('SIGTERM');

    await withTimeout(peer.gone, EXIT_WAIT_MS, 'the silent peer to be cut off');
    assert.equal(closeCodeOf(peer.received()), 1001);
    assertCleanExit(await app.waitForExit(EXIT_WAIT_MS), app.output);
  });

  it('exits 0 on SIGTERM within the shutdown timeout while Redis is unreachable', async () => {
    const absent = await RedisServer.start();
    await absent.stop(); // a loopback port where nothing answers
    const app = await AppProcess.startServing(
      {
        REDIS_URL: absent.url,
        LOG_FORMAT: 'json',
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      },
      '/health/live',
    );
    apps.push(app);
    assert.equal((await fetch(`${app.httpUrl}/health/ready`)).status, 503);
    const client = await WsTestClient.connect(app.wsUrl);
    await client.ping();

    app.signal('SIGTERM');
    const { code } = await withTimeout(client.closed, EXIT_WAIT_MS, 'the client to be closed');
    assert.equal(code, 1001);
    assertCleanExit(await app.waitForExit(EXIT_WAIT_MS), app.output);
  });

  it('writes JSON lines on stdout with LOG_FORMAT=json', async () => {
    const app = await serve();
    await waitUntil(() => app.stdout.includes('Listening on'), 5_000, 'the listening log line');
    app.signal('SIGTERM');
    await app.waitForExit(EXIT_WAIT_MS);

    const lines = app.stdout.split('\n').filter((line) => line.trim() !== '');
    assert.ok(lines.length >= 2, app.stdout);
    const entries = lines.map((line) => {
      assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
      return JSON.parse(line) as Record<string, unknown>;
    });
    for (const entry of entries) {
      assert.equal(typeof entry.message, 'string');
      assert.equal(typeof entry.level, 'string');
    }
    const listening = entries.find((entry) => String(entry.message).startsWith('Listening on'));
    assert.ok(listening, 'the listening line is among the JSON entries');
    assert.ok(
      entries.some((entry) => String(entry.message).includes('SIGTERM')),
      'the shutdown is logged',
    );
  });

  it('tags the log lines of a WebSocket connection with its id', async () => {
    const app = await serve({ LOG_LEVEL: 'DEBUG' });
    const client = await WsTestClient.connect(app.wsUrl);
    await client.subscribe('logged-task');
    await client.close();
    await waitUntil(() => app.stdout.includes('Connection closed'), 5_000, 'the close log line');
    const entries = app.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const opened = entries.find((entry) => String(entry.message).startsWith('Connection opened'));
    const closed = entries.find((entry) => String(entry.message).startsWith('Connection closed'));
    assert.ok(opened && closed, app.stdout);
    assert.match(String(opened.connection_id), /^[0-9a-f]{12}$/);
    assert.equal(closed.connection_id, opened.connection_id);
    app.signal('SIGTERM');
    assert.equal((await app.waitForExit(EXIT_WAIT_MS)).code, 0);
  });

  describe('configuration errors end the process, naming the variable', () => {
    const cases: Array<{ variable: string; value: string }> = [
      { variable: 'PORT', value: 'abc' },
      { variable: 'LOG_LEVEL', value: 'TRACE' },
      { variable: 'CORS_ORIGINS', value: 'notjson' },
    ];
    for (const { variable, value } of cases) {
      it(`${variable}=${value}`, async () => {
        // A free port, so that a wrongly accepted configuration listens nowhere that matters.
        const app = AppProcess.spawn({
          REDIS_URL: redis.url,
          HOST: '127.0.0.1',
          PORT: String(await freePort()),
          [variable]: value,
        });
        apps.push(app);
        const exit = await app.waitForExit(EXIT_WAIT_MS);
        assert.notEqual(exit.code, 0, app.output);
        assert.notEqual(exit.code, null, `ended by ${exit.signal}, not by itself`);
        assert.match(app.output, new RegExp(`\\b${variable}\\b`));
        assert.doesNotMatch(app.output, /Listening on/);
        // A clear message, not a stack trace.
        assert.doesNotMatch(app.output, /^\s+at /m, app.output);
      });
    }
  });
});
