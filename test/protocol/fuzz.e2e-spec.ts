import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import type { ErrorCode, ServerMessage } from '@task-status/client/protocol';
import { AppProcess } from '../support/app-process.js';
import {
  classifyRedisPayload,
  fuzzMessage,
  maliciousRedisMessage,
  type FuzzCategory,
  type RedisClass,
} from '../support/fuzz-inputs.js';
import { getStats, waitForStats } from '../support/gateway-stats.js';
import type { HeapProbeReading } from '../support/heap-probe.js';
import { frame, RawWebSocket, upgradeRequest } from '../support/raw-websocket.js';
import { RedisServer } from '../support/redis-server.js';
import { SeededRandom } from '../support/seeded-random.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

/**
 * Random and mutated input at a built gateway (`node dist/main.js` in a child process, with
 * --expose-gc and a heap probe) over real WebSockets and through Redis, bounded in frames and
 * time. Each worker's input follows from the seed; replay a failure with FUZZ_SEED=<seed>.
 * FUZZ_FRAMES (default 100,000) sets the WebSocket frame budget.
 */
const SEED = Number(process.env.FUZZ_SEED ?? (Date.now() ^ (process.pid << 12)) >>> 0);
const FRAME_BUDGET = Number(process.env.FUZZ_FRAMES ?? 100_000);
const REDIS_MESSAGES = Math.max(200, Math.round(FRAME_BUDGET / 10));
const WORKERS = 6;
/** Workers that also flood one connection past its rate once. */
const FLOODERS = 2;
const INSTANCE_ID = 'fuzz';
const MAX_MESSAGE_BYTES = 4096;
const RATE_PER_SECOND = 10_000;
const RATE_BURST = 1_000;
const RATE_MAX_VIOLATIONS = 10;
const FLOOD = 5_000;
const HANDSHAKE_TIMEOUT_MS = 1_000;
/**
 * A stalled handshake is cut off between the timeout and 1.25 times it, Node's defaults would
 * take a minute; the bound leaves a gateway busy with the fuzz load seconds of room between them.
 */
const HANDSHAKE_CUT_OFF_BOUND_MS = 5_000;
const GOOD_TASKS = ['good-0', 'good-1', 'good-2', 'good-3'];
/** Every third Redis message is a good update for the well-behaved client. */
const GOOD_EVERY = 3;
/** Heap in use after the run and a full GC may exceed the baseline by at most this much. */
const HEAP_GROWTH_LIMIT_BYTES = 8 * 1024 * 1024;

const ERROR_CODES = {
  invalid_json: true,
  invalid_message: true,
  unknown_type: true,
  subscription_limit: true,
  unsupported_frame: true,
  internal_error: true,
  rate_limited: true,
  unauthorized: true,
  forbidden: true,
} satisfies Record<ErrorCode, true>;
const SERVER_TYPES = new Set<string>([
  'subscribed',
  'unsubscribed',
  'pong',
  'status_update',
  'error',
  'authenticated',
]);

/** What the gateway answered, over the whole run. */
class Tally {
  readonly sent = new Map<string, number>();
  readonly answers = new Map<string, number>();
  readonly closes = new Map<string, number>();
  readonly problems: string[] = [];
  frames = 0;
  messages = 0;
  updates = 0;
  connections = 0;

  add(map: Map<string, number>, key: string, count = 1): void {
    map.set(key, (map.get(key) ?? 0) + count);
  }

  problem(text: string): void {
    if (this.problems.length < 20) this.problems.push(text);
  }
}

/** The frame budget the workers share; resolves waiters as it is used up. */
class Budget {
  private used = 0;
  private finished = false;
  private waiters: Array<{ fraction: number; wake: () => void }> = [];

  constructor(readonly total: number) {}

  get exhausted(): boolean {
    return this.used >= this.total;
  }

  use(frames: number): void {
    this.used += frames;
    this.wakeUp();
  }

  finish(): void {
    this.finished = true;
    this.wakeUp();
  }

