import {
  groupShardChannelOf,
  groupShardKeyOf,
  partitionOf,
  shardChannelOf,
  shardKeyOf,
} from '@task-status/client/sharded-layout';
import type { ResolvedRedisOptions } from './redis-options.js';

/**
 * Where a task's updates and stored state live in Redis for the configured pub/sub mode: the one
 * channel and `{prefix}{task_id}`, or the task's shard channel and `{prefix}{p}:{task_id}` (the
 * names the publisher helper uses, from @task-status/client/sharded-layout).
 */
export class TaskChannelLayout {
  readonly sharded: boolean;

  constructor(private readonly options: ResolvedRedisOptions) {
    this.sharded = options.pubsubMode === 'sharded';
  }

  /** The channel a task's updates are published on. */
  channelOf(taskId: string): string {
    return this.sharded
      ? shardChannelOf(this.options.channel, taskId, this.options.partitions)
      : this.options.channel;
  }

  /** The key of a task's stored state. */
  keyOf(keyPrefix: string, taskId: string): string {
    return this.sharded
      ? shardKeyOf(keyPrefix, taskId, this.options.partitions)
      : keyPrefix + taskId;
  }

  /** The task's partition: channels of one partition share a cluster slot. */
  partitionOf(taskId: string): number {
    return partitionOf(taskId, this.options.partitions);
  }

  /** A group's shard channel (sharded mode only): `{channel}:{g<p>}:group:{group}`. */
  groupChannelOf(groupId: string): string {
    return groupShardChannelOf(this.options.channel, groupId, this.options.partitions);
  }

  /** The key of a group's task index: `{prefix}{group}`, or `{prefix}{g<p>}:{group}` when sharded. */
  groupKeyOf(keyPrefix: string, groupId: string): string {
    return this.sharded
      ? groupShardKeyOf(keyPrefix, groupId, this.options.partitions)
      : keyPrefix + groupId;
  }

  /** Partitions of the sharded layout. */
  get partitions(): number {
    return this.options.partitions;
  }
}
