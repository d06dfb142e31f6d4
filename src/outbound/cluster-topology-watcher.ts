import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { clusterSlotOf, slotOfPartition } from '../redis/cluster-slot.js';
import { REDIS_OPTIONS, type ResolvedRedisOptions } from '../redis/redis-options.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { canaryPartitions } from './canary-partitions.js';
import { DataPathCanary } from './data-path-canary.js';
import { ShardChannelSubscriptions, type ShardSubscriber } from './shard-channel-subscriptions.js';
import { TaskUpdateDelivery } from './task-update-delivery.js';

/** The part of ioredis' Cluster (with `shardedSubscribers`) used here; fakeable in units. */
export interface ClusterTopologySource extends ShardSubscriber {
  /** Slot -> [primary, ...replicas] as `host:port`, as the client last refreshed it. */
  readonly slots: ReadonlyArray<readonly string[] | undefined>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Events of the Cluster after which slots or sharded subscribers may have changed. */
const TOPOLOGY_EVENTS = ['refresh', 'subscribersReady', '+subscriber'] as const;
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

interface NodeRetry {
  failures: number;
  retryAt: number;
}

/**
 * Keeps the shard channels subscribed across topology changes of a Redis Cluster. ioredis
 * re-sends the SSUBSCRIBEs it knows after a slot moves or a primary fails over, but a failure
 * there only goes to its debug log and nothing resyncs; so this watcher remembers on which
 * primary each partition's channels were last confirmed, and on the Cluster's topology events
 * (`refresh`, `subscribersReady`, `+subscriber`, and `-node` for a lost sharded subscriber)
 * subscribes again every partition whose owner changed or whose subscriber was lost, one
 * SSUBSCRIBE per partition, retried with backoff per primary until confirmed. Each round that
 * confirms something resyncs the watched tasks' stored states (the tracker's version guard drops
 * anything not newer), re-aims the per-primary canaries and reports each primary's state.
 */
@Injectable()
export class ClusterTopologyWatcher implements OnApplicationShutdown {
  private readonly logger = new Logger(ClusterTopologyWatcher.name);
  private source: ClusterTopologySource | undefined;
  /** Partition -> the primary its channels were last confirmed on. */
  private readonly confirmedOn = new Map<number, string>();
  /** Partitions to subscribe again. */
  private readonly pending = new Set<number>();
  /** Primaries whose sharded subscriber was lost, until an SSUBSCRIBE on them succeeds. */
  private readonly down = new Set<string>();
  private readonly retries = new Map<string, NodeRetry>();
  private readonly partitionSlots: number[];
  private running: Promise<void> | undefined;
  private again = false;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Rounds that confirmed at least one partition again; for tests and logs. */
  resubscriptionRounds = 0;

  private readonly onTopology = (): void => this.schedule();
  private readonly onNodeLost = (_redis: unknown, node?: unknown): void => {
    if (typeof node === 'string') this.nodeLost(node);
    this.schedule();
  };

  constructor(
    @Inject(REDIS_OPTIONS) options: ResolvedRedisOptions,
    private readonly status: RedisSubscriptionStatus,
    private readonly shardChannels: ShardChannelSubscriptions,
    private readonly canary: DataPathCanary,
    private readonly delivery: TaskUpdateDelivery,
  ) {
    this.partitionSlots = Array.from({ length: options.partitions }, (_, p) => slotOfPartition(p));
  }

  /**
   * The Cluster is ready (again): aims the canaries at its primaries (their channels are then
   * subscribed by the caller) and starts following its topology events.
   */
  attach(source: ClusterTopologySource): void {
    this.detach();
    this.source = source;
    for (const event of TOPOLOGY_EVENTS) source.on(event, this.onTopology);
    source.on('-node', this.onNodeLost);
    this.refreshPrimaries();
  }

  /** Everything held was just subscribed through the ready Cluster: those are confirmed. */
  attached(): void {
    for (const partition of this.wantedByPartition().keys()) {
      const owner = this.ownerOf(partition);
      if (owner !== undefined && !this.pending.has(partition)) {
        this.confirmedOn.set(partition, owner);
      }
    }
    this.updateNodeStates();
    // Anything that moved while the subscriptions were under way.
    this.schedule();
  }

  /** The Cluster connection is gone: its subscriptions and nodes with it. */
  detach(): void {
    if (this.source) {
      for (const event of TOPOLOGY_EVENTS) this.source.removeListener(event, this.onTopology);
      this.source.removeListener('-node', this.onNodeLost);
    }
    this.source = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.confirmedOn.clear();
    this.pending.clear();
    this.down.clear();
    this.retries.clear();
    this.status.clearNodes();
  }

  onApplicationShutdown(): void {
    this.detach();
  }

