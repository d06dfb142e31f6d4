import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { pinnedCommand } from './cpu-pinning.js';
import type { Dialect } from './lean-ws-client.js';
import type { ProcessRegistry } from './process-registry.js';
import { processCpuSeconds, processMemory, type MemoryStats } from './proc-stats.js';
import { freePort } from './redis-server-process.js';
import { pollUntil } from './timeouts.js';

export const TARGET_NAMES = ['gateway', 'bare-relay', 'socketio'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface TargetDefinition {
  name: TargetName;
  dialect: Dialect;
  description: string;
  script: string;
  env: Record<string, string>;
}

const BASELINES = fileURLToPath(new URL('../baselines/', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

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

/** How each target is started: the same way for all, `node <script>` with its environment. */
export function targetDefinition(
  name: TargetName,
  gatewayMain: string,
  maxConnections: number,
): TargetDefinition {
  switch (name) {
    case 'gateway':
      return {
        name,
        dialect: 'task-status',
        description:
          `this gateway, built (${gatewayMain}), NODE_ENV=production, LOG_LEVEL=WARNING` +
          (process.env.BENCH_GATEWAY_ENV ? `, ${process.env.BENCH_GATEWAY_ENV}` : ''),
        script: gatewayMain,
        env: {
          NODE_ENV: 'production',
          LOG_LEVEL: 'WARNING',
          WS_MAX_CONNECTIONS: String(maxConnections + 1000),
          ...gatewayExtraEnv(),
        },
      };
    case 'bare-relay':
      return {
        name,
        dialect: 'task-status',
        description:
          'bench/baselines/bare-relay: ws + ioredis, a Map of Sets, frame serialized once',
        script: join(BASELINES, 'bare-relay', 'server.js'),
        env: { NODE_ENV: 'production' },
      };
    case 'socketio':
      return {
        name,
        dialect: 'socketio',
        description:
          'bench/baselines/socketio: Socket.IO 4 + @socket.io/redis-adapter, a room per task, websocket transport only',
        script: join(BASELINES, 'socketio', 'server.js'),
        env: { NODE_ENV: 'production' },
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

async function subscriberCount(control: Redis, channel: string): Promise<number> {
  const reply = (await control.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

/**
 * One target as a child process, on a free loopback port, in an empty working directory (no
 * `.env` is read), pinned where the run pins servers. Ready when its port accepts connections
 * and it is subscribed to the channel: the same test for every target.
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
    },
  ): Promise<TargetProcess> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const port = await freePort();
      const workDir = mkdtempSync(join(tmpdir(), `bench-${definition.name}-`));
      const [command, args] = pinnedCommand(process.execPath, [definition.script], options.cpus);
      const child = spawn(command, args, {
        cwd: workDir,
        env: {
          PATH: process.env.PATH ?? '',
          ...definition.env,
          HOST: '127.0.0.1',
          PORT: String(port),
          REDIS_URL: options.redisUrl,
          REDIS_PUBSUB_CHANNEL: options.channel,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      options.registry.track(child);
      const target = new TargetProcess(definition, port, child, workDir);
      try {
        await target.waitUntilReady(options.control, options.channel);
        return target;
      } catch (error) {
        lastError = error;
        await target.stop(options.control, options.channel);
        if (!target.output.includes('EADDRINUSE')) break;
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

  /** Kills the target and waits until Redis no longer counts its subscription. */
  async stop(control: Redis, channel: string): Promise<void> {
    if (this.running) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGKILL');
      await exited;
    }
    await pollUntil(async () => (await subscriberCount(control, channel)) === 0, 5_000);
  }

  private async waitUntilReady(control: Redis, channel: string): Promise<void> {
    const ready = await pollUntil(
      async () => {
        if (!this.running) throw new Error(`${this.definition.name} exited:\n${this.output}`);
        return (await portAccepts(this.port)) && (await subscriberCount(control, channel)) >= 1;
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
