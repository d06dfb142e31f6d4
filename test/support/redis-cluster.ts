import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnRedisServer, stopRedisProcess } from './redis-process.js';
import { waitUntil } from './with-timeout.js';

const SLOTS = 16_384;
const FORMED_TIMEOUT_MS = 15_000;
/** A failover takes the node timeout, then an election of about a second. */
const FAILOVER_TIMEOUT_MS = 20_000;
const MIGRATE_BATCH = 100;

interface ClusterNodeProcess {
  port: number;
  busPort: number;
  dir: string;
  /** Undefined while the node is stopped (killPrimary) until restartNode. */
  process: ChildProcess | undefined;
  /** The primary's port this node was started as a replica of; undefined for a primary. */
  replicaOf: number | undefined;
}

export interface RedisClusterOptions {
  primaries?: number;
  /** Replicas per primary, so that a killed primary fails over. Default 0. */
  replicasPerPrimary?: number;
  /**
   * `cluster-node-timeout`: how soon an unreachable node counts as failed, so how soon a replica
   * takes over. Default: Redis' own (15 s), which a busy machine never trips by accident.
   */
  nodeTimeoutMs?: number;
  /**
   * `requirepass` (and `masterauth`, so replicas sync) on every node; the support's own
   * connections authenticate with it. Default: none.
   */
  password?: string;
}

/** One row of CLUSTER SLOTS: the range, its primary, then its replicas. */
type SlotRange = [number, number, [string, number, string?], ...Array<[string, number, string?]>];

/**
 * A Redis Cluster of the test's own: `primaries` redis-server processes in cluster mode on free
 * loopback ports (and free cluster-bus ports, so no port + 10000 can collide), optionally
 * replicas of each, the 16,384 slots split evenly over the primaries. Only the processes and
 * directories made here are ever stopped or removed.
 */
export class RedisCluster {
  private constructor(
    private readonly members: ClusterNodeProcess[],
    private readonly nodeTimeoutMs: number | undefined,
    private readonly password: string | undefined,
  ) {}

  /** The primaries as `host:port` (the seeds REDIS_CLUSTER_NODES takes), as started. */
  get nodes(): string[] {
    return this.members
      .filter((member) => member.replicaOf === undefined)
      .map((member) => `127.0.0.1:${member.port}`);
  }

  /** Ports of the nodes started as primaries. */
  get ports(): number[] {
    return this.members
      .filter((member) => member.replicaOf === undefined)
      .map((member) => member.port);
  }

  /** Ports of every node started, replicas included. */
  get allPorts(): number[] {
    return this.members.map((member) => member.port);
  }

  static async start({
    primaries = 3,
    replicasPerPrimary = 0,
    nodeTimeoutMs,
    password,
  }: RedisClusterOptions = {}): Promise<RedisCluster> {
    const cluster = new RedisCluster([], nodeTimeoutMs, password);
    try {
      for (let index = 0; index < primaries; index += 1) {
        cluster.members.push(await startClusterNode(nodeTimeoutMs, password));
      }
      const primaryPorts = cluster.ports;
      for (const port of primaryPorts) {
        for (let index = 0; index < replicasPerPrimary; index += 1) {
          cluster.members.push({
            ...(await startClusterNode(nodeTimeoutMs, password)),
            replicaOf: port,
          });
        }
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

  /** The slot ranges and their owners (port of the primary), as a node that is up reports them. */
  async slotOwners(): Promise<Array<{ from: number; to: number; port: number }>> {
    return this.withNode(this.runningPorts()[0], async (connection) => {
      const ranges = (await connection.call('CLUSTER', 'SLOTS')) as SlotRange[];
      return ranges.map(([from, to, owner]) => ({ from, to, port: Number(owner[1]) }));
    });
  }

  /** The port of the primary that owns `slot`. */
  async ownerOf(slot: number): Promise<number> {
    const owner = (await this.slotOwners()).find(({ from, to }) => slot >= from && slot <= to);
    if (!owner) throw new Error(`No node owns slot ${slot}`);
    return owner.port;
  }

  /**
   * Moves `slot` to the primary at `targetPort` as redis-cli --cluster reshard does: IMPORTING on
   * the target, MIGRATING on the source, MIGRATE of its keys in batches, then SETSLOT NODE on the
   * target, the source and every other node. Writes during the move get ASK redirects.
   */
  async migrateSlot(slot: number, targetPort: number): Promise<void> {
    const sourcePort = await this.ownerOf(slot);
    if (sourcePort === targetPort) return;
    const ports = this.runningPorts();
    const connections = new Map(ports.map((port) => [port, connect(port, this.password)]));
    const on = (port: number): Redis => {
      const connection = connections.get(port);
      if (!connection) throw new Error(`Node ${port} is not running`);
      return connection;
    };
    try {
      const sourceId = String(await on(sourcePort).call('CLUSTER', 'MYID'));
      const targetId = String(await on(targetPort).call('CLUSTER', 'MYID'));
      await on(targetPort).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId);
      await on(sourcePort).call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId);
      for (;;) {
        const keys = (await on(sourcePort).call(
          'CLUSTER',
          'GETKEYSINSLOT',
          slot,
          MIGRATE_BATCH,
        )) as string[];
        if (keys.length === 0) break;
        await on(sourcePort).call(
          'MIGRATE',
          '127.0.0.1',
          targetPort,
          '',
          0,
          5_000,
          ...(this.password === undefined ? [] : ['AUTH', this.password]),
          'KEYS',
          ...keys,
        );
      }
      await on(targetPort).call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
      await on(sourcePort).call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
      for (const port of ports) {
        if (port === sourcePort || port === targetPort) continue;
        // A replica follows its primary; SETSLOT on it is refused, and not needed.
        await on(port)
          .call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId)
          .catch(() => undefined);
      }
      await this.waitForAgreement(`slot ${slot} on ${targetPort} everywhere`, (view) =>
        view.owners.some(({ from, to, port }) => slot >= from && slot <= to && port === targetPort),
      );
    } finally {
      for (const connection of connections.values()) connection.disconnect();
    }
  }

