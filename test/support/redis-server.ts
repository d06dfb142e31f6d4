import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

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
 * A redis-server of the test's own, on a free loopback port, keeping nothing on disk. Only the
 * process started here is ever stopped or killed.
 */
export class RedisServer {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dataDir: string | undefined,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * `dataDir`: where a manual SAVE writes its snapshot and a restart loads it from, for tests
   * that need keys to survive a restart. Without it nothing is ever written to disk.
   */
  static async start({ dataDir }: { dataDir?: string } = {}): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const server = new RedisServer(await freePort(), dataDir);
      try {
        await server.launch();
        return server;
      } catch (error) {
        lastError = error; // Most likely the port was taken in between; pick another.
      }
    }
    throw lastError;
  }

  /** Starts it again on the same port (after stop or kill). */
  async restart(): Promise<void> {
    await this.launch();
  }

  /** Abrupt death, as in a crash or an OOM kill. */
  async kill(): Promise<void> {
    await this.terminate('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.terminate('SIGTERM');
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  private launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        '--loglevel',
        'notice',
        '--logfile',
        '',
        ...(this.dataDir ? ['--dir', this.dataDir, '--dbfilename', 'dump.rdb'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process = child;
    // A crashed test run must not leave its redis-server behind.
    const reap = (): void => void child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    return new Promise<void>((resolve, reject) => {
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
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', fail);
      child.once('exit', onExit);
    });
  }
}
