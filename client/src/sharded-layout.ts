// The sharded pub/sub layout (docs/scaling.md), shared by the gateway and the publisher helper so
// that both compute the same partition, shard channel and key.
import { crc32 } from './crc32.js';

/** `channel`: one channel for every task (PUBLISH); `sharded`: one shard channel per task (SPUBLISH). */
export type PubSubMode = 'channel' | 'sharded';

export const PUBSUB_MODES: readonly PubSubMode[] = ['channel', 'sharded'];

/** Partitions of the sharded layout; gateways and publishers must use the same number. */
export const DEFAULT_PARTITIONS = 1024;

/** CRC-32 (IEEE, as zlib and Python's `zlib.crc32`) of the task id's UTF-8 bytes, mod `partitions`. */
export function partitionOf(taskId: string, partitions: number = DEFAULT_PARTITIONS): number {
  return crc32(taskId) % partitions;
}

/**
 * `{channel}:{p}:{task_id}`: the hash tag `{p}` puts a task's channel and its key in one cluster
 * slot, so one MULTI may hold both.
 */
export function shardChannelOf(
  channel: string,
  taskId: string,
  partitions: number = DEFAULT_PARTITIONS,
): string {
  return `${channel}:{${partitionOf(taskId, partitions)}}:${taskId}`;
}

/** `{prefix}{p}:{task_id}`, in the slot of the task's shard channel. */
export function shardKeyOf(
  keyPrefix: string,
  taskId: string,
  partitions: number = DEFAULT_PARTITIONS,
): string {
  return `${keyPrefix}{${partitionOf(taskId, partitions)}}:${taskId}`;
}

/**
 * `{channel}:{g<p>}:group:{group}`, p = partitionOf(group): a group's shard channel, with a hash
 * tag of its own (never a task's, whose tag is digits only), so it lives in another slot than the
 * channels of the group's tasks.
 */
export function groupShardChannelOf(
  channel: string,
  groupId: string,
  partitions: number = DEFAULT_PARTITIONS,
): string {
  return `${channel}:{g${partitionOf(groupId, partitions)}}:group:${groupId}`;
}

/** `{prefix}{g<p>}:{group}`: a group's task index, in the slot of the group's shard channel. */
export function groupShardKeyOf(
  keyPrefix: string,
  groupId: string,
  partitions: number = DEFAULT_PARTITIONS,
): string {
  return `${keyPrefix}{g${partitionOf(groupId, partitions)}}:${groupId}`;
}