  /** WAIT on the primary at `port`: resolves with the replicas that have its writes so far. */
  async waitForReplicas(port: number, timeoutMs = 5_000): Promise<number> {
    return this.withNode(port, async (connection) =>
      Number(await connection.call('WAIT', 1, timeoutMs)),
    );
  }

  /** Kills (SIGKILL) the node at `port`, keeping its directory for restartNode. */
  async killNode(port: number): Promise<void> {
    const member = this.member(port);
    await stopRedisProcess(member.process, 'SIGKILL');
    member.process = undefined;
  }

  /**
   * Kills the primary at `port`; with a replica, resolves once the replica took over its slots
   * (the port of the new owner), without one at once (undefined).
   */
  async killPrimary(port: number): Promise<number | undefined> {
    const replica = this.members.find(
      (member) => member.replicaOf === port && member.process !== undefined,
    );
    await this.killNode(port);
    if (!replica) return undefined;
    await this.waitForAgreement(
      `replica ${replica.port} promoted in place of ${port}`,
      (view) => view.ok && view.owners.every((owner) => owner.port !== port),
      FAILOVER_TIMEOUT_MS,
    );
    return replica.port;
  }

  /** Starts a killed node again on its port, with its cluster state file; waits for cluster_state:ok. */
  async restartNode(port: number): Promise<void> {
    const member = this.member(port);
    if (member.process) return;
    member.process = await spawnClusterNode(
      member.port,
      member.busPort,
      member.dir,
      this.nodeTimeoutMs,
      this.password,
    );
    await this.waitForAgreement(
      `node ${port} back in the cluster`,
      (view) => view.ok,
      FAILOVER_TIMEOUT_MS,
      [port],
    );
  }

  private member(port: number): ClusterNodeProcess {
    const member = this.members.find((candidate) => candidate.port === port);
    if (!member) throw new Error(`No node of this cluster on port ${port}`);
    return member;
  }

  private runningPorts(): number[] {
    return this.members.filter((member) => member.process).map((member) => member.port);
  }

  private async withNode<T>(port: number, use: (connection: Redis) => Promise<T>): Promise<T> {
    const connection = connect(port, this.password);
    try {
      return await use(connection);
    } finally {
      connection.disconnect();
    }
  }

  /** Polls every running node (or `mustInclude` and the rest) until all agree and `accept` holds. */
  private async waitForAgreement(
    what: string,
    accept: (view: ClusterView) => boolean,
    timeoutMs = FORMED_TIMEOUT_MS,
    mustInclude: number[] = [],
  ): Promise<void> {
    const ports = [...new Set([...this.runningPorts(), ...mustInclude])];
    const connections = ports.map((port) => connect(port, this.password));
    try {
      await waitUntil(
        async () => {
          try {
            const views = await Promise.all(connections.map((c) => clusterView(c)));
            return views.every((view) => view.slots === views[0].slots && accept(view));
          } catch {
            return false;
          }
        },
        timeoutMs,
        what,
        50,
      );
    } finally {
      for (const connection of connections) connection.disconnect();
    }
  }

