import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { TargetScenarioId } from './bench-options.js';
import { pinnedCommand } from './cpu-pinning.js';
import type { Dialect } from './lean-ws-client.js';
import {
  NCHAN_MESSAGE_BUFFER_LENGTH,
  NCHAN_MESSAGE_TIMEOUT,
  nchanConfig,
  nchanMissing,
  nchanRoundTrip,
  nchanVersions,
  nginxBinary,
} from './nchan-target.js';
import type { ProcessRegistry } from './process-registry.js';
import { processCpuSeconds, processMemory, type MemoryStats } from './proc-stats.js';
import { freePort } from './redis-server-process.js';
import { pollUntil } from './timeouts.js';

export const TARGET_NAMES = ['gateway', 'gateway-sse', 'bare-relay', 'socketio', 'nchan'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** The targets a run measures unless told otherwise: nchan only where it is installed. */
export function defaultTargets(): TargetName[] {
  return TARGET_NAMES.filter((name) => name !== 'nchan' || nchanMissing() === undefined);
}

export interface TargetDefinition {
  name: TargetName;
  dialect: Dialect;
  /**
   * How updates reach it: `redis`, PUBLISH on the run's channel, to which it subscribes; `http`,
   * a POST to its own `/pub/<task_id>` (nchan).
   */
  publisher: 'redis' | 'http';
  description: string;
  /** The program to start and its arguments, run in `workDir`. */
  command: (workDir: string) => [string, string[]];
  /** Files written into `workDir` before each start (nchan's nginx.conf), for the port it gets. */
  files: (port: string, workDir: string) => { name: string; text: string }[];
  /** Its own settings; the bench adds those of targetEnvironment(), and nothing is inherited. */
  env: Record<string, string>;
  /** BENCH_GATEWAY_ENV as given, when it added to `env`. */
  benchGatewayEnv?: string;
  /** The scenarios it is measured in, when not all of them. */
  scenarios?: readonly TargetScenarioId[];
  /** Stopped with SIGTERM first (a profiled gateway writes its profile as it exits). */
  stopGracefully?: boolean;
}

/**
 * The scenarios of `gateway-sse` (issue 12): throughput and latency over Server-Sent Events,
 * beside the same figures over WebSocket.
 */
export const SSE_SCENARIOS: readonly TargetScenarioId[] = ['S2', 'S3'];

/** Whether `definition` is measured in `scenario`. */
export function measuresScenario(definition: TargetDefinition, scenario: string): boolean {
  return (
    definition.scenarios === undefined ||
    (definition.scenarios as readonly string[]).includes(scenario)
  );
}

/**
 * Every environment variable a target process gets: its own settings, then where to listen and
 * which Redis channel to read. Nothing else of the bench's environment is passed on.
 */
export function targetEnvironment(
  definition: TargetDefinition,
  port: string,
  redisUrl: string,
  channel: string,
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    ...definition.env,
    HOST: '127.0.0.1',
    PORT: port,
    REDIS_URL: redisUrl,
    REDIS_PUBSUB_CHANNEL: channel,
  };
}

const BASELINES = fileURLToPath(new URL('../baselines/', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
/** A gateway's graceful shutdown takes at most SHUTDOWN_TIMEOUT_MS (10 s by default). */
const GRACEFUL_STOP_MS = 15_000;
const NCHAN_CONF = 'nginx.conf';

/**
 * Extra settings for the gateway target from BENCH_GATEWAY_ENV (`KEY=VALUE,KEY=VALUE`), to compare
 * configurations of the same build, e.g. `BENCH_GATEWAY_ENV=METRICS_ENABLED=false`.
 */
function gatewayExtraEnv(): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const pair of (process.env.BENCH_GATEWAY_ENV ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) extra[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return extra;
}

function nodeScript(script: string): TargetDefinition['command'] {
  return () => [process.execPath, [script]];
}

const NO_FILES: TargetDefinition['files'] = () => [];

/**
 * How each target is started: the Node ones the same way, `node <script>` with its environment;
 * nchan as nginx with a config of its own (see nchan-target.ts).
 */
export function targetDefinition(
  name: TargetName,
  gatewayMain: string,
  maxConnections: number,
  cpuProfDir?: string,
): TargetDefinition {
  switch (name) {
    case 'gateway':
    case 'gateway-sse': {
      const sse = name === 'gateway-sse';
      return {
        name,
        dialect: sse ? 'sse' : 'task-status',
        publisher: 'redis',
        description:
          `this gateway, built (${gatewayMain}), every setting at its default but the connection limit` +
          (process.env.BENCH_GATEWAY_ENV ? `, ${process.env.BENCH_GATEWAY_ENV}` : '') +
          (sse
            ? `; the same process as \`gateway\`, its clients over Server-Sent Events ` +
              `(GET /tasks/events?task_id=…), in ${SSE_SCENARIOS.join(' and ')} only`
            : ''),
        command:
          cpuProfDir === undefined
            ? nodeScript(gatewayMain)
            : () => [process.execPath, ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, gatewayMain]],
        ...(cpuProfDir === undefined ? {} : { stopGracefully: true }),
        files: NO_FILES,
        // As users run it: no NODE_ENV, the default log level; only the connection limit raised.
        env: {
          WS_MAX_CONNECTIONS: String(maxConnections + 1000),
          ...gatewayExtraEnv(),
        },
        ...(process.env.BENCH_GATEWAY_ENV
          ? { benchGatewayEnv: process.env.BENCH_GATEWAY_ENV }
          : {}),
        ...(sse ? { scenarios: SSE_SCENARIOS } : {}),
      };
    }
    case 'bare-relay':
      return {
        name,
        dialect: 'task-status',
        publisher: 'redis',
        description:
          'bench/baselines/bare-relay: ws + ioredis, a Map of Sets, frame serialized once',
        command: nodeScript(join(BASELINES, 'bare-relay', 'server.js')),
        files: NO_FILES,
        env: { NODE_ENV: 'production' },
      };
    case 'socketio':
      return {
        name,
        dialect: 'socketio',
        publisher: 'redis',
        description:
          'bench/baselines/socketio: Socket.IO 4 + @socket.io/redis-adapter, a room per task, websocket transport only',
        command: nodeScript(join(BASELINES, 'socketio', 'server.js')),
        files: NO_FILES,
        env: { NODE_ENV: 'production' },
      };
    case 'nchan':
      return {
        name,
        dialect: 'nchan',
        publisher: 'http',
        description:
          `${nchanVersions()}: one nginx process, nchan's in-memory store (no Redis), ` +
          'WebSocket subscribers at /sub/<task_id>, HTTP POST publisher at /pub/<task_id>, ' +
          `message buffer ${NCHAN_MESSAGE_BUFFER_LENGTH} per channel for ${NCHAN_MESSAGE_TIMEOUT}`,
        command: (workDir) => {
          const nginx = nginxBinary();
          if (nginx === undefined) throw new Error(nchanMissing());
          // -e: even the log of startup, before the config is read, stays out of /var/log.
          return [nginx, ['-p', workDir, '-c', join(workDir, NCHAN_CONF), '-e', 'stderr']];
        },
        files: (port, workDir) => [
          { name: NCHAN_CONF, text: nchanConfig(workDir, port, maxConnections) },
        ],
        env: {},
      };
  }
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The status of GET `path`, or 0 when the request failed; no keep-alive connection is left open. */
function httpStatus(port: number, path: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
      response.once('error', () => resolve(0));
    });
    request.setTimeout(timeoutMs, () => request.destroy());
    request.once('error', () => resolve(0));
  });
}

