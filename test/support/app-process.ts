import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './redis-server.js';
import { waitUntil, withTimeout } from './with-timeout.js';

const READY_TIMEOUT_MS = 15_000;
// A guard against hangs, not a measurement: a busy machine can take seconds to reap a process.
const KILLED_EXIT_TIMEOUT_MS = 30_000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The production build that `npm test` makes before the tests run, or the one TEST_APP_MAIN
 * names (relative to the repository root), for a build kept elsewhere.
 */
export function builtAppPath(): string {
  const path = resolve(process.cwd(), process.env.TEST_APP_MAIN ?? join('dist', 'main.js'));
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: build the app first (npm run build, or npx tsc -p tsconfig.build.json), ` +
        'and run the tests from the repository root',
    );
  }
  return path;
}

/**
 * The built service (`node dist/main.js`) as a child process, with only the environment given
 * here (plus PATH) and an empty working directory, so that neither the caller's variables nor a
 * developer's `.env` change what is tested. Output is kept for assertions.
 */
export class AppProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private readonly child: ChildProcess;
  private readonly workDir: string;

  private constructor(
    readonly env: Record<string, string>,
    readonly port: number | undefined,
    nodeArgs: readonly string[] = [],
  ) {
    this.workDir = mkdtempSync(join(tmpdir(), 'task-status-app-'));
    this.child = spawn(process.execPath, [...nodeArgs, builtAppPath()], {
      cwd: this.workDir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    // A crashed test run must not leave the app behind.
    const reap = (): void => void this.child.kill('SIGKILL');
    process.once('exit', reap);
    this.exited = new Promise((resolveExit) => {
      // 'close', not 'exit': all output has been read by then.
      this.child.once('close', (code, signal) => {
        process.off('exit', reap);
        this.exitInfo = { code, signal };
        rmSync(this.workDir, { recursive: true, force: true });
        resolveExit(this.exitInfo);
      });
    });
    this.child.once('error', (error) => {
      this.stderr += `spawn error: ${error.message}\n`;
    });
  }

  /** Starts the app with exactly this environment, without waiting for anything. */
  static spawn(
    env: Record<string, string>,
    { nodeArgs = [] }: { nodeArgs?: readonly string[] } = {},
  ): AppProcess {
    const port = env.PORT !== undefined ? Number(env.PORT) : undefined;
    return new AppProcess(env, Number.isInteger(port) ? port : undefined, nodeArgs);
  }

  /**
   * Starts the app on a free loopback port and waits until `readyPath` answers 200 (by default
   * readiness; `/health/live` when Redis is meant to be away). Retries on another port if the
   * chosen one was taken in between. `nodeArgs` go to node before the script (`--expose-gc`).
   */
  static async startServing(
    env: Record<string, string>,
    readyPath = '/health/ready',
    { nodeArgs = [] }: { nodeArgs?: readonly string[] } = {},
  ): Promise<AppProcess> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const app = AppProcess.spawn(
        { ...env, PORT: String(await freePort()), HOST: '127.0.0.1' },
        { nodeArgs },
      );
      try {
        await app.waitUntilServing(readyPath);
        return app;
      } catch (error) {
        lastError = error;
        await app.stop();
        if (!app.output.includes('EADDRINUSE')) break;
      }
    }
    throw lastError;
  }

  get output(): string {
    return `${this.stdout}${this.stderr}`;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** The exit, within `ms`; the error carries the output, which says why. */
  async waitForExit(ms: number): Promise<ExitInfo> {
    try {
      return await withTimeout(this.exited, ms, 'the app process to exit');
    } catch (error) {
      throw new Error(`${(error as Error).message}; output:\n${this.output}`);
    }
  }

  async waitUntilServing(path = '/health/ready', ms = READY_TIMEOUT_MS): Promise<void> {
    const ready = async (): Promise<boolean> => {
      if (!this.running) throw new Error(`the app exited (${JSON.stringify(this.exitInfo)})`);
      try {
        const response = await fetch(`${this.httpUrl}${path}`);
        await response.body?.cancel();
        return response.status === 200;
      } catch {
        return false; // not listening yet
      }
    };
    try {
      await waitUntil(ready, ms, `GET ${path} on port ${this.port} to answer 200`, 50);
    } catch (error) {
      throw new Error(`${(error as Error).message}; output:\n${this.output}`);
    }
  }

  /** Kills the process if it still runs, and waits for it to be gone. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await withTimeout(this.exited, KILLED_EXIT_TIMEOUT_MS, 'the killed app process to exit');
  }
}
