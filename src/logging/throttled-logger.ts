import type { Logger } from '@nestjs/common';

/**
 * Logs at most `maxPerWindow` warnings per window and then one summary of how many were held
 * back, so that a flood of bad input cannot turn into a flood of log lines.
 */
export class ThrottledLogger {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly maxPerWindow = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(message: string): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) {
        this.logger.warn(
          `${this.suppressed} similar messages suppressed in the last ${Math.round(this.windowMs / 1000)}s`,
        );
      }
      this.windowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged < this.maxPerWindow) {
      this.logged += 1;
      this.logger.warn(message);
    } else {
      this.suppressed += 1;
    }
  }
}
