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

/**
 * Proves the data path, not just the connection: every interval it publishes a small message on
 * the very channel the updates use (in sharded mode: SPUBLISH on its own task's shard channel,
 * which the subscriber subscribes at connect), and expects it back through the subscription.
 * When one is overdue, readiness fails and `stalled` is emitted so that the subscriber reconnects.
 */
@Injectable()
export class DataPathCanary implements OnModuleInit, OnModuleDestroy {
  readonly taskId: string;
  /** The channel the canary is published on. */
  readonly channel: string;
  readonly events = new EventEmitter<{ stalled: [] }>();
  private readonly logger = new Logger(DataPathCanary.name);
  private timer: NodeJS.Timeout | undefined;
  private pendingSince: number | undefined;

  constructor(
    @Inject(CANARY_OPTIONS) private readonly options: ResolvedCanaryOptions,
    @Inject(INSTANCE_ID) instanceId: string,
    private readonly status: RedisSubscriptionStatus,
    private readonly redis: RedisCommandClient,
    private readonly layout: TaskChannelLayout,
  ) {
    this.taskId = CANARY_TASK_PREFIX + instanceId.replace(/[^A-Za-z0-9_.:-]/g, '_');
    this.channel = layout.channelOf(this.taskId);
  }

  get enabled(): boolean {
    return this.options.intervalMs > 0;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** A canary came back through the subscription. */
  receive(data: TaskStatusData): void {
    const sentAt = data.sent_at;
    if (typeof sentAt !== 'number') return;
    this.pendingSince = undefined;
    this.status.recordCanary(Math.max(0, now() - sentAt));
  }

  /** The subscription was re-established: what was in flight before is lost, not late. */
  reset(): void {
    this.pendingSince = undefined;
  }

  /** One round: judge the outstanding canary, then send the next. Public for tests. */
  async tick(): Promise<void> {
    const at = now();
    if (this.pendingSince !== undefined && at - this.pendingSince > this.options.timeoutMs) {
      this.pendingSince = undefined;
      this.status.markDataPathStalled();
      this.logger.warn(
        `No canary came back through Redis within ${this.options.timeoutMs} ms; resubscribing`,
      );
      this.events.emit('stalled');
      return;
    }
    if (!this.status.isUp) return;
    // Counted from the send, not from Redis' answer: a PUBLISH that hangs is a stall too.
    const first = this.pendingSince === undefined;
    if (first) this.pendingSince = at;
    try {
      const message = JSON.stringify({ task_id: this.taskId, sent_at: at });
      await (this.layout.sharded
        ? this.redis.connection.spublish(this.channel, message)
        : this.redis.connection.publish(this.channel, message));
    } catch {
      // Not sent (Redis unreachable): nothing to wait for; the subscriber's state reports it.
      if (first && this.pendingSince === at) this.pendingSince = undefined;
    }
  }
}
