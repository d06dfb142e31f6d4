import type { ChildProcess } from 'node:child_process';
import { freePort, spawnRedisServer, stopRedisProcess } from './redis-process.js';

export { freePort };

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
    await stopRedisProcess(child, signal);
  }

  private async launch(): Promise<void> {
    this.process = await spawnRedisServer(
      this.port,
      this.dataDir ? ['--dir', this.dataDir, '--dbfilename', 'dump.rdb'] : [],
    );
  }
}
