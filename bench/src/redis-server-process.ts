import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { pinnedCommand } from './cpu-pinning.js';
import type { ProcessRegistry } from './process-registry.js';

const READY_TIMEOUT_MS = 10_000;

/** A free loopback TCP port, as chosen by the kernel. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * The bench's own redis-server on a free loopback port (never 6379), keeping nothing on disk,
 * shared by every target of the run.
 */
export class RedisServerProcess {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** `extraArgs`: more arguments for the port it got (a cluster node's config file, its bus port). */
  static async start(
    registry: ProcessRegistry,
    cpus: string | undefined,
    extraArgs: (port: number) => Promise<string[]> = () => Promise.resolve([]),
  ): Promise<RedisServerProcess> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const port = await freePort();
      try {
        return await RedisServerProcess.launch(port, registry, cpus, await extraArgs(port));
      } catch (error) {
        lastError = error; // most likely the port was taken in between
      }
    }
    throw lastError;
  }

  private static launch(
    port: number,
    registry: ProcessRegistry,
    cpus: string | undefined,
    extraArgs: string[],
  ): Promise<RedisServerProcess> {
    const [command, args] = pinnedCommand(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        '--logfile',
        '',
        ...extraArgs,
      ],
      cpus,
    );
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    registry.track(child);
    return new Promise((resolve, reject) => {
      let output = '';
      const timer = setTimeout(
        () => fail(new Error(`redis-server not ready: ${output}`)),
        READY_TIMEOUT_MS,
      );
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(error);
      };
      const onExit = (code: number | null): void =>
        fail(new Error(`redis-server exited (${code}): ${output}`));
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          child.off('exit', onExit);
          child.stdout?.resume();
          resolve(new RedisServerProcess(port, child));
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', fail);
      child.once('exit', onExit);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}
