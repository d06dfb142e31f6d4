import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { WebSocketServer, type AddressInfo } from 'ws';
import { waitUntil } from '../support/with-timeout.js';

const BUILD_TIMEOUT_MS = 90_000;
const RUN_TIMEOUT_MS = 150_000;
const TARGETS = ['gateway', 'bare-relay', 'socketio'];
/** The gateway again, its clients over Server-Sent Events: S2 and S3 only (issue 12). */
const SSE_TARGET = 'gateway-sse';
const SSE_SCENARIOS = ['S2', 'S3'];
/** The gateway's default backpressure threshold, set explicitly: recorded, and changes nothing. */
const GATEWAY_EXTRA_ENV = 'WS_BACKPRESSURE_BYTES=262144';
const SCENARIOS = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6'];

/** The parts of bench/results/<timestamp>.json that this test reads (see bench/src/run-record.ts). */
interface SmokeRecord {
  label: string;
  machine: { cpus: number; node: string };
  pinning: { note: string; server?: string };
  targets: {
    name: string;
    configuration?: {
      command: string[];
      cwd: string;
      env: Record<string, string>;
      cpus?: string;
      files: { path: string; text: string }[];
      benchGatewayEnv?: string;
    };
  }[];
  loadAverage: { start: number[]; end: number[] };
  sizes: Record<string, number>;
  jsonParse: { medianNsPerParse: number };
  cells: {
    scenario: string;
    target: string;
    problems: string[];
    runs: {
      metrics: Record<string, number>;
      delivery?: {
        expected: number;
        delivered: number;
        lost: number;
        skipped: number;
        coalescedByTarget?: number;
        droppedByTarget?: number;
        extra: number;
        outOfOrder: number;
        incomplete: number;
        unexpectedCloses: number;
        protocolErrors: number;
        wrongTask: number;
        drained: boolean;
      };
      loadGenerator: { share: number; saturated: boolean };
    }[];
  }[];
}

/** The load generator's SSE client, as built into bench/dist. */
interface LeanSseClientModule {
  LeanSseConnection: new (
    target: { host: string; port: number; dialect: 'sse' },
    taskId: string,
    tally: unknown,
  ) => { frames: number; lastSeq: number; open(timeoutMs: number): Promise<void>; close(): void };
}

/** The load generator's client, as built into bench/dist (read at run time: bench/ is built apart). */
interface LeanClientModule {
  DeliveryTally: new (latency: unknown) => {
    frames: number;
    wrongTask: number;
    protocolErrors: number;
    unexpectedCloses: number;
  };
  LeanConnection: new (
    target: { host: string; port: number; dialect: 'task-status' },
    taskId: string,
    tally: unknown,
  ) => { open(timeoutMs: number): Promise<void>; close(): void };
}

function importBench<T>(file: string): Promise<T> {
  return import(pathToFileURL(resolve('bench', 'dist', 'src', file)).href) as Promise<T>;
}

/**
 * Runs a command to its end within `ms`. On timeout it gets SIGTERM first, so that the bench
 * stops the redis-server and targets it started, then SIGKILL.
 */
function run(args: string[], ms: number, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    }, ms);
    const reap = (): void => void child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      process.off('exit', reap);
      if (code === 0) resolvePromise(output);
      else reject(new Error(`node ${args.join(' ')} ended with ${code ?? signal}:\n${output}`));
    });
  });
}

let benchBuilt: Promise<string> | undefined;

