import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { quitGracefully } from './quit-gracefully.js';

/**
 * The connection for ordinary commands (GET, SET, PUBLISH...), separate from the subscriber,
 * which Redis restricts to pub/sub commands. Connected with the application, quit at shutdown.
 */
export class RedisCommandClient implements OnModuleInit, OnApplicationShutdown {
  constructor(readonly connection: Redis) {}

  onModuleInit(): void {
    // Not awaited: the service starts even while Redis is unreachable.
    this.connection.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await quitGracefully(this.connection);
  }
}
