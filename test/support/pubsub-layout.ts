import { shardChannelOf, shardKeyOf } from '@task-status/client/sharded-layout';

export const DEFAULT_CHANNEL = 'task_status_updates';
export const DEFAULT_KEY_PREFIX = 'task:status:';

/** The gateway settings that decide where a task's updates and state live in Redis. */
export interface PubSubLayout {
  pubsubMode?: 'channel' | 'sharded';
  partitions?: number;
  channel?: string;
}

/** Anything that can queue PUBLISH and SPUBLISH: an ioredis Redis, a pipeline, a MULTI. */
export interface Publishing<R> {
  publish(channel: string, message: string): R;
  spublish(shardChannel: string, message: string): R;
}

const sharded = (layout: PubSubLayout) => layout.pubsubMode === 'sharded';

/** The channel a task's updates go to: the one channel, or the task's shard channel. */
export function channelOf(layout: PubSubLayout, taskId: string): string {
  const channel = layout.channel ?? DEFAULT_CHANNEL;
  return sharded(layout) ? shardChannelOf(channel, taskId, layout.partitions) : channel;
}

/** The key of a task's stored state in the layout. */
export function stateKeyOf(
  layout: PubSubLayout,
  taskId: string,
  keyPrefix = DEFAULT_KEY_PREFIX,
): string {
  return sharded(layout)
    ? shardKeyOf(keyPrefix, taskId, layout.partitions)
    : `${keyPrefix}${taskId}`;
}

/**
 * Publishes (or queues) a task's message the way a worker of the layout does: PUBLISH on the one
 * channel, or SPUBLISH on the task's shard channel. The message goes out as it is: tests of
 * malformed input need that, which publishTaskStatus would refuse.
 */
export function publishIn<R>(
  target: Publishing<R>,
  layout: PubSubLayout,
  taskId: string,
  message: string,
): R {
  const channel = channelOf(layout, taskId);
  return sharded(layout) ? target.spublish(channel, message) : target.publish(channel, message);
}

/** The task id of a test message, which sharded mode needs to pick the channel. */
export function taskIdOf(update: Record<string, unknown>): string {
  const taskId = update.task_id;
  if (typeof taskId !== 'string') {
    throw new TypeError('in sharded mode a test message needs a string task_id for its channel');
  }
  return taskId;
}
