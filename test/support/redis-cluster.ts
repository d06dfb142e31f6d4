import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnRedisServer, stopRedisProcess } from './redis-process.js';
import { waitUntil } from './with-timeout.js';

const SLOTS = 16_384;
const FORMED_TIMEOUT_MS = 15_000;

interface ClusterNodeProcess {
  port: number;
  busPort: number;
  dir: string;
  process: ChildProcess;
}

/**
 * A Redis Cluster of the test's own: `primaries` redis-server processes in cluster mode on free
 * loopback ports (and free cluster-bus ports, so no port + 10000 can collide), no replicas, the
 * 16,384 slots split evenly. Only the processes and directories made here are ever removed.
 */
export class RedisCluster {
  private constructor(private readonly members: ClusterNodeProcess[]) {}

  /** The nodes as `host:port`, the form REDIS_CLUSTER_NODES takes. */
  get nodes(): string[] {
    return this.members.map((member) => `127.0.0.1:${member.port}`);
  }

  get ports(): number[] {
    return this.members.map((member) => member.port);
  }

  static async start({ primaries = 3 }: { primaries?: number } = {}): Promise<RedisCluster> {
    const cluster = new RedisCluster([]);
    try {
      for (let index = 0; index < primaries; index += 1) {
        cluster.members.push(await startClusterNode());
      }
      await cluster.form();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const members = this.members.splice(0);
    await Promise.all(
      members.map(async (member) => {
        await stopRedisProcess(member.process);
        await rm(member.dir, { recursive: true, force: true });
      }),
    );
  }

  /** Assigns the slots (contiguous ranges, one per node), joins the nodes, waits for agreement. */
  private async form(): Promise<void> {
    const connections = this.members.map(
      (member) => new Redis(member.port, '127.0.0.1', { maxRetriesPerRequest: 1 }),
    );
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
      // The bus port is not port + 10000 here, so MEET names it.
      for (const member of this.members.slice(1)) {
        await connections[0].call('CLUSTER', 'MEET', '127.0.0.1', member.port, member.busPort);
      }
      await waitUntil(
        async () => {
          const views = await Promise.all(connections.map((connection) => clusterView(connection)));
          return (
            views.every((view) => view.ok && view.knownNodes === connections.length) &&
            views.every((view) => view.slots === views[0].slots)
          );
        },
        FORMED_TIMEOUT_MS,
        'every cluster node to report cluster_state:ok and the same slot map',
      );
    } finally {
      for (const connection of connections) connection.disconnect();
    }
  }
}

async function clusterView(
  connection: Redis,
): Promise<{ ok: boolean; knownNodes: number; slots: string }> {
  const info = String(await connection.call('CLUSTER', 'INFO'));
  const slots = (await connection.call('CLUSTER', 'SLOTS')) as Array<
    [number, number, ...unknown[]]
  >;
  // The ranges and their owners' ports; node ids and order aside.
  const map = slots
    .map(([from, to, owner]) => `${from}-${to}@${String((owner as unknown[])[1])}`)
    .sort()
    .join(',');
  return {
    ok: /^cluster_state:ok$/m.test(info),
    knownNodes: Number(/^cluster_known_nodes:(\d+)$/m.exec(info)?.[1] ?? 0),
    slots: map,
  };
}

async function startClusterNode(): Promise<ClusterNodeProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const [port, busPort] = [await freePort(), await freePort()];
    const dir = await mkdtemp(join(tmpdir(), 'gateway-cluster-'));
    try {
      const child = await spawnRedisServer(port, [
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(busPort),
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--dir',
        dir,
      ]);
      return { port, busPort, dir, process: child };
    } catch (error) {
      lastError = error; // Most likely a port was taken in between; pick others.
      await rm(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}
