import { spawnSync } from 'node:child_process';

/**
 * Checks that the processes of the run may each hold `needed` descriptors (the target and the
 * load workers hold one per connection). Node raises its own soft limit to the hard limit when it
 * starts, and every process the bench starts inherits that, so the hard limit is what counts.
 */
export function checkFileLimit(needed: number): void {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  const limit = out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
  if (Number.isFinite(limit) && limit < needed) {
    throw new Error(
      `the run needs ${needed} open files per process but the limit is ${limit}: ` +
        `raise it (ulimit -Hn ${needed} as root) or lower the connection counts`,
    );
  }
}