  /**
   * Assigns the slots (contiguous ranges, one per primary), joins the nodes, attaches the
   * replicas, and waits for agreement (and for each replica's link to its primary).
   */
  private async form(): Promise<void> {
    const connections = new Map(
      this.members.map((member) => [member.port, connect(member.port, this.password)]),
    );
    const primaries = this.members.filter((member) => member.replicaOf === undefined);
    const replicas = this.members.filter((member) => member.replicaOf !== undefined);
    const on = (port: number): Redis => connections.get(port) as Redis;
    try {
      const share = Math.ceil(SLOTS / primaries.length);
      await Promise.all(
        primaries.map((member, index) =>
          on(member.port).call(
            'CLUSTER',
            'ADDSLOTSRANGE',
            index * share,
            Math.min(SLOTS, (index + 1) * share) - 1,
          ),
        ),
      );
      // The bus port is not port + 10000 here, so MEET names it.
      const [first] = this.members;
      for (const member of this.members.slice(1)) {
        await on(first.port).call('CLUSTER', 'MEET', '127.0.0.1', member.port, member.busPort);
      }
      await waitUntil(
        async () => {
          const views = await Promise.all(this.members.map((m) => clusterView(on(m.port))));
          return views.every((view) => view.knownNodes === this.members.length);
        },
        FORMED_TIMEOUT_MS,
        'every cluster node to know the others',
      );
      for (const replica of replicas) {
        const primaryId = String(await on(replica.replicaOf ?? 0).call('CLUSTER', 'MYID'));
        await on(replica.port).call('CLUSTER', 'REPLICATE', primaryId);
      }
      await waitUntil(
        async () => {
          const views = await Promise.all(this.members.map((m) => clusterView(on(m.port))));
          const linked = await Promise.all(
            replicas.map(async (replica) =>
              /^master_link_status:up/m.test(String(await on(replica.port).info('replication'))),
            ),
          );
          return (
            views.every((view) => view.ok && view.slots === views[0].slots) && linked.every(Boolean)
          );
        },
        FORMED_TIMEOUT_MS,
        'every cluster node to report cluster_state:ok and the same slot map',
      );
    } finally {
      for (const connection of connections.values()) connection.disconnect();
    }
  }
}

interface ClusterView {
  ok: boolean;
  knownNodes: number;
  /** The ranges and their owners' ports, as one string to compare. */
  slots: string;
  owners: Array<{ from: number; to: number; port: number }>;
}

function connect(port: number, password: string | undefined): Redis {
  const connection = new Redis(port, '127.0.0.1', {
    password,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  connection.on('error', () => undefined);
  return connection;
}

async function clusterView(connection: Redis): Promise<ClusterView> {
  const info = String(await connection.call('CLUSTER', 'INFO'));
  const ranges = (await connection.call('CLUSTER', 'SLOTS')) as SlotRange[];
  const owners = ranges.map(([from, to, owner]) => ({ from, to, port: Number(owner[1]) }));
  // Node ids and order aside.
  const slots = owners
    .map(({ from, to, port }) => `${from}-${to}@${port}`)
    .sort()
    .join(',');
  return {
    ok: /^cluster_state:ok$/m.test(info),
    knownNodes: Number(/^cluster_known_nodes:(\d+)$/m.exec(info)?.[1] ?? 0),
    slots,
    owners,
  };
}

function spawnClusterNode(
  port: number,
  busPort: number,
  dir: string,
  nodeTimeoutMs: number | undefined,
  password: string | undefined,
): Promise<ChildProcess> {
  return spawnRedisServer(port, [
    ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password]),
    '--cluster-enabled',
    'yes',
    '--cluster-port',
    String(busPort),
    '--cluster-config-file',
    join(dir, `nodes-${port}.conf`),
    ...(nodeTimeoutMs === undefined ? [] : ['--cluster-node-timeout', String(nodeTimeoutMs)]),
    // A replica may take over however long its link was down: the tests want a failover.
    '--cluster-replica-validity-factor',
    '0',
    '--dir',
    dir,
  ]);
}

async function startClusterNode(
  nodeTimeoutMs: number | undefined,
  password: string | undefined,
): Promise<ClusterNodeProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const [port, busPort] = [await freePort(), await freePort()];
    const dir = await mkdtemp(join(tmpdir(), 'gateway-cluster-'));
    try {
      const child = await spawnClusterNode(port, busPort, dir, nodeTimeoutMs, password);
      return { port, busPort, dir, process: child, replicaOf: undefined };
    } catch (error) {
      lastError = error; // Most likely a port was taken in between; pick others.
      await rm(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}
