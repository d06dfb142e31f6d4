import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { LogFormat, LogLevelName } from '../config/environment-variables.js';

const NEST_LEVELS: Record<LogLevelName, LogLevel[]> = {
  DEBUG: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
  INFO: ['fatal', 'error', 'warn', 'log'],
  WARNING: ['fatal', 'error', 'warn'],
  ERROR: ['fatal', 'error'],
};

/** Maps LOG_LEVEL / LOG_FORMAT onto Nest's console logger (JSON lines in production). */
export function createAppLogger(level: LogLevelName, format: LogFormat): ConsoleLogger {
  return new ConsoleLogger({
    logLevels: NEST_LEVELS[level],
    json: format === 'json',
    colors: format === 'text' && Boolean(process.stdout.isTTY),
  });
}
