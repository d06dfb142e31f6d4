import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ProcessRegistry } from './process-registry.js';
import { freePort, RedisServerProcess } from './redis-server-process.js';
import { pollUntil } from './timeouts.js';

const SLOTS = 16_384;
const FORMED_TIMEOUT_MS = 20_000;

/**
 * The bench's own Redis Cluster: `primaries` redis-server processes in cluster mode on free
 * loopback ports, each with a free cluster-bus port (named in MEET, so no port + 10000 can
 * collide), no replicas, the 16,384 slots split in contiguous ranges. Its nodes.conf files live in
 * a temporary directory removed at stop(); only the processes started here are ever signalled.
 */
export class RedisClusterProcess {
  private constructor(
    readonly nodes: RedisServerProcess[],
    private readonly dir: string,
  ) {}

  /** `host:port` of every primary, the form REDIS_CLUSTER_NODES takes. */
  get seeds(): string[] {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`);
  }

  static async start(
    registry: ProcessRegistry,
    cpus: string | undefined,
    primaries: number,
  ): Promise<RedisClusterProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
    const cluster = new RedisClusterProcess([], dir);
    const busPorts = new Map<number, number>();
    try {
      for (let index = 0; index < primaries; index += 1) {
        const node = await RedisServerProcess.start(registry, cpus, async (port) => {
          const busPort = await freePort();
          busPorts.set(port, busPort);
          return [
            '--cluster-enabled',
            'yes',
            '--cluster-port',
            String(busPort),
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--dir',
            dir,
          ];
        });
        cluster.nodes.push(node);
      }
      await cluster.form(busPorts);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.splice(0).map((node) => node.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Assigns the slots, joins the nodes, and waits until every node reports the same map. */
  private async form(busPorts: Map<number, number>): Promise<void> {
    const connections = this.nodes.map(
      (node) => new Redis(node.port, '127.0.0.1', { maxRetriesPerRequest: 1 }),
    );
    for (const connection of connections) connection.on('error', () => undefined);
    try {
      const share = Math.ceil(SLOTS / connections.length);
      await Promise.all(
        connections.map((connection, index) =>
          connection.call(
            'CLUSTER',
            'ADDSLOTSRANGE',
            index * share,
            Math.min(SLOTS, (index + 1) * share) - 1,
          ),
        ),
      );
      for (const node of this.nodes.slice(1)) {
        await connections[0].call(
          'CLUSTER',
          'MEET',
          '127.0.0.1',
          node.port,
          busPorts.get(node.port) ?? node.port + 10_000,
        );
      }
      const formed = await pollUntil(
        async () => {
          const views = await Promise.all(connections.map((connection) => clusterView(connection)));
          return views.every(
            (view) =>
              view.ok && view.knownNodes === connections.length && view.slots === views[0].slots,
          );
        },
        FORMED_TIMEOUT_MS,
        100,
      );
      if (!formed) {
        throw new Error(`the Redis Cluster did not form within ${FORMED_TIMEOUT_MS} ms`);
      }
    } finally {
      for (const connection of connections) connection.disconnect();
    }
  }
}

async function clusterView(
  connection: Redis,
): Promise<{ ok: boolean; knownNodes: number; slots: string }> {
  const info = String(await connection.call('CLUSTER', 'INFO'));
  const slots = (await connection.call('CLUSTER', 'SLOTS')) as [number, number, unknown[]][];
  // The ranges and their owners' ports, node ids and order aside.
  const map = slots
    .map(([from, to, owner]) => `${from}-${to}@${String(owner[1])}`)
    .sort()
    .join(',');
  return {
    ok: /^cluster_state:ok$/m.test(info),
    knownNodes: Number(/^cluster_known_nodes:(\d+)$/m.exec(info)?.[1] ?? 0),
    slots: map,
  };
}
