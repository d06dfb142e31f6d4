import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { TaskStatusData } from '@task-status/client/protocol';
import { EventEmitter } from 'node:events';
import { RedisCommandClient } from '../redis/redis-command-client.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';
import { INSTANCE_ID } from '../core/task-status-core.module-definition.js';
import { CANARY_OPTIONS, type ResolvedCanaryOptions } from './canary-options.js';

/** Task ids starting with this are reserved for canaries: never subscribable, never delivered. */
export const CANARY_TASK_PREFIX = '__canary__:';

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** One canary channel: on a single Redis the only one, on a cluster one per primary. */
interface CanaryTarget {
  /** The primary (`host:port`) that owns the channel's slot; undefined on a single Redis. */
  node: string | undefined;
  partition: number;
  taskId: string;
  channel: string;
  /** When the outstanding canary was sent. */
  pendingSince: number | undefined;
}

/**
 * Proves the data path, not just the connection: every interval it publishes a small message on
 * the very channel the updates use (in sharded mode: SPUBLISH on its own task's shard channel,
 * which the subscriber subscribes at connect), and expects it back through the subscription.
 * When one is overdue, readiness fails and `stalled` is emitted so that the subscriber reconnects.
 * On a Redis Cluster there is one canary per primary, on a partition whose slot that primary
 * owns (retarget(), on every topology change), so that each primary's subscription is proven.
 */
@Injectable()
export class DataPathCanary implements OnModuleInit, OnModuleDestroy {
  /** The canary task id on a single Redis, and the prefix of the per-primary ones. */
  readonly taskId: string;
  readonly events = new EventEmitter<{ stalled: [] }>();
  private readonly logger = new Logger(DataPathCanary.name);
  private timer: NodeJS.Timeout | undefined;
  private targets: CanaryTarget[];
  private readonly byTaskId = new Map<string, CanaryTarget>();
  /** Per-primary canary task ids by partition, found once each. */
  private readonly taskIdOfPartition = new Map<number, string>();

  constructor(
    @Inject(CANARY_OPTIONS) private readonly options: ResolvedCanaryOptions,
    @Inject(INSTANCE_ID) instanceId: string,
    private readonly status: RedisSubscriptionStatus,
    private readonly redis: RedisCommandClient,
    private readonly layout: TaskChannelLayout,
  ) {
    this.taskId = CANARY_TASK_PREFIX + instanceId.replace(/[^A-Za-z0-9_.:-]/g, '_');
    this.targets = [
      {
        node: undefined,
        partition: layout.partitionOf(this.taskId),
        taskId: this.taskId,
        channel: layout.channelOf(this.taskId),
        pendingSince: undefined,
      },
    ];
    this.byTaskId.set(this.taskId, this.targets[0]);
  }

  get enabled(): boolean {
    return this.options.intervalMs > 0;
  }

  /** The channel of the single-Redis canary (the first target). */
  get channel(): string {
    return this.targets[0]?.channel ?? this.layout.channelOf(this.taskId);
  }

  /** Every channel canaries are published on now. */
  get channels(): string[] {
    return this.targets.map((target) => target.channel);
  }

  /** The canaries' channels by partition, for resubscribing a partition whole. */
  get channelsByPartition(): Map<number, string[]> {
    const byPartition = new Map<number, string[]>();
    for (const target of this.targets) {
      byPartition.set(target.partition, [
        ...(byPartition.get(target.partition) ?? []),
        target.channel,
      ]);
    }
    return byPartition;
  }

  /** The primary each canary proves, with its partition (cluster only). */
  get partitionByNode(): Map<string, number> {
    const byNode = new Map<string, number>();
    for (const target of this.targets) {
      if (target.node !== undefined) byNode.set(target.node, target.partition);
    }
    return byNode;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * On a Redis Cluster: one canary per primary, on the given partition (see canaryPartitions).
   * A primary whose partition is unchanged keeps its canary in flight.
   */
  retarget(partitionByNode: ReadonlyMap<string, number>): void {
    const previous = new Map(this.targets.map((target) => [target.node, target]));
    this.targets = [...partitionByNode].map(([node, partition]) => {
      const kept = previous.get(node);
      if (kept?.partition === partition) return kept;
      const taskId = this.taskIdFor(partition);
      return {
        node,
        partition,
        taskId,
        channel: this.layout.channelOf(taskId),
        pendingSince: undefined,
      };
    });
    this.byTaskId.clear();
    for (const target of this.targets) this.byTaskId.set(target.taskId, target);
  }

  /** Whether `taskId` is one of this instance's canaries now. */
  owns(taskId: string): boolean {
    return this.byTaskId.has(taskId);
  }

  /** A canary came back through the subscription. */
  receive(data: TaskStatusData, taskId: string = this.taskId): void {
    const target = this.byTaskId.get(taskId);
    const sentAt = data.sent_at;
    if (!target || typeof sentAt !== 'number') return;
    target.pendingSince = undefined;
    const roundTripMs = Math.max(0, now() - sentAt);
    if (target.node === undefined) this.status.recordCanary(roundTripMs);
    else this.status.recordNodeCanary(target.node, roundTripMs);
  }

  /** The subscription was re-established: what was in flight before is lost, not late. */
  reset(): void {
    for (const target of this.targets) target.pendingSince = undefined;
  }

  /** One round: judge the outstanding canaries, then send the next ones. Public for tests. */
  async tick(): Promise<void> {
    const at = now();
    const overdue = this.targets.filter(
      (target) =>
        target.pendingSince !== undefined && at - target.pendingSince > this.options.timeoutMs,
    );
    if (overdue.length > 0) {
      for (const target of overdue) {
        target.pendingSince = undefined;
        if (target.node === undefined) this.status.markDataPathStalled();
        else this.status.markNodeStalled(target.node);
      }
      const where = overdue.map((target) => target.node ?? 'Redis').join(', ');
      this.logger.warn(
        `No canary came back through ${where} within ${this.options.timeoutMs} ms; resubscribing`,
      );
      this.events.emit('stalled');
      return;
    }
    if (!this.status.isUp) return;
    await Promise.all(this.targets.map((target) => this.send(target, at)));
  }

  private async send(target: CanaryTarget, at: number): Promise<void> {
    // Counted from the send, not from Redis' answer: a PUBLISH that hangs is a stall too.
    const first = target.pendingSince === undefined;
    if (first) target.pendingSince = at;
    try {
      const message = JSON.stringify({ task_id: target.taskId, sent_at: at });
      await (this.layout.sharded
        ? this.redis.connection.spublish(target.channel, message)
        : this.redis.connection.publish(target.channel, message));
    } catch {
      // Not sent (Redis or this primary unreachable): nothing to wait for; the subscriber's
      // state reports it.
      if (first && target.pendingSince === at) target.pendingSince = undefined;
    }
  }

  /** A canary task id of this instance in `partition` (the first `<taskId>:<n>` that is). */
  private taskIdFor(partition: number): string {
    let taskId = this.taskIdOfPartition.get(partition);
    for (let n = 0; taskId === undefined; n += 1) {
      const candidate = `${this.taskId}:${n}`;
      if (this.layout.partitionOf(candidate) === partition) taskId = candidate;
    }
    this.taskIdOfPartition.set(partition, taskId);
    return taskId;
  }
}
