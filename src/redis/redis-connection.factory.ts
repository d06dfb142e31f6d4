import { Injectable, Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { ThrottledLogger } from '../logging/throttled-logger.js';

const MAX_RECONNECT_DELAY_MS = 5_000;

/** Exponential backoff with full jitter, capped, and never giving up: Redis may come back any time. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(attempt, 10));
  return Math.max(50, Math.round(ceiling * random()));
}

/**
 * Builds ioredis connections with the settings every connection of this service needs: lazy
 * connect (so Nest's lifecycle decides when), endless reconnects with backoff, a name visible in
 * CLIENT LIST, and an error listener (an unhandled 'error' event would crash the process).
 */
@Injectable()
export class RedisConnectionFactory {
  private readonly logger = new Logger('Redis');
  private readonly errors = new ThrottledLogger(this.logger, 5, 30_000);

  create(url: string, role: string, overrides: RedisOptions = {}): Redis {
    const connection = new Redis(url, {
      lazyConnect: true,
      connectionName: `task-status-gateway:${role}`,
      retryStrategy: (attempt) => reconnectDelay(attempt),
      maxRetriesPerRequest: null,
      connectTimeout: 5_000,
      ...overrides,
    });
    connection.on('error', (error: Error) => {
      this.errors.warn(`${role} connection error: ${error.message}`);
    });
    return connection;
  }
}
