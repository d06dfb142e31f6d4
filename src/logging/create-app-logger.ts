import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { LogFormat, LogLevelName } from '../config/environment-variables.js';
import { ContextAwareLogger } from './context-aware-logger.js';

const NEST_LEVELS: Record<LogLevelName, LogLevel[]> = {
  DEBUG: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
  INFO: ['fatal', 'error', 'warn', 'log'],
  WARNING: ['fatal', 'error', 'warn'],
  ERROR: ['fatal', 'error'],
};

/** Maps LOG_LEVEL / LOG_FORMAT onto Nest's console logger (JSON lines in production). */
export function createAppLogger(level: LogLevelName, format: LogFormat): ConsoleLogger {
  return new ContextAwareLogger({
    logLevels: NEST_LEVELS[level],
    json: format === 'json',
    colors: format === 'text' && Boolean(process.stdout.isTTY),
    // Structured fields (request_id) as top-level keys of a JSON line.
    flattenParams: true,
    // Masks these keys wherever they appear in logged objects and params.
    redact: ['password', 'token', 'secret', 'authorization', 'cookie'],
  });
}
