import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { logContext } from './log-context.js';

/**
 * Nest's console logger, plus the fields of the current log context (the request id) as
 * structured params: top-level keys of each JSON line, `{ request_id: … }` after a text line.
 */
export class ContextAwareLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    const fields = logContext.getStore();
    const merged = fields ? { ...fields, ...params } : params;
    super.printMessages(messages, context, logLevel, writeStreamType, errorStack, merged);
  }
}
