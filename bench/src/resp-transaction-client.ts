import type { RedisLike, RedisTransactionLike } from '@task-status/client/publisher';
import { Redis } from 'ioredis';
import { RespConnection, type ExecReplies } from './resp-connection.js';
import { RespTransaction } from './resp-transaction.js';

/** The hash tag of a key or channel (`{...}`, Redis' rule), or the whole name. */
function hashTag(name: string): string {
  const open = name.indexOf('{');
  if (open < 0) return name;
  const close = name.indexOf('}', open + 1);
  return close > open + 1 ? name.slice(open + 1, close) : name;
}

/**
 * A `RedisLike` for `publishTaskStatus` of `@task-status/client/publisher`: the helper builds each
 * update's MULTI (SET + PUBLISH, or SET + SPUBLISH of the task's shard channel and key), and this
 * client writes it, pipelined, to a standalone Redis or to the cluster primary that owns the
 * slot of the transaction's hash tag (the task's partition `{p}`, one slot for key and channel).
 */
export class RespTransactionClient implements RedisLike {
  private constructor(
    private readonly connections: RespConnection[],
    /** Hash tag → connection, on a cluster; undefined on a standalone Redis. */
    private readonly routes: Map<string, RespConnection> | undefined,
  ) {}

  static async standalone(port: number): Promise<RespTransactionClient> {
    return new RespTransactionClient([await RespConnection.open(port)], undefined);
  }

  /**
   * Connects to every primary of a cluster and maps the `partitions` hash tags `{0}`…`{P-1}` to
   * their owners once (CLUSTER KEYSLOT and CLUSTER SLOTS): the bench's cluster does not reshard.
   */
  static async cluster(ports: number[], partitions: number): Promise<RespTransactionClient> {
    const admin = new Redis(ports[0], '127.0.0.1', { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    try {
      const ranges = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, unknown[]][];
      const pipeline = admin.pipeline();
      for (let p = 0; p < partitions; p += 1) pipeline.call('CLUSTER', 'KEYSLOT', `{${p}}`);
      const slots = ((await pipeline.exec()) ?? []).map(([error, slot]) => {
        if (error) throw error;
        return Number(slot);
      });
      const byPort = new Map<number, RespConnection>();
      for (const port of ports) byPort.set(port, await RespConnection.open(port));
      const routes = new Map<string, RespConnection>();
      slots.forEach((slot, p) => {
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        const connection = range ? byPort.get(Number(range[2][1])) : undefined;
        if (!connection) throw new Error(`no primary of the cluster owns slot ${slot}`);
        routes.set(String(p), connection);
      });
      return new RespTransactionClient([...byPort.values()], routes);
    } finally {
      admin.disconnect();
    }
  }

  multi(): RedisTransactionLike {
    return new RespTransaction((commands) => this.execute(commands));
  }

  execute(commands: string[][]): Promise<ExecReplies | null> {
    let connection = this.connections[0];
    if (this.routes) {
      const tag = hashTag(commands[0]?.[1] ?? '');
      const routed = this.routes.get(tag);
      if (!routed) return Promise.reject(new Error(`no route for the hash tag "${tag}"`));
      connection = routed;
    }
    return connection.transaction(commands);
  }

  /** Writes what every connection has batched. */
  flush(): void {
    for (const connection of this.connections) connection.flush();
  }

  close(): void {
    for (const connection of this.connections) connection.close();
  }
}
