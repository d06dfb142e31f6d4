import type { ChildProcess } from 'node:child_process';

/**
 * Every process the bench starts (redis-server, targets, load workers, helpers), so that all of
 * them are killed when the bench ends, fails, or is interrupted. Only these are ever signalled.
 */
export class ProcessRegistry {
  private readonly children = new Set<ChildProcess>();

  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  killAll(): void {
    for (const child of this.children) child.kill('SIGKILL');
    this.children.clear();
  }

  /** Kills the tracked processes on exit, Ctrl+C, SIGTERM and crashes. */
  installExitHandlers(): void {
    process.once('exit', () => this.killAll());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        console.error(`\n${signal}: stopping every process the bench started`);
        this.killAll();
        process.exit(130);
      });
    }
    process.once('uncaughtException', (error) => {
      console.error(error);
      this.killAll();
      process.exit(1);
    });
  }
}
