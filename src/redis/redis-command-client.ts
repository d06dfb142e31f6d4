import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { quitGracefully } from './quit-gracefully.js';
import type { RedisConnection } from './redis-connection.factory.js';

/**
 * The connection for ordinary commands (GET, SET, PUBLISH...), separate from the subscriber,
 * which Redis restricts to pub/sub commands; a single Redis or a Cluster client. Connected with
 * the application, quit at shutdown.
 */
export class RedisCommandClient implements OnModuleInit, OnApplicationShutdown {
  constructor(readonly connection: RedisConnection) {}

  /** A Redis Cluster: a command or transaction may only touch keys of one slot. */
  get isCluster(): boolean {
    return this.connection.isCluster;
  }

  onModuleInit(): void {
    // Not awaited: the service starts even while Redis is unreachable.
    this.connection.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await quitGracefully(this.connection);
  }
}