async function subscriberCount(control: Redis, channel: string): Promise<number> {
  const reply = (await control.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

/**
 * One target as a child process, on a free loopback port, in an empty working directory (no
 * `.env` is read), pinned where the run pins servers. Ready when its port accepts connections
 * and it is subscribed to the channel: the same test for every target that reads Redis; nchan,
 * which does not, is ready once an update has gone through it (port accepts, a POST, a frame).
 * `readiness: 'health'` (S7's gateways, several per channel or on shard channels): ready when
 * the gateway's own GET /health/ready answers 200 (subscribed, data path not stalled).
 */
export class TargetProcess {
  private output = '';

  private constructor(
    readonly definition: TargetDefinition,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly workDir: string,
  ) {
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => rmSync(workDir, { recursive: true, force: true }));
  }

  static async start(
    definition: TargetDefinition,
    options: {
      redisUrl: string;
      channel: string;
      control: Redis;
      cpus: string | undefined;
      registry: ProcessRegistry;
      readiness?: 'subscribed' | 'health';
    },
  ): Promise<TargetProcess> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const port = await freePort();
      const workDir = mkdtempSync(join(tmpdir(), `bench-${definition.name}-`));
      for (const file of definition.files(String(port), workDir)) {
        writeFileSync(join(workDir, file.name), file.text);
      }
      const [program, programArgs] = definition.command(workDir);
      const [command, args] = pinnedCommand(program, programArgs, options.cpus);
      const child = spawn(command, args, {
        cwd: workDir,
        env: targetEnvironment(definition, String(port), options.redisUrl, options.channel),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      options.registry.track(child);
      const target = new TargetProcess(definition, port, child, workDir);
      try {
        await target.waitUntilReady(options.control, options.channel, options.readiness);
        return target;
      } catch (error) {
        lastError = error;
        if (options.readiness === 'health') await target.stop();
        else await target.stop(options.control, options.channel);
        if (!/EADDRINUSE|Address already in use/.test(target.output)) break;
      }
    }
    throw lastError;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get recentOutput(): string {
    return this.output;
  }

  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }

  memory(): MemoryStats {
    return processMemory(this.pid);
  }

  /**
   * Kills the target and, if it reads Redis and `control` is given, waits until Redis no longer
   * counts its subscription to `channel`.
   */
  async stop(control?: Redis, channel?: string): Promise<void> {
    if (this.running) {
      const exited = once(this.child, 'exit');
      if (this.definition.stopGracefully) {
        this.child.kill('SIGTERM');
        const killer = setTimeout(() => this.child.kill('SIGKILL'), GRACEFUL_STOP_MS);
        await exited;
        clearTimeout(killer);
      } else {
        this.child.kill('SIGKILL');
        await exited;
      }
    }
    if (this.definition.publisher === 'redis' && control && channel !== undefined) {
      await pollUntil(async () => (await subscriberCount(control, channel)) === 0, 5_000);
    }
  }

  private async waitUntilReady(
    control: Redis,
    channel: string,
    readiness: 'subscribed' | 'health' = 'subscribed',
  ): Promise<void> {
    const ready = await pollUntil(
      async () => {
        if (!this.running) throw new Error(`${this.definition.name} exited:\n${this.output}`);
        if (!(await portAccepts(this.port))) return false;
        if (readiness === 'health')
          return (await httpStatus(this.port, '/health/ready', 2_000)) === 200;
        return this.definition.publisher === 'redis'
          ? (await subscriberCount(control, channel)) >= 1
          : nchanRoundTrip(this.port, 2_000);
      },
      READY_TIMEOUT_MS,
      50,
    );
    if (!ready) {
      throw new Error(
        `${this.definition.name} not ready within ${READY_TIMEOUT_MS} ms:\n${this.output}`,
      );
    }
  }
}