/** Builds bench/ once for every suite of this file. */
function buildBench(): Promise<string> {
  benchBuilt ??= run(
    [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', join('bench', 'tsconfig.json')],
    BUILD_TIMEOUT_MS,
  );
  return benchBuilt;
}

describe('the benchmark in smoke mode (npm run bench -- --smoke)', () => {
  let resultsDir: string;
  let record: SmokeRecord;
  let resultFiles: string[];
  let gateway: string;
  let output: string;

  before(
    async () => {
      gateway = resolve(process.env.BENCH_GATEWAY ?? join('dist', 'main.js'));
      assert.ok(existsSync(gateway), `${gateway} is missing: build the gateway first`);
      resultsDir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
      await buildBench();
      output = await run(
        [
          join('bench', 'dist', 'src', 'run-bench.js'),
          '--smoke',
          '--targets',
          [...TARGETS, SSE_TARGET].join(','),
          '--gateway',
          gateway,
          '--results-dir',
          resultsDir,
          '--no-docs',
        ],
        RUN_TIMEOUT_MS,
        { BENCH_GATEWAY_ENV: GATEWAY_EXTRA_ENV },
      );
      resultFiles = readdirSync(resultsDir);
      const json = resultFiles.find((file) => file.endsWith('.json'));
      assert.ok(json, `no result record in ${resultFiles.join(', ')}`);
      record = JSON.parse(readFileSync(join(resultsDir, json), 'utf8')) as SmokeRecord;
    },
    { timeout: BUILD_TIMEOUT_MS + RUN_TIMEOUT_MS + 10_000 },
  );

  after(() => {
    if (resultsDir) rmSync(resultsDir, { recursive: true, force: true });
  });

  const cell = (scenario: string, target: string): SmokeRecord['cells'][number] => {
    const found = record.cells.find((c) => c.scenario === scenario && c.target === target);
    assert.ok(found, `no result for ${scenario} against ${target}`);
    assert.equal(found.runs.length, 1);
    return found;
  };

  it('ran every scenario against every target, with no problem reported', () => {
    assert.equal(record.label, 'smoke');
    for (const scenario of SCENARIOS) {
      for (const target of TARGETS) {
        const { problems, runs } = cell(scenario, target);
        assert.deepEqual(problems, [], `${scenario} ${target}`);
        assert.ok(Object.keys(runs[0].metrics).length > 0, `${scenario} ${target}: no metric`);
      }
    }
  });

  it('opened and subscribed every S1 connection', () => {
    for (const target of TARGETS) {
      const [s1] = cell('S1', target).runs;
      assert.equal(s1.metrics.connections, record.sizes['s1-connections'], target);
      assert.ok(s1.metrics.connectPerSec > 0, target);
      assert.ok(Number.isFinite(s1.metrics.rssPerConnectionKiB), target);
    }
  });

  it('counted every frame of S2, S3, S4 and of the S6 readers, and lost none', () => {
    for (const scenario of ['S2', 'S3', 'S4', 'S6']) {
      for (const target of TARGETS) {
        const delivery = cell(scenario, target).runs[0].delivery;
        const where = `${scenario} ${target}`;
        assert.ok(delivery, where);
        assert.ok(delivery.expected > 0, `${where}: nothing was published`);
        assert.equal(delivery.delivered, delivery.expected, where);
        assert.equal(delivery.lost, 0, where);
        assert.equal(delivery.skipped, 0, where);
        assert.equal(delivery.extra, 0, where);
        assert.equal(delivery.outOfOrder, 0, where);
        assert.equal(delivery.incomplete, 0, where);
        assert.equal(delivery.unexpectedCloses, 0, where);
        assert.equal(delivery.protocolErrors, 0, where);
        assert.equal(delivery.wrongTask, 0, `${where}: frames of another task`);
        assert.equal(delivery.drained, true, where);
      }
    }
  });

  it("counts an update of another task as the wrong task's, not as its connection's", async () => {
    const { DeliveryTally, LeanConnection } =
      await importBench<LeanClientModule>('lean-ws-client.js');
    const { LatencyHistogram } = await importBench<{ LatencyHistogram: new () => unknown }>(
      'latency-histogram.js',
    );
    const update = (taskId: string, seq: number): string =>
      `{"type":"status_update","task_id":"${taskId}","data":{"seq":${seq}}}`;
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    server.on('connection', (socket) =>
      socket.once('message', () => {
        socket.send('{"type":"subscribed","task_id":"t1"}');
        // t10 starts with t1: only the closing quote tells them apart.
        for (const frame of [update('t1', 1), update('t10', 2), update('t2', 2), update('t1', 2)]) {
          socket.send(frame);
        }
      }),
    );
    const tally = new DeliveryTally(new LatencyHistogram());
    const { port } = server.address() as AddressInfo;
    const connection = new LeanConnection(
      { host: '127.0.0.1', port, dialect: 'task-status' },
      't1',
      tally,
    );
    try {
      await connection.open(5_000);
      for (let waited = 0; tally.frames + tally.wrongTask < 4 && waited < 5_000; waited += 10) {
        await sleep(10);
      }
      assert.equal(tally.frames, 2);
      assert.equal(tally.wrongTask, 2);
      assert.equal(tally.protocolErrors, 0);
    } finally {
      connection.close();
      server.close();
    }
  });

  it('ran S2 and S3 over SSE (gateway-sse), and no other scenario, with no problem', () => {
    assert.deepEqual(
      record.cells.filter((c) => c.target === SSE_TARGET).map((c) => c.scenario),
      SSE_SCENARIOS,
    );
    for (const scenario of SSE_SCENARIOS) {
      const { problems, runs } = cell(scenario, SSE_TARGET);
      assert.deepEqual(problems, [], scenario);
      assert.ok(runs[0].metrics.deliveredPerSec > 0, scenario);
    }
  });

  it('counted every SSE frame of S2 and S3, in order and for the right task, and lost none', () => {
    for (const scenario of SSE_SCENARIOS) {
      const delivery = cell(scenario, SSE_TARGET).runs[0].delivery;
      const where = `${scenario} ${SSE_TARGET}`;
      assert.ok(delivery, where);
      assert.ok(delivery.expected > 0, `${where}: nothing was published`);
      assert.equal(delivery.delivered, delivery.expected, where);
      assert.equal(delivery.lost, 0, where);
      assert.equal(delivery.extra, 0, where);
      assert.equal(delivery.outOfOrder, 0, where);
      assert.equal(delivery.incomplete, 0, where);
      assert.equal(delivery.unexpectedCloses, 0, where);
      assert.equal(delivery.protocolErrors, 0, where);
      assert.equal(delivery.wrongTask, 0, where);
      assert.equal(delivery.drained, true, where);
    }
  });

  it('started gateway-sse exactly as gateway, and reported SSE beside WebSocket with the goal', () => {
    const configuration = (name: string) =>
      record.targets.find((t) => t.name === name)?.configuration;
    assert.ok(configuration(SSE_TARGET), 'no configuration recorded for gateway-sse');
    assert.deepEqual(configuration(SSE_TARGET), configuration('gateway'));
    const markdown = resultFiles.find((file) => file.endsWith('.md'));
    assert.ok(markdown);
    const text = readFileSync(join(resultsDir, markdown), 'utf8');
    assert.match(text, /#### SSE beside WebSocket \(issue 12\)/);
    // Both figures, their ratio, SSE relative to WebSocket and the verdict; whichever it is.
    const figure = String.raw`[\d,.]+`;
    for (const label of ['S2 frames delivered/s ↑', 'S3 latency p99 \\(ms\\) ↓']) {
      assert.match(
        text,
        new RegExp(
          String.raw`\| ${label} \| ${figure} \| ${figure} \| ${figure}× \| ${figure}× \| (met|\*\*not met\*\*) \|`,
        ),
        label,
      );
    }
  });

  it('the SSE client reads events cut anywhere, skips comments, and checks ids and task ids', async () => {
    const { DeliveryTally } = await importBench<LeanClientModule>('lean-ws-client.js');
    const { LeanSseConnection } = await importBench<LeanSseClientModule>('lean-sse-client.js');
    const { LatencyHistogram } = await importBench<{ LatencyHistogram: new () => unknown }>(
      'latency-histogram.js',
    );
    const update = (taskId: string, id: string, seq: number, eol = '\n'): string =>
      [
        'event: status_update',
        `id: ${id}`,
        `data: {"type":"status_update","task_id":"${taskId}","data":{"seq":${seq},"sent_at_us":1}}`,
        '',
        '',
      ].join(eol);
    const stream =
      `:${' '.repeat(2048)}\nretry: 3000\n\n` +
      'event: subscribed\ndata: {"type":"subscribed","task_id":"t1","message":"ok"}\n\n' +
      update('t1', 't1:-', 1) +
      // t10 starts with t1: only the closing quote tells them apart; then an id of another task.
      update('t10', 't10:-', 2) +
      update('t1', 't2:-', 2) +
      ':\n\n' +
      update('t1', 't1:-', 2, '\r\n') +
      update('t1', 't1:-', 3);
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/event-stream' });
      // Written in pieces of 7 bytes, each its own chunk: events and lines cut anywhere.
      const bytes = Buffer.from(stream);
      for (let at = 0; at < bytes.length; at += 7) response.write(bytes.subarray(at, at + 7));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const tally = new DeliveryTally(new LatencyHistogram());
    const { port } = server.address() as AddressInfo;
    const connection = new LeanSseConnection(
      { host: '127.0.0.1', port, dialect: 'sse' },
      't1',
      tally,
    );
    try {
      await connection.open(5_000);
      await waitUntil(() => tally.frames + tally.wrongTask >= 5, 5_000, 'the five updates');
      assert.equal(tally.frames, 3);
      assert.equal(connection.lastSeq, 3);
      assert.equal(tally.wrongTask, 2);
      assert.equal(tally.protocolErrors, 0);
    } finally {
      connection.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it("accounted for S4's missing frames with the gateway's own coalescing counts", () => {
    // The gateway's counters were read around S4 (none coalesced or dropped in a smoke run, where
    // every frame arrives); the baselines count none, so every gap of theirs would be a loss.
    const gateway = cell('S4', 'gateway').runs[0].delivery;
    assert.equal(gateway?.coalescedByTarget, 0);
    assert.equal(gateway.droppedByTarget, 0);
    for (const target of ['bare-relay', 'socketio']) {
      const delivery = cell('S4', target).runs[0].delivery;
      assert.ok(delivery, target);
      assert.equal(delivery.coalescedByTarget, undefined, target);
      assert.equal(delivery.droppedByTarget, undefined, target);
    }
    const markdown = resultFiles.find((file) => file.endsWith('.md'));
    assert.ok(markdown);
    const row = readFileSync(join(resultsDir, markdown), 'utf8')
      .split('\n')
      .find((line) => line.startsWith('| frames missing: coalesced as the target counted them'));
    assert.ok(row, 'no account of the missing frames in the S4 table');
    assert.match(row, /0 missing, 0 counted coalesced by the target, 0 dropped, 0 lost/);
    assert.match(row, /no coalescing count: every gap is a loss, 0 lost/);
  });

  it('measured latency from the timestamps the publisher embedded', () => {
    for (const target of TARGETS) {
      const { metrics } = cell('S3', target).runs[0];
      assert.ok(metrics.latencyP50Ms > 0, target);
      assert.ok(metrics.latencyP99Ms >= metrics.latencyP50Ms, target);
      assert.ok(metrics.latencyMaxMs >= metrics.latencyP99Ms, target);
    }
  });

  it('delivered no irrelevant S5 update and compared its CPU with one JSON.parse', () => {
    assert.ok(record.jsonParse.medianNsPerParse > 0);
    for (const target of TARGETS) {
      const [s5] = cell('S5', target).runs;
      assert.equal(s5.delivery?.delivered, 0, target);
      assert.ok(s5.metrics.updatesPerSec > 0, target);
      assert.ok(Number.isFinite(s5.metrics.cpuPerUpdateOverJsonParse), target);
    }
  });

  it('ran S6 with its slow clients connected, and recorded both criteria and the bound', () => {
    for (const target of TARGETS) {
      const { metrics } = cell('S6', target).runs[0];
      assert.equal(metrics.slowClients, record.sizes['s6-slow'], target);
      assert.ok(metrics.latencyP99MsA > 0 && metrics.latencyP99MsB > 0, target);
      assert.ok(Number.isFinite(metrics.latencyP99RatioBA), target);
      assert.ok([0, 1].includes(metrics.p99WithinTwiceMet), target);
      assert.ok([0, 1].includes(metrics.rssUnderBoundMet), target);
      assert.ok(metrics.rssBoundMiB > metrics.rssBeforeSlowMiB, target);
      assert.ok(metrics.peakRssMiB > 0, target);
    }
    // Only the gateway has the counters; whether its slow clients got past WS_BACKPRESSURE_BYTES
    // depends on the machine's socket buffers, so only their presence is checked.
    const gateway = cell('S6', 'gateway').runs[0].metrics;
    assert.ok(Number.isFinite(gateway.gatewaySlowConsumers));
    assert.equal(cell('S6', 'bare-relay').runs[0].metrics.gatewaySlowConsumers, undefined);
  });

  it('printed and recorded how each target was started, before measuring', () => {
    const firstFigure = output.indexOf('[rep 1]');
    assert.ok(firstFigure > 0, 'no measurement printed');
    const markdownFile = resultFiles.find((file) => file.endsWith('.md'));
    assert.ok(markdownFile);
    const markdown = readFileSync(join(resultsDir, markdownFile), 'utf8');
    for (const name of TARGETS) {
      const configuration = record.targets.find((t) => t.name === name)?.configuration;
      assert.ok(configuration, `${name}: no configuration recorded`);
      const { env, command } = configuration;
      // Where to listen and which Redis channel to read, for every target; a fresh port each start.
      assert.equal(env.HOST, '127.0.0.1', name);
      assert.equal(env.PORT, '<port>', name);
      assert.match(env.REDIS_URL, /^redis:\/\/127\.0\.0\.1:\d+/, name);
      assert.ok(env.REDIS_PUBSUB_CHANNEL, name);
      assert.equal(configuration.cwd, '<work dir>', name);
      assert.equal(configuration.cpus, record.pinning.server, `${name}: pinning`);
      // Recorded as a reader would run it: `node`, repository paths relative, no machine's PATH.
      assert.equal(command.includes('node'), true, `${name}: ${command.join(' ')}`);
      assert.equal(env.PATH, "<the bench's PATH>", name);
      if (record.pinning.server !== undefined) {
        assert.deepEqual(command.slice(0, 3), ['taskset', '-c', record.pinning.server], name);
      }
      const printed = output.indexOf(`target ${name}:`);
      assert.ok(printed >= 0 && printed < firstFigure, `${name}: not printed before measuring`);
      for (const [key, value] of Object.entries(env)) {
        // Printed as set (quoted only where a shell would need it), and in the markdown report.
        assert.ok(output.includes(`${key}=`), `${name}: ${key} not printed`);
        if (/^[\w@%+=:,./<>-]+$/.test(value)) {
          assert.ok(output.includes(`${key}=${value}`), `${name}: ${key}=${value} not printed`);
          assert.ok(markdown.includes(`\`${key}=${value}\``), `${name}: ${key} not in the report`);
        }
      }
    }
    const gatewayConfiguration = record.targets.find((t) => t.name === 'gateway')?.configuration;
    assert.ok(gatewayConfiguration);
    assert.equal(gatewayConfiguration.command.at(-1), relative(process.cwd(), gateway));
    // As users start it: neither NODE_ENV nor a log level is set for it.
    assert.equal(gatewayConfiguration.env.NODE_ENV, undefined);
    assert.equal(gatewayConfiguration.env.LOG_LEVEL, undefined);
    assert.equal(gatewayConfiguration.env.WS_BACKPRESSURE_BYTES, '262144');
    assert.equal(gatewayConfiguration.benchGatewayEnv, GATEWAY_EXTRA_ENV);
    assert.ok(
      Number(gatewayConfiguration.env.WS_MAX_CONNECTIONS) >
        Math.max(record.sizes['s1-connections'], record.sizes['s4-subscribers']),
      'the connection limit is raised above the run',
    );
    assert.match(output, new RegExp(`from BENCH_GATEWAY_ENV: ${GATEWAY_EXTRA_ENV}`));
    assert.match(markdown, /\| target \| command \| environment \| CPUs \|/);
    assert.ok(markdown.includes(`BENCH_GATEWAY_ENV=${GATEWAY_EXTRA_ENV}`));
  });

  it('recorded the machine, the pinning, the load and its own CPU', () => {
    assert.ok(record.machine.cpus >= 1);
    assert.match(record.machine.node, /^v\d+/);
    assert.ok(record.pinning.note.length > 0);
    assert.equal(record.loadAverage.start.length, 3);
    for (const c of record.cells) {
      assert.equal(typeof c.runs[0].loadGenerator.saturated, 'boolean');
      assert.ok(c.runs[0].loadGenerator.share >= 0);
    }
  });

  it('wrote the markdown table and the chart', () => {
    const markdown = resultFiles.find((file) => file.endsWith('.md'));
    const chart = resultFiles.find((file) => file.endsWith('.svg'));
    assert.ok(markdown && chart, resultFiles.join(', '));
    assert.match(readFileSync(join(resultsDir, markdown), 'utf8'), /\| metric \| gateway \|/);
    assert.match(readFileSync(join(resultsDir, chart), 'utf8'), /^<svg[^>]*>/);
  });
});

/** The parts of S7's record (bench/src/fan-out-scenario.ts) that the S7 suite reads. */
interface FanOutInstance {
  instance: number;
  clients: number;
  receivedPerSec: number;
  receivedOverRouted: number;
  received: number;
  routed: number;
  unrouted: number;
  framesDelivered: number;
  framesExpected: number;
  framesReceived: number;
  lost: number;
}

interface FanOutMode {
  mode: 'channel' | 'sharded';
  published: number;
  publishErrors: number;
  redisReceivers: number;
  offeredPerSec: number;
  redisCpuUsPerUpdate: number;
  framesExpected: number;
  framesReceived: number;
  lost: number;
  drained: boolean;
  saturated: boolean;
  instances: FanOutInstance[];
}

interface FanOutSmokeRecord {
  label: string;
  sizes: Record<string, number>;
  targets: { name: string }[];
  cells: {
    scenario: string;
    target: string;
    problems: string[];
    runs: {
      metrics: Record<string, number>;
      fanOut?: {
        instances: number;
        shards: number;
        tasksPerInstance: number;
        configurations: Record<'channel' | 'sharded', { env: Record<string, string> }>;
        steps: { rate: number; channel: FanOutMode; sharded: FanOutMode }[];
      };
    }[];
  }[];
}

const S7_RUN_TIMEOUT_MS = 60_000;

describe('S7 in smoke mode (npm run bench -- --smoke --targets gateway --scenarios S7)', () => {
  let resultsDir: string;
  let resultFiles: string[];
  let record: FanOutSmokeRecord;

  before(
    async () => {
      const gateway = resolve(process.env.BENCH_GATEWAY ?? join('dist', 'main.js'));
      assert.ok(existsSync(gateway), `${gateway} is missing: build the gateway first`);
      resultsDir = mkdtempSync(join(tmpdir(), 'bench-s7-smoke-'));
      await buildBench();
      await run(
        [
          join('bench', 'dist', 'src', 'run-bench.js'),
          '--smoke',
          '--targets',
          'gateway',
          '--scenarios',
          'S7',
          '--gateway',
          gateway,
          '--results-dir',
          resultsDir,
          '--no-docs',
        ],
        S7_RUN_TIMEOUT_MS,
      );
      resultFiles = readdirSync(resultsDir);
      const json = resultFiles.find((file) => file.endsWith('.json'));
      assert.ok(json, `no result record in ${resultFiles.join(', ')}`);
      record = JSON.parse(readFileSync(join(resultsDir, json), 'utf8')) as FanOutSmokeRecord;
    },
    { timeout: BUILD_TIMEOUT_MS + S7_RUN_TIMEOUT_MS + 10_000 },
  );

  after(() => {
    if (resultsDir) rmSync(resultsDir, { recursive: true, force: true });
  });

  const fanOut = () => {
    const cell = record.cells.find((c) => c.scenario === 'S7' && c.target === 'gateway');
    assert.ok(cell, 'no S7 result');
    assert.deepEqual(cell.problems, []);
    const measured = cell.runs[0].fanOut;
    assert.ok(measured, 'S7 recorded no steps');
    return measured;
  };

  it('ran S7 once, for the gateway only, with every step in both modes and no problem', () => {
    assert.equal(record.label, 'smoke');
    assert.deepEqual(
      record.cells.map((c) => `${c.scenario}/${c.target}`),
      ['S7/gateway'],
    );
    const measured = fanOut();
    assert.equal(measured.instances, record.sizes['s7-instances']);
    assert.equal(measured.shards, record.sizes['s7-shards']);
    assert.equal(measured.steps.length, record.sizes['s7-steps']);
    for (const step of measured.steps) {
      for (const mode of [step.channel, step.sharded]) {
        assert.equal(mode.instances.length, measured.instances, mode.mode);
        assert.ok(mode.published > 0, `${mode.mode}: nothing published`);
        assert.equal(mode.publishErrors, 0, mode.mode);
        assert.ok(mode.offeredPerSec > 0, mode.mode);
        for (const instance of mode.instances) {
          assert.equal(
            instance.clients,
            measured.tasksPerInstance * record.sizes['s7-subscribers'],
          );
        }
      }
    }
  });

  it('channel mode: every instance received every update published (N × offered in all)', () => {
    const measured = fanOut();
    for (const { channel } of measured.steps) {
      const received = channel.instances.reduce((sum, i) => sum + i.received, 0);
      const routed = channel.instances.reduce((sum, i) => sum + i.routed, 0);
      assert.equal(received, measured.instances * channel.published);
      assert.equal(routed, channel.published, 'each update routed on the one instance watching it');
      assert.equal(channel.redisReceivers, measured.instances * channel.published);
      for (const instance of channel.instances) {
        assert.equal(instance.received, channel.published, `instance ${instance.instance}`);
        assert.equal(instance.unrouted, instance.received - instance.routed);
      }
    }
  });

  it('sharded mode: each instance received only the updates of its own tasks (≤ 1.1× routed)', () => {
    const measured = fanOut();
    for (const { sharded } of measured.steps) {
      const received = sharded.instances.reduce((sum, i) => sum + i.received, 0);
      assert.equal(received, sharded.published);
      assert.equal(sharded.redisReceivers, sharded.published, 'one subscribed instance per task');
      for (const instance of sharded.instances) {
        assert.ok(instance.routed > 0, `instance ${instance.instance}: nothing routed`);
        assert.ok(instance.receivedOverRouted <= 1.1, `instance ${instance.instance}`);
        assert.equal(instance.unrouted, 0, `instance ${instance.instance}`);
      }
    }
    assert.ok(record.cells[0].runs[0].metrics.shardedMaxReceivedOverRouted <= 1.1);
  });

  it('every frame reached the clients of its instance, in both modes', () => {
    for (const step of fanOut().steps) {
      for (const mode of [step.channel, step.sharded]) {
        assert.equal(mode.drained, true, mode.mode);
        assert.equal(mode.lost, 0, mode.mode);
        assert.equal(mode.framesReceived, mode.framesExpected, mode.mode);
        for (const instance of mode.instances) {
          const where = `${mode.mode} instance ${instance.instance}`;
          assert.ok(instance.framesExpected > 0, where);
          assert.equal(instance.framesReceived, instance.framesExpected, where);
          assert.equal(instance.framesDelivered, instance.routed * record.sizes['s7-subscribers']);
        }
      }
    }
  });

  it("measured Redis' CPU per update and started the gateways with only the mode settings", () => {
    const measured = fanOut();
    for (const step of measured.steps) {
      assert.ok(
        Number.isFinite(step.channel.redisCpuUsPerUpdate) && step.channel.redisCpuUsPerUpdate > 0,
      );
      assert.ok(
        Number.isFinite(step.sharded.redisCpuUsPerUpdate) && step.sharded.redisCpuUsPerUpdate > 0,
      );
    }
    const { channel, sharded } = measured.configurations;
    assert.equal(channel.env.REDIS_PUBSUB_MODE, 'channel');
    assert.equal(channel.env.REDIS_CLUSTER_NODES, undefined);
    assert.equal(sharded.env.REDIS_PUBSUB_MODE, 'sharded');
    assert.equal(sharded.env.REDIS_CLUSTER_NODES.split(',').length, measured.shards);
    for (const env of [channel.env, sharded.env]) {
      // Below the default WS_MAX_CONNECTIONS, the bench does not raise it for S7.
      assert.equal(env.WS_MAX_CONNECTIONS, undefined);
      assert.equal(env.REDIS_PARTITIONS, undefined);
    }
  });

  it("wrote S7's tables and its chart", () => {
    const markdown = resultFiles.find((file) => file.endsWith('.md'));
    const chart = resultFiles.find((file) => file.endsWith('-s7.svg'));
    assert.ok(markdown && chart, resultFiles.join(', '));
    const text = readFileSync(join(resultsDir, markdown), 'utf8');
    assert.match(text, /#### S7 fan-out across instances/);
    assert.match(text, /\| U \(updates\/s\) \| mode \|/);
    assert.match(text, /\| sharded: each instance receives at most 1\.1× .* \| met \|/);
    assert.match(readFileSync(join(resultsDir, chart), 'utf8'), /^<svg[^>]*>/);
  });
});

describe('the price of each default in smoke mode (npm run bench:defaults -- --smoke)', () => {
  const VARIANTS = ['shipped-defaults', 'metrics-off'];
  let resultsDir: string;
  let output: string;
  let summary: {
    results: Array<{
      variant: { name: string; env: string };
      rssPerConnectionKiB?: number;
      cpuMicrosPerFrame?: number;
      complete: boolean;
      record: string;
    }>;
  };

  before(
    async () => {
      resultsDir = mkdtempSync(join(tmpdir(), 'bench-defaults-'));
      await buildBench();
      output = await run(
        [
          join('bench', 'dist', 'src', 'price-defaults.js'),
          '--smoke',
          '--variants',
          VARIANTS.join(','),
          '--results-dir',
          resultsDir,
        ],
        RUN_TIMEOUT_MS,
      );
      const json = readdirSync(resultsDir).find((file) => file.endsWith('-price-of-defaults.json'));
      assert.ok(json, `no summary in ${readdirSync(resultsDir).join(', ')}`);
      summary = JSON.parse(readFileSync(join(resultsDir, json), 'utf8')) as typeof summary;
    },
    { timeout: BUILD_TIMEOUT_MS + RUN_TIMEOUT_MS + 10_000 },
  );

  after(() => {
    if (resultsDir) rmSync(resultsDir, { recursive: true, force: true });
  });

  it('measured S1 and S2 for each variant, nothing lost', () => {
    assert.deepEqual(
      summary.results.map((r) => r.variant.name),
      ['shipped defaults', 'metrics off'],
    );
    for (const result of summary.results) {
      assert.equal(result.complete, true, result.variant.name);
      assert.ok(Number.isFinite(result.rssPerConnectionKiB), result.variant.name);
      assert.ok(Number.isFinite(result.cpuMicrosPerFrame), result.variant.name);
    }
  });

  it("started each variant's gateway with exactly its settings on top of the bench's", () => {
    for (const result of summary.results) {
      const variantRun = JSON.parse(
        readFileSync(join(resultsDir, result.record), 'utf8'),
      ) as SmokeRecord;
      const configuration = variantRun.targets.find((t) => t.name === 'gateway')?.configuration;
      assert.ok(configuration, result.variant.name);
      assert.equal(configuration.benchGatewayEnv ?? '', result.variant.env);
      if (result.variant.env === '') {
        assert.equal(configuration.env.METRICS_ENABLED, undefined);
      } else {
        assert.equal(configuration.env.METRICS_ENABLED, 'false');
      }
      assert.deepEqual([...new Set(variantRun.cells.map((c) => c.scenario))].sort(), ['S1', 'S2']);
    }
  });

  it('printed and wrote the table, and left the docs alone in smoke mode', () => {
    const markdown = readdirSync(resultsDir).find((file) => file.endsWith('-price-of-defaults.md'));
    assert.ok(markdown);
    const text = readFileSync(join(resultsDir, markdown), 'utf8');
    assert.match(text, /\| shipped defaults \| \(none\) \|/);
    assert.match(text, /\| metrics off \| `METRICS_ENABLED=false` \|/);
    assert.match(output, /\| metrics off \|/);
    assert.doesNotMatch(output, /rewrote the defaults section/);
  });
});

describe('the SSE load client over a bare socket (bench/src/lean-sse-client.ts)', () => {
  const HEAD_200 = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n';
  const SUBSCRIBED = 'event: subscribed\ndata: {"type":"subscribed","task_id":"t1"}\n\n';
  const update = (taskId: string, id: string, seq: number, eol = '\n'): string =>
    [
      'event: status_update',
      `id: ${id}`,
      `data: {"type":"status_update","task_id":"${taskId}","data":{"seq":${seq},"sent_at_us":1}}`,
      '',
      '',
    ].join(eol);
  /** Events whose lines end in CRLF, comments, an update of t10 and one with another task's id. */
  const EVENTS =
    `:${' '.repeat(300)}\r\nretry: 3000\r\n\r\n` +
    SUBSCRIBED +
    update('t1', 't1:-', 1, '\r\n') +
    update('t10', 't10:-', 2) +
    update('t1', 't2:-', 2, '\r\n') +
    ':\r\n\r\n' +
    update('t1', 't1:-', 2, '\r\n') +
    update('t1', 't1:-', 3);

  /** The events as HTTP/1.1 chunks of 1 to 13 bytes, every other size line with extensions. */
  function chunked(text: string): string {
    const bytes = Buffer.from(text);
    let body = '';
    for (
      let at = 0, size = 1, n = 0;
      at < bytes.length;
      at += size, size = (size % 13) + 1, n += 1
    ) {
      const piece = bytes.subarray(at, at + size);
      const extension = n % 2 === 0 ? '' : n % 4 === 1 ? ';name=value' : ' ;a="b";c';
      body += `${piece.length.toString(16).toUpperCase()}${extension}\r\n${piece.toString()}\r\n`;
    }
    return `${body}0\r\nX-Trailer: 1\r\n\r\n`;
  }

  /** A loopback server that writes `answer` in pieces of `piece` bytes, one per loop turn. */
  async function serve(answer: string, piece: number, end: boolean) {
    const sockets = new Set<Socket>();
    const server = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.setNoDelay(true);
      const write = async (): Promise<void> => {
        const bytes = Buffer.from(answer);
        for (let at = 0; at < bytes.length && !socket.destroyed; at += piece) {
          socket.write(bytes.subarray(at, at + piece));
          // A turn of the loop between pieces, so that the client reads them one by one.
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (end && !socket.destroyed) socket.end();
      };
      socket.once('data', () => void write());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    return {
      port,
      close: () => {
        for (const socket of sockets) socket.destroy();
        server.close();
      },
    };
  }

  async function connect(port: number) {
    const { DeliveryTally } = await importBench<LeanClientModule>('lean-ws-client.js');
    const { LeanSseConnection } = await importBench<LeanSseClientModule>('lean-sse-client.js');
    const { LatencyHistogram } = await importBench<{ LatencyHistogram: new () => unknown }>(
      'latency-histogram.js',
    );
    const tally = new DeliveryTally(new LatencyHistogram());
    const connection = new LeanSseConnection(
      { host: '127.0.0.1', port, dialect: 'sse' },
      't1',
      tally,
    );
    return { tally, connection };
  }

  before(() => buildBench(), { timeout: BUILD_TIMEOUT_MS });

  for (const piece of [1, 2, 3, 5, 7, 64]) {
    it(`decodes chunks and events cut every ${piece} byte(s), extensions, CRLF split, and the end`, async () => {
      const server = await serve(
        `${HEAD_200}Transfer-Encoding: chunked\r\n\r\n${chunked(EVENTS)}`,
        piece,
        false,
      );
      const { tally, connection } = await connect(server.port);
      try {
        await connection.open(5_000);
        // The last chunk ends the stream: counted as the server's close, after every update.
        await waitUntil(() => tally.unexpectedCloses === 1, 10_000, 'the end of the stream');
        assert.equal(tally.frames, 3);
        assert.equal(connection.lastSeq, 3);
        assert.equal(tally.wrongTask, 2);
        assert.equal(tally.protocolErrors, 0);
      } finally {
        connection.close();
        server.close();
      }
    });
  }

  it('reads a Content-Length body to its length and ends there, the socket still open', async () => {
    const body = SUBSCRIBED + update('t1', 't1:-', 1) + update('t1', 't1:-', 2);
    const server = await serve(
      `${HEAD_200}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      5,
      false,
    );
    const { tally, connection } = await connect(server.port);
    try {
      await connection.open(5_000);
      await waitUntil(() => tally.unexpectedCloses === 1, 10_000, 'the end of the body');
      assert.equal(tally.frames, 2);
      assert.equal(tally.protocolErrors, 0);
    } finally {
      connection.close();
      server.close();
    }
  });

  it('reads a body that ends with the connection (no length, no chunking)', async () => {
    const server = await serve(`${HEAD_200}\r\n${SUBSCRIBED}${update('t1', 't1:-', 1)}`, 9, true);
    const { tally, connection } = await connect(server.port);
    try {
      await connection.open(5_000);
      await waitUntil(() => tally.unexpectedCloses === 1, 10_000, 'the connection to end');
      assert.equal(tally.frames, 1);
    } finally {
      connection.close();
      server.close();
    }
  });

  it('refuses a non-200 answer with its status line, content type and body', async () => {
    const body = '{"message":"Cannot GET /tasks/events"}';
    const server = await serve(
      'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
        chunked(body),
      4,
      false,
    );
    const { connection } = await connect(server.port);
    try {
      await assert.rejects(
        connection.open(5_000),
        /^Error: stream refused: HTTP\/1\.1 404 Not Found \(application\/json\) \{"message":"Cannot GET \/tasks\/events"\}$/,
      );
    } finally {
      connection.close();
      server.close();
    }
  });

  it('refuses a 200 that is not an event stream, and a stream that ends before subscribing', async () => {
    const json = await serve('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}', 3, false);
    const cut = await serve(`${HEAD_200}Transfer-Encoding: chunked\r\n\r\n5\r\n:\n\n`, 3, true);
    try {
      await assert.rejects(
        (await connect(json.port)).connection.open(5_000),
        /stream refused: .*200 OK \(no content type\) \{\}/,
      );
      await assert.rejects(
        (await connect(cut.port)).connection.open(5_000),
        /stream ended before the subscription/,
      );
    } finally {
      json.close();
      cut.close();
    }
  });

  it('counts a broken chunk framing as a protocol error and ends the stream', async () => {
    const server = await serve(`${HEAD_200}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 2, false);
    const { tally, connection } = await connect(server.port);
    try {
      await assert.rejects(connection.open(5_000), /chunk size expected, got byte 0x7a/);
      assert.equal(tally.protocolErrors, 1);
    } finally {
      connection.close();
      server.close();
    }
  });
});