  /** Resolves once `fraction` of the budget is used (or the workers are done). */
  whenUsed(fraction: number): Promise<void> {
    return new Promise((wake) => {
      this.waiters.push({ fraction, wake });
      this.wakeUp();
    });
  }

  private wakeUp(): void {
    this.waiters = this.waiters.filter(({ fraction, wake }) => {
      if (!this.finished && this.used < fraction * this.total) return true;
      wake();
      return false;
    });
  }
}

interface CloseInfo {
  code: number;
  reason: string;
}

/** One fuzzing connection: counts the answers to what it sent, checks each one's shape. */
class FuzzConnection {
  sent = 0;
  answers = 0;
  rateLimited = 0;
  closeInfo: CloseInfo | undefined;
  readonly closed: Promise<CloseInfo>;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly socket: WebSocket,
    private readonly tally: Tally,
  ) {
    socket.on('error', () => undefined);
    socket.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        tally.add(tally.closes, String(code));
        resolve(this.closeInfo);
        this.wake();
      }),
    );
  }

  static async open(url: string, tally: Tally): Promise<FuzzConnection> {
    const socket = new WebSocket(url);
    const connection = new FuzzConnection(socket, tally);
    await withTimeout(
      Promise.race([
        once(socket, 'open'),
        connection.closed.then((info) => {
          throw new Error(`closed (${info.code}) before opening`);
        }),
      ]),
      5_000,
      'a fuzz connection to open',
    );
    tally.connections += 1;
    return connection;
  }

  get open(): boolean {
    return this.closeInfo === undefined && this.socket.readyState === WebSocket.OPEN;
  }

  /** Waits until everything sent is answered, or the connection is gone. */
  async settled(ms = 10_000): Promise<void> {
    const done = (): boolean => this.answers >= this.sent || this.closeInfo !== undefined;
    if (done()) return;
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!done()) return;
          this.waiters = this.waiters.filter((waiter) => waiter !== check);
          resolve();
        };
        this.waiters.push(check);
      }),
      ms,
      `answers (${this.answers}/${this.sent})`,
    );
  }

  private receive(data: Buffer, isBinary: boolean): void {
    const tally = this.tally;
    if (isBinary) {
      tally.problem('the server sent a binary frame');
      return;
    }
    let message: ServerMessage;
    try {
      message = JSON.parse(data.toString()) as ServerMessage;
    } catch {
      tally.problem(`an answer that is not JSON: ${data.toString().slice(0, 80)}`);
      return;
    }
    if (typeof message !== 'object' || message === null || !SERVER_TYPES.has(message.type)) {
      tally.problem(`an unknown answer: ${data.toString().slice(0, 80)}`);
      return;
    }
    if (message.type === 'status_update') {
      tally.updates += 1;
      return;
    }
    this.answers += 1;
    if (message.type === 'error') {
      if (!(message.code in ERROR_CODES)) tally.problem(`unknown error code ${message.code}`);
      if (message.code === 'rate_limited') this.rateLimited += 1;
      tally.add(tally.answers, `error:${message.code}`);
    } else {
      tally.add(tally.answers, message.type);
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Resolves on 'close'. Not events.once, which rejects on the 'error' that often comes first. */
function whenClosed(emitter: {
  once(event: 'close', listener: () => void): unknown;
}): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

function sendFrame(
  socket: WebSocket,
  data: string | Buffer,
  options: { binary: boolean; fin: boolean },
): void {
  socket.send(data, { binary: options.binary, fin: options.fin, compress: false });
}

/** One worker: a connection at a time, random messages, answers checked at every fence. */
async function runWorker(id: number, url: string, budget: Budget, tally: Tally): Promise<void> {
  const random = new SeededRandom((SEED + id * 7_919) >>> 0);
  const floodAfter = random.int(0, Math.floor(budget.total / WORKERS / 2));
  let flooded = id >= FLOODERS;
  let usedHere = 0;
  let connection: FuzzConnection | undefined;
  let lifeLeft = 0;
  let lastCategory = 'none';
  while (!budget.exhausted) {
    if (!connection?.open) {
      // Only fatal messages, floods and our own closes end a connection; they reset it here.
      if (connection?.closeInfo) {
        tally.problem(`closed with ${connection.closeInfo.code} after a ${lastCategory} message`);
      }
      connection = await FuzzConnection.open(url, tally);
      lifeLeft = random.int(20, 400);
    }
    if (!flooded && usedHere >= floodAfter) {
      flooded = true;
      await flood(connection, tally);
      budget.use(FLOOD);
      connection = undefined;
      continue;
    }
    const message = fuzzMessage(random, MAX_MESSAGE_BYTES);
    lastCategory = message.category;
    tally.add(tally.sent, message.category);
    for (const part of message.frames) {
      if (part.pingBefore) connection.socket.ping();
      sendFrame(connection.socket, part.data, part);
    }
    budget.use(message.frames.length);
    usedHere += message.frames.length;
    tally.frames += message.frames.length;
    tally.messages += 1;
    if (message.fatal) {
      await expectFatalClose(connection, message.category, tally);
      connection = undefined;
      continue;
    }
    connection.sent += 1;
    lifeLeft -= 1;
    if (connection.sent % 50 === 0 || lifeLeft <= 0) {
      await connection.settled();
      if (connection.open && connection.answers !== connection.sent) {
        tally.problem(`answers ${connection.answers} for ${connection.sent} messages`);
      }
    }
    if (lifeLeft <= 0 && connection.open) {
      if (random.chance(0.7)) {
        connection.socket.close(1000);
        await withTimeout(connection.closed, 5_000, 'a clean close');
      } else {
        connection.socket.terminate();
      }
      connection = undefined;
    }
  }
  if (connection?.open) {
    await connection.settled();
    connection.socket.close(1000);
    await withTimeout(connection.closed, 5_000, 'the last close');
  }
}

/** 1007 for invalid UTF-8, 1009 for an oversized message: answered before, nothing after. */
async function expectFatalClose(
  connection: FuzzConnection,
  category: FuzzCategory,
  tally: Tally,
): Promise<void> {
  const close = await withTimeout(connection.closed, 5_000, `the close after ${category}`);
  const expected = category === 'invalid_utf8' ? 1007 : 1009;
  if (close.code !== expected)
    tally.problem(`${category} closed with ${close.code}, not ${expected}`);
  if (connection.answers > connection.sent) tally.problem('more answers than messages');
}

/** Past its burst and then its violations, a flooding connection is closed with 1008. */
async function flood(connection: FuzzConnection, tally: Tally): Promise<void> {
  for (let i = 0; i < FLOOD; i += 1) connection.socket.send('{"type":"ping"}');
  tally.frames += FLOOD;
  tally.messages += FLOOD;
  tally.add(tally.sent, 'flood');
  const close = await withTimeout(connection.closed, 10_000, 'the 1008 after a flood');
  if (close.code !== 1008) tally.problem(`a flood closed with ${close.code}`);
  if (connection.rateLimited !== RATE_MAX_VIOLATIONS) {
    tally.problem(`a flood got ${connection.rateLimited} rate_limited answers`);
  }
}

/**
 * Connect/disconnect bursts until the workers are done: WebSockets dropped at every stage of
 * the handshake, raw TCP upgrades abandoned, and malformed upgrade requests.
 */
async function churn(
  port: number,
  url: string,
  budget: Budget,
  tally: Tally,
): Promise<{ bursts: number; sockets: number; badUpgrades: Map<string, number> }> {
  const random = new SeededRandom((SEED ^ 0xc0ffee) >>> 0);
  const badUpgrades = new Map<string, number>();
  let bursts = 0;
  let sockets = 0;
  // Refused ones only: a version 8, HTTP/1.0 or Host-less upgrade is valid and gets its 101.
  const badRequests = [
    ['wrong path', upgradeRequest(port, '/wsx')],
    ['percent junk in the path', upgradeRequest(port, '/ws%zz')],
    ['version 12', upgradeRequest(port).replace('Version: 13', 'Version: 12')],
    ['no key', upgradeRequest(port).replace(/Sec-WebSocket-Key: \S+\r\n/, '')],
    ['bad key', upgradeRequest(port).replace(/Sec-WebSocket-Key: \S+/, 'Sec-WebSocket-Key: x')],
    ['garbage host', upgradeRequest(port).replace(/Host: \S+/, 'Host: a b[')],
    ['POST upgrade', upgradeRequest(port).replace('GET', 'POST')],
    ['Upgrade: h2c', upgradeRequest(port).replace('Upgrade: websocket', 'Upgrade: h2c')],
    ['empty subprotocols', upgradeRequest(port, '/ws', ['Sec-WebSocket-Protocol: ,,,'])],
  ] as const;
  while (!budget.exhausted) {
    bursts += 1;
    const attempts = Array.from({ length: 12 }, async () => {
      const socket = new WebSocket(url);
      socket.on('error', () => undefined);
      const closed = whenClosed(socket);
      sockets += 1;
      const behaviour = random.int(0, 3);
      if (behaviour === 0) socket.once('open', () => socket.terminate());
      if (behaviour === 1) socket.once('upgrade', () => socket.terminate());
      if (behaviour === 2) socket.once('open', () => socket.close(1000));
      if (behaviour === 3) setImmediate(() => socket.terminate());
      await withTimeout(closed, 5_000, 'a churned socket to close');
    });
    const raw = Array.from({ length: 3 }, async () => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const request = upgradeRequest(port);
      socket.write(request.slice(0, random.int(1, request.length)));
      socket.destroy();
      sockets += 1;
    });
    const [name, request] = badRequests[bursts % badRequests.length];
    const bad = (async () => {
      const socket = connectTcp(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.write(request);
      await withTimeout(whenClosed(socket), 5_000, `the server to end a ${name} upgrade`);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'closed without an answer';
      if (status === '101') tally.problem(`a ${name} upgrade was accepted`);
      badUpgrades.set(`${name}: ${status}`, (badUpgrades.get(`${name}: ${status}`) ?? 0) + 1);
    })();
    await Promise.all([...attempts, ...raw, bad]);
    await budget.whenUsed(Math.min(1, bursts / 40));
  }
  return { bursts, sockets, badUpgrades };
}

interface RedisFuzzResult {
  published: number;
  byKind: Map<string, number>;
  byClass: Map<RedisClass, number>;
  stored: number;
  good: Map<string, number>;
  /** Dropped ones that no shortcut can skip: they do not even start like an update. */
  droppedSurely: number;
}

/** Malicious Redis messages, with good updates interleaved, spread over the WebSocket run. */
async function fuzzRedis(publisher: Redis, budget: Budget): Promise<RedisFuzzResult> {
  const random = new SeededRandom((SEED ^ 0x5eed) >>> 0);
  const result: RedisFuzzResult = {
    published: 0,
    byKind: new Map(),
    byClass: new Map(),
    stored: 0,
    good: new Map(GOOD_TASKS.map((task) => [task, 0])),
    droppedSurely: 0,
  };
  const batch = 50;
  const batches = Math.ceil(REDIS_MESSAGES / batch);
  for (let b = 0; b < batches; b += 1) {
    const pipeline = publisher.pipeline();
    for (let i = 0; i < batch; i += 1) {
      if ((b * batch + i) % GOOD_EVERY === 0) {
        const task = random.pick(GOOD_TASKS);
        const seq = result.good.get(task) ?? 0;
        result.good.set(task, seq + 1);
        pipeline.publish(
          'task_status_updates',
          JSON.stringify({ task_id: task, status: 'processing', seq }),
        );
        result.published += 1;
        result.byClass.set('good', (result.byClass.get('good') ?? 0) + 1);
        continue;
      }
      const message = maliciousRedisMessage(random, INSTANCE_ID);
      result.byKind.set(message.kind, (result.byKind.get(message.kind) ?? 0) + 1);
      if (message.store) {
        pipeline.set(message.store.key, message.payload, 'EX', 600);
        result.stored += 1;
        continue;
      }
      pipeline.publish('task_status_updates', message.payload);
      result.published += 1;
      const kind = classifyRedisPayload(message.payload);
      result.byClass.set(kind, (result.byClass.get(kind) ?? 0) + 1);
      const text =
        typeof message.payload === 'string' ? message.payload : message.payload.toString();
      if (kind === 'dropped' && !text.startsWith('{"task_id":"')) result.droppedSurely += 1;
    }
    await pipeline.exec();
    await budget.whenUsed((b + 1) / batches);
  }
  return result;
}

/** Asks the gateway's heap probe (SIGUSR2) for the heap in use after a full GC. */
async function heapOf(app: AppProcess): Promise<HeapProbeReading> {
  const count = (): number => app.stdout.split('HEAP_PROBE ').length - 1;
  const before = count();
  app.signal('SIGUSR2');
  await waitUntil(() => count() > before, 5_000, 'the heap probe to answer');
  const line = app.stdout.split('HEAP_PROBE ').at(-1)?.split('\n')[0] ?? '';
  return JSON.parse(line) as HeapProbeReading;
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const table = (map: Map<string, number>): string =>
  [...map]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

describe(`fuzzing the gateway (seed ${SEED})`, () => {
  let redis: RedisServer;
  let publisher: Redis;
  let gateway: AppProcess;

  before(async () => {
    console.log(`fuzz seed ${SEED}: replay with FUZZ_SEED=${SEED}`);
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
    const probe = fileURLToPath(new URL('../support/heap-probe.js', import.meta.url));
    gateway = await AppProcess.startServing(
      {
        REDIS_URL: redis.url,
        LOG_LEVEL: 'ERROR',
        INSTANCE_ID,
        WS_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
        WS_RATE_LIMIT_PER_SECOND: String(RATE_PER_SECOND),
        WS_RATE_LIMIT_BURST: String(RATE_BURST),
        WS_RATE_LIMIT_MAX_VIOLATIONS: String(RATE_MAX_VIOLATIONS),
        WS_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
        WS_MAX_CONNECTIONS: '5000',
      },
      '/health/ready',
      { nodeArgs: ['--expose-gc', '--import', pathToFileURL(probe).href] },
    );
  });

  after(async () => {
    publisher?.disconnect();
    await gateway?.stop();
    await redis?.stop();
  });

  it('closes connections that break the framing rules, with the right code', async () => {
    const text = (s: string): Buffer => Buffer.from(s);
    const cases: Array<[string, Buffer, number[]]> = [
      ['unmasked text frame', frame(0x1, text('{"type":"ping"}'), { masked: false }), [1002]],
      ['RSV1 set without an extension', frame(0x1, text('{}'), { rsv: 4 }), [1002]],
      ['reserved data opcode 0x3', frame(0x3, text('{}')), [1002]],
      ['reserved control opcode 0xB', frame(0xb, text('')), [1002]],
      ['continuation without a first fragment', frame(0x0, text('{}')), [1002]],
      [
        'new text frame inside a fragmented message',
        Buffer.concat([frame(0x1, text('{"ty'), { fin: false }), frame(0x1, text('pe"}'))]),
        [1002],
      ],
      ['ping with a 126-byte payload', frame(0x9, Buffer.alloc(126)), [1002]],
      ['fragmented ping', frame(0x9, text('x'), { fin: false }), [1002]],
      ['close frame with a 1-byte body', frame(0x8, Buffer.from([3])), [1002]],
      ['close frame with code 999', frame(0x8, Buffer.from([0x03, 0xe7])), [1002]],
      ['close frame, reason not UTF-8', frame(0x8, Buffer.from([0x03, 0xe8, 0xff, 0xfe])), [1007]],
      ['text frame, not UTF-8', frame(0x1, Buffer.from([0xc3, 0x28])), [1007]],
      ['declared length 2^53', frame(0x1, Buffer.alloc(0), { declaredLength: 2n ** 53n }), [1009]],
      [
        'declared length 2^63 (MSB set)',
        frame(0x2, Buffer.alloc(0), { declaredLength: 2n ** 63n }),
        [1002, 1009],
      ],
      [
        'declared length over the limit',
        frame(0x1, Buffer.alloc(0), { declaredLength: 5_000n }),
        [1009],
      ],
    ];
    const port = gateway.port ?? 0;
    const rows: string[] = [];
    for (const [name, bytes, expected] of cases) {
      const raw = await RawWebSocket.open(port);
      raw.write(bytes);
      const outcome = await raw.outcome();
      rows.push(`${name}: ${outcome.closeCode ?? 'no close frame'}`);
      assert.ok(
        outcome.closeCode !== undefined && expected.includes(outcome.closeCode),
        `${name}: closed with ${outcome.closeCode}, expected ${expected.join(' or ')}`,
      );
    }
    console.log(`malformed frames -> close codes: ${rows.join('; ')}`);
    const client = await WsTestClient.connect(gateway.wsUrl);
    await client.ping();
    await client.close();
  });

  it('survives random and mutated input from WebSocket clients and Redis, and keeps serving', async () => {
    const started = performance.now();
    const tally = new Tally();
    const url = gateway.wsUrl;
    const port = gateway.port ?? 0;

    const good = await WsTestClient.connect(url);
    for (const task of GOOD_TASKS) await good.subscribe(task);

    // Warm-up, so that the baseline heap already holds compiled code and lazy state.
    const warmUp = new Budget(Math.min(5_000, FRAME_BUDGET / 10));
    await Promise.all([
      runWorker(1_000, url, warmUp, new Tally()),
      runWorker(1_001, url, warmUp, new Tally()),
    ]);
    await waitForStats(
      gateway.httpUrl,
      (s) => s.total_connections === 1,
      'warm-up connections gone',
    );
    const baseline = await heapOf(gateway);
    const statsBefore = await getStats(gateway.httpUrl);

    // Handshakes left hanging for the whole run must be cut off by WS_HANDSHAKE_TIMEOUT_MS.
    const stalled = Array.from({ length: 5 }, async () => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.write(upgradeRequest(port).slice(0, 40));
      const since = performance.now();
      // Generous: the fuzz keeps both cores busy, and what counts is that it is cut off at all.
      await withTimeout(
        whenClosed(socket),
        2 * HANDSHAKE_CUT_OFF_BOUND_MS,
        'a stalled handshake to be cut off',
      );
      return performance.now() - since;
    });

    const budget = new Budget(FRAME_BUDGET);
    const workers = Promise.all(
      Array.from({ length: WORKERS }, (_, id) => runWorker(id, url, budget, tally)),
    ).finally(() => budget.finish());
    const [, churned, redisResult, stalledMs] = await Promise.all([
      workers,
      churn(port, url, budget, tally),
      fuzzRedis(publisher, budget),
      Promise.all(stalled),
    ]).catch(async (error: unknown) => {
      // A crash shows up first as a reset somewhere; say so, with the gateway's last words.
      const exited = await withTimeout(gateway.exited, 2_000, 'exit').catch(() => undefined);
      if (exited)
        throw new Error(
          `the gateway crashed (${JSON.stringify(exited)}):\n${gateway.output.slice(-3_000)}`,
        );
      throw error;
    });
    const fuzzMs = performance.now() - started;

    // Zero crashes: the process runs and serves, the well-behaved client is still connected.
    assert.ok(gateway.running, `the gateway exited:\n${gateway.output}`);
    const live = await fetch(`${gateway.httpUrl}/health/live`);
    assert.equal(live.status, 200);
    await live.body?.cancel();
    await good.ping();

    // The well-behaved client got every good update, in order, and nothing else.
    const expectedGood = [...redisResult.good.values()].reduce((sum, n) => sum + n, 0);
    await waitUntil(
      () => good.updates().length >= expectedGood,
      20_000,
      `${expectedGood} good updates (got ${good.updates().length})`,
    );
    for (const task of GOOD_TASKS) {
      const seqs = good
        .updates(task)
        .map((m) => (m.type === 'status_update' ? (m.data.seq as number) : -1));
      assert.deepEqual(seqs, [...Array(redisResult.good.get(task)).keys()], `updates of ${task}`);
    }
    const foreign = good.received.filter(
      (m) => m.type === 'status_update' && !GOOD_TASKS.includes(m.task_id),
    );
    assert.deepEqual(foreign, []);
    assert.equal(good.received.filter((m) => m.type === 'error').length, 0);

    // Every Redis message was seen, and the malformed ones dropped.
    const statsAfter = await waitForStats(
      gateway.httpUrl,
      (s) =>
        s.messages.received - statsBefore.messages.received >=
        redisResult.published - (redisResult.byClass.get('canary') ?? 0),
      'every published message to be received',
      20_000,
    );
    const received = statsAfter.messages.received - statsBefore.messages.received;
    const dropped = statsAfter.messages.dropped - statsBefore.messages.dropped;
    assert.equal(received, redisResult.published - (redisResult.byClass.get('canary') ?? 0));
    assert.ok(
      dropped >= redisResult.droppedSurely && dropped <= (redisResult.byClass.get('dropped') ?? 0),
      `dropped ${dropped}, expected ${redisResult.droppedSurely}..${redisResult.byClass.get('dropped')}`,
    );

    // Every answer was well-formed; no handler failed unexpectedly.
    assert.deepEqual(tally.problems, []);
    assert.equal(
      tally.answers.get('error:internal_error') ?? 0,
      0,
      `internal_error answers; the gateway logged:\n${gateway.output.slice(-3_000)}`,
    );
    for (const ms of stalledMs) assert.ok(ms < HANDSHAKE_CUT_OFF_BOUND_MS, `stalled for ${ms} ms`);

    // Nothing left behind: connections, memory, Object.prototype.
    const idle = await waitForStats(
      gateway.httpUrl,
      (s) => s.total_connections === 1,
      'only the good client',
    );
    const heap = await heapOf(gateway);
    assert.deepEqual(heap.polluted, [], 'properties added to Object.prototype');
    const growth = heap.heapUsed - baseline.heapUsed;
    if (heap.gc) {
      assert.ok(
        growth < HEAP_GROWTH_LIMIT_BYTES,
        `heap grew by ${mib(growth)} (baseline ${mib(baseline.heapUsed)}, after ${mib(heap.heapUsed)})`,
      );
    } else {
      console.log('heap check skipped: the gateway runs without --expose-gc');
    }
    assert.doesNotMatch(gateway.output, /uncaught|unhandled|RangeError|Maximum call stack/i);

    console.log(
      [
        `fuzz seed ${SEED}: ${tally.frames} WebSocket frames (${tally.messages} messages) on ` +
          `${tally.connections} connections from ${WORKERS} workers, ${churned.sockets} churned ` +
          `sockets in ${churned.bursts} bursts, ${redisResult.published} Redis messages ` +
          `(+${redisResult.stored} stored states) in ${(fuzzMs / 1000).toFixed(1)} s`,
        `  sent by category: ${table(tally.sent)}`,
        `  answers: ${table(tally.answers)}; status updates to fuzz clients: ${tally.updates}`,
        `  closes by code: ${table(tally.closes)}`,
        `  bad upgrades: ${table(churned.badUpgrades)}`,
        `  stalled handshakes cut off after: ${stalledMs.map((ms) => Math.round(ms)).join(', ')} ms`,
        `  Redis messages by kind: ${table(redisResult.byKind)}; good updates ${expectedGood}`,
        `  Redis drops: ${dropped} (${JSON.stringify(
          Object.fromEntries(
            Object.entries(statsAfter.messages.dropped_by_reason).map(([k, v]) => [
              k,
              v - ((statsBefore.messages.dropped_by_reason as Record<string, number>)[k] ?? 0),
            ]),
          ),
        )}), received ${received}`,
        `  heap after GC: baseline ${mib(baseline.heapUsed)}, after ${mib(heap.heapUsed)} ` +
          `(${growth >= 0 ? '+' : ''}${mib(growth)}); connections left: ${idle.total_connections}`,
      ].join('\n'),
    );
    await good.close();
  });
});