  /** One round, or the one under way and one more after it. Public for tests. */
  reconcile(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.reconcile();
      }
    });
    return this.running;
  }

  /** Coalesces a burst of events (a failover brings several) into one round. */
  private schedule(): void {
    if (!this.source || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.source) void this.reconcile();
    });
  }

  private nodeLost(node: string): void {
    if (!this.down.has(node)) this.logger.warn(`Lost the sharded subscriber of ${node}`);
    this.down.add(node);
    for (const [partition, owner] of this.confirmedOn) {
      if (owner !== node) continue;
      this.confirmedOn.delete(partition);
      this.pending.add(partition);
    }
    this.status.markNode(node, 'down');
  }

  private async round(): Promise<void> {
    const source = this.source;
    if (!source) return;
    const moved = this.refreshPrimaries();
    for (const partition of moved) this.pending.add(partition);
    const wanted = this.wantedByPartition();
    for (const [partition, channels] of wanted) {
      if (channels.length === 0) continue;
      if (this.confirmedOn.get(partition) !== this.ownerOf(partition)) {
        this.confirmedOn.delete(partition);
        this.pending.add(partition);
      }
    }
    for (const partition of this.pending)
      if (!wanted.has(partition)) this.pending.delete(partition);
    for (const partition of this.confirmedOn.keys()) {
      if (!wanted.has(partition)) this.confirmedOn.delete(partition);
    }

    const now = Date.now();
    const sends: Array<Promise<{ partition: number; owner: string; error?: unknown }>> = [];
    for (const partition of this.pending) {
      const owner = this.ownerOf(partition);
      const channels = wanted.get(partition);
      if (owner === undefined || !channels) continue;
      if ((this.retries.get(owner)?.retryAt ?? 0) > now) continue;
      sends.push(
        source.ssubscribe(...channels).then(
          () => ({ partition, owner }),
          (error: unknown) => ({ partition, owner, error: error ?? 'failed' }),
        ),
      );
    }
    const results = await Promise.all(sends);
    if (this.source !== source) return;

    let confirmed = 0;
    for (const { partition, owner, error } of results) {
      if (error !== undefined) {
        this.backOff(owner, error);
      } else if (this.ownerOf(partition) === owner) {
        // Still the owner: confirmed. Otherwise it moved meanwhile and stays pending.
        this.confirmedOn.set(partition, owner);
        this.pending.delete(partition);
        this.down.delete(owner);
        this.retries.delete(owner);
        confirmed += 1;
      }
    }
    this.updateNodeStates();
    if (confirmed > 0) {
      this.resubscriptionRounds += 1;
      this.logger.log(`Subscribed ${confirmed} partition(s) again after a topology change`);
      // Updates published while a slot was moving are lost from pub/sub; their keys are not.
      void this.delivery.resync();
    }
    if (this.pending.size > 0) this.retryLater();
  }

  /** Re-reads the primaries; returns the partitions whose canary channel is new. */
  private refreshPrimaries(): number[] {
    const primaries = new Set<string>();
    for (const owners of this.source?.slots ?? []) if (owners?.[0]) primaries.add(owners[0]);
    this.status.setNodes(primaries);
    for (const node of this.down) if (!primaries.has(node)) this.down.delete(node);
    if (!this.canary.enabled) return [];
    const before = new Set(this.canary.channels);
    this.canary.retarget(
      canaryPartitions(this.partitionSlots.length, (slot) => this.source?.slots[slot]?.[0]),
    );
    const fresh: number[] = [];
    for (const [partition, channels] of this.canary.channelsByPartition) {
      if (channels.some((channel) => !before.has(channel))) fresh.push(partition);
    }
    return fresh;
  }

  private wantedByPartition(): Map<number, string[]> {
    const wanted = this.shardChannels.heldByPartition();
    if (!this.canary.enabled) return wanted;
    for (const [partition, channels] of this.canary.channelsByPartition) {
      wanted.set(partition, [...(wanted.get(partition) ?? []), ...channels]);
    }
    return wanted;
  }

  private ownerOf(partition: number): string | undefined {
    const count = this.partitionSlots.length;
    // Past the tasks' partitions: a group's, `partitions + p`, whose hash tag is `{g<p>}`.
    const slot =
      partition < count
        ? this.partitionSlots[partition]
        : partition < 2 * count
          ? clusterSlotOf(`{g${partition - count}}`)
          : undefined;
    return slot === undefined ? undefined : this.source?.slots[slot]?.[0];
  }

  private updateNodeStates(): void {
    const busy = new Map<string, boolean>();
    for (const partition of this.wantedByPartition().keys()) {
      const owner = this.ownerOf(partition);
      if (owner === undefined) continue;
      busy.set(owner, (busy.get(owner) ?? false) || this.pending.has(partition));
    }
    for (const node of this.status.nodes.keys()) {
      if (!busy.has(node)) {
        // Nothing of this instance lives there: nothing to confirm, so nothing to wait for.
        this.down.delete(node);
        this.status.markNode(node, 'idle');
      } else if (this.down.has(node)) {
        this.status.markNode(node, 'down');
      } else {
        this.status.markNode(node, busy.get(node) ? 'resubscribing' : 'subscribed');
      }
    }
  }

  private backOff(node: string, error: unknown): void {
    const failures = (this.retries.get(node)?.failures ?? 0) + 1;
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failures, 10));
    this.retries.set(node, { failures, retryAt: Date.now() + delay });
    if (failures === 1) {
      this.logger.warn(`SSUBSCRIBE on ${node} failed (${String(error)}); retrying`);
    }
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    const now = Date.now();
    let at = now + RETRY_MAX_MS;
    for (const { retryAt } of this.retries.values()) at = Math.min(at, retryAt);
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.schedule();
      },
      Math.max(RETRY_BASE_MS, at - now),
    );
    this.retryTimer.unref();
  }
}
