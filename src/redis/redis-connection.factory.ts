import { Injectable, Logger } from '@nestjs/common';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ThrottledLogger } from '../logging/throttled-logger.js';
import { clusterNodeCredentials } from './cluster-node-credentials.js';
import { redisErrorMessage } from './redis-error-message.js';

const MAX_RECONNECT_DELAY_MS = 5_000;

/** A connection to a single Redis or to a Redis Cluster; the commands used here exist on both. */
export type RedisConnection = Redis | Cluster;

/** Exponential backoff with full jitter, capped, and never giving up: Redis may come back any time. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(attempt, 10));
  return Math.max(50, Math.round(ceiling * random()));
}

/** `host:port` (or `[ipv6]:port`) as REDIS_CLUSTER_NODES gives it. */
export function parseClusterNode(node: string): { host: string; port: number } {
  const colon = node.lastIndexOf(':');
  const host = node.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(node.slice(colon + 1));
  if (colon <= 0 || host === '' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`Not a host:port: "${node}"`);
  }
  return { host, port };
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
    this.listenForErrors(connection, role);
    return connection;
  }

  /**
   * A Cluster client on the seed `nodes` (`host:port`); it discovers the others. `redisOptions`
   * apply to its connection to each node (ioredis passes them to the sharded subscribers too),
   * and so do the username, password and TLS of `url` (REDIS_URL): its host, port and db are not
   * used.
   */
  createCluster(
    nodes: readonly string[],
    url: string,
    role: string,
    overrides: Omit<ClusterOptions, 'redisOptions'> = {},
    redisOptions: ClusterOptions['redisOptions'] = {},
  ): Cluster {
    const connection = new Cluster(nodes.map(parseClusterNode), {
      lazyConnect: true,
      clusterRetryStrategy: (attempt) => reconnectDelay(attempt),
      redisOptions: {
        connectionName: `task-status-gateway:${role}`,
        maxRetriesPerRequest: null,
        connectTimeout: 5_000,
        ...clusterNodeCredentials(url),
        ...redisOptions,
      },
      ...overrides,
    });
    this.listenForErrors(connection, role);
    // A node's own errors (one primary down while the others serve) come on this event instead.
    connection.on('node error', (error: Error, node: string) => {
      this.errors.warn(`${role} connection error (${node}): ${error.message}`);
    });
    return connection;
  }

  private listenForErrors(connection: RedisConnection, role: string): void {
    connection.on('error', (error: Error) => {
      this.errors.warn(`${role} connection error: ${redisErrorMessage(error)}`);
    });
  }
}
