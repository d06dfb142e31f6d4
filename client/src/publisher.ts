// The package's `./publisher` entry point, for backends (Node); browsers never load it.
import { GROUP_ID_PATTERN, TASK_ID_PATTERN } from './protocol.js';
import {
  DEFAULT_PARTITIONS,
  groupShardChannelOf,
  groupShardKeyOf,
  partitionOf,
  shardChannelOf,
  shardKeyOf,
  type PubSubMode,
} from './sharded-layout.js';

export {
  TASK_ID_PATTERN,
  GROUP_ID_PATTERN,
  DEFAULT_PARTITIONS,
  partitionOf,
  shardChannelOf,
  shardKeyOf,
  groupShardChannelOf,
  groupShardKeyOf,
};
export type { PubSubMode };

/**
 * A gateway's `REDIS_PUBSUB_MODE`, or `both`: the two layouts at once, while gateways move from
 * `channel` to `sharded` (docs/scaling.md, Migration). A publisher option only.
 */
export type PublishMode = PubSubMode | 'both';

export const PUBLISH_MODES: readonly PublishMode[] = ['channel', 'sharded', 'both'];

export const DEFAULT_CHANNEL = 'task_status_updates';
export const DEFAULT_KEY_PREFIX = 'task:status:';
export const DEFAULT_TTL_SECONDS = 3600;
export const DEFAULT_GROUP_KEY_PREFIX = 'task:group:';

/** What an ioredis `multi()` offers that the publisher uses (structural: no ioredis import). */
export interface RedisTransactionLike {
  set(key: string, value: string, secondsToken: 'EX', seconds: number): RedisTransactionLike;
  publish(channel: string, message: string): RedisTransactionLike;
  /** The group index commands: needed for an update with a `group` (and a key prefix) only. */
  zadd?(key: string, score: number, member: string): RedisTransactionLike;
  zremrangebyscore?(key: string, min: string, max: string): RedisTransactionLike;
  expire?(key: string, seconds: number): RedisTransactionLike;
  /** Needed in `sharded` mode only (Redis 7). */
  spublish?(shardChannel: string, message: string): RedisTransactionLike;
  exec(): Promise<[error: Error | null, result: unknown][] | null>;
}

/** An ioredis `Redis` (or `Cluster`, or anything with the same `multi()`). */
export interface RedisLike {
  multi(): RedisTransactionLike;
  /** ioredis sets it: true on a `Cluster`, where mode `both` cannot be one transaction. */
  isCluster?: boolean;
}

/** A task's state as a publisher sends it: the documented fields, then any others. */
export interface TaskStatusUpdate {
  task_id: string;
  status: string;
  /** Conventionally a percentage, 0–100. */
  progress?: number;
  message?: string;
  /** ISO 8601; stamped with the current time when absent. */
  updated_at?: string;
  /**
   * The group the task belongs to (a user, project or tenant): clients subscribed to the group
   * get the update too. Same rule as task_id.
   */
  group?: string;
  [field: string]: unknown;
}

export interface PublishTaskStatusOptions {
  /**
   * The gateway's `REDIS_PUBSUB_MODE`. `channel` (default): PUBLISH on `channel`, key
   * `{prefix}{task_id}`. `sharded`: SPUBLISH on `{channel}:{p}:{task_id}`, key
   * `{prefix}{p}:{task_id}`, p = partitionOf(task_id, partitions): one slot, so one MULTI holds both.
   * `both` (migration, standalone Redis only): both keys set, PUBLISH and SPUBLISH, in one MULTI,
   * so gateways of either mode get every update and its snapshot.
   */
  mode?: PublishMode;
  /** The gateway's `REDIS_PARTITIONS`, in `sharded` and `both` modes. Default 1024. */
  partitions?: number;
  /** Pub/sub channel the gateway listens to (the base name in `sharded` mode). Default `task_status_updates`. */
  channel?: string;
  /** Prefix of the state key. Default `task:status:`; `''` sets no key. */
  keyPrefix?: string;
  /** Lifetime of the state key, in whole seconds. Default 3600. */
  ttlSeconds?: number;
  /**
   * Prefix of a group's task index (a sorted set of task ids, scored by publish time, that the
   * gateway reads for a group subscriber's snapshots): `{prefix}{group}`, `{prefix}{g<p>}:{group}`
   * in `sharded` mode. Default `task:group:`; `''` keeps no index. Not written when `keyPrefix`
   * is `''` (no state to snapshot).
   */
  groupKeyPrefix?: string;
  /** Clock for `updated_at`. Default `() => new Date()`. */
  now?: () => Date;
}

export interface PublishTaskStatusResult {
  /** The exact JSON written to the key and published. */
  payload: string;
  /** The state key, unless `keyPrefix` was empty. */
  key: string | undefined;
  /** The channel it was published on: the shard channel of the task in `sharded` mode. */
  channel: string;
  /** The group's task index the task was added to, when the update has a group. */
  groupKey?: string;
  /** `sharded` mode, an update with a group: the group's shard channel it was also SPUBLISHed on. */
  groupChannel?: string;
  /** PUBLISH's (SPUBLISH's) answer: how many subscribers (gateway instances, usually) received it. */
  receivers: number;
  /**
   * In mode `both` only, the sharded half (`channel`, `key` and `receivers` above are then those of
   * the `channel` layout).
   */
  shard?: {
    channel: string;
    key: string | undefined;
    receivers: number;
    groupKey?: string;
    groupChannel?: string;
  };
}

/**
 * The JSON of an update in the documented field order: `task_id`, `status`, `progress`,
 * `message`, `group`, then the other fields in their order, then `updated_at` (the given one keeps
 * its place; `now` is stamped when there is none). Fields whose value is `undefined` are left out.
 */
export function formatTaskStatus(update: TaskStatusUpdate, now: Date = new Date()): string {
  validate(update);
  const { task_id, status, progress, message, group, ...extra } = update;
  return JSON.stringify({
    task_id,
    status,
    progress,
    message,
    group,
    ...extra,
    updated_at: update.updated_at ?? now.toISOString(),
  });
}

/**
 * Writes a task's state where the gateway finds it: `SET {prefix}{task_id} {json} EX {ttl}` (the
 * snapshot a subscriber gets) and `PUBLISH {channel} {json}` (the live update), in one MULTI/EXEC
 * so that no reader sees one without the other. In `sharded` mode the key and the shard channel
 * carry the task's partition and the update goes out with SPUBLISH (see `mode`).
 *
 * An update with a `group` also adds its task to the group's index in the same transaction
 * (`ZADD {groupKeyPrefix}{group} {now ms} {task_id}`, members older than the TTL trimmed, the
 * index given the TTL). In `sharded` mode (and the sharded half of `both`) the group's index and
 * shard channel are in another slot than the task's, so they go in a second transaction after
 * the first: `ZADD …` and `SPUBLISH {channel}:{g<p>}:group:{group} {json}`.
 */
export async function publishTaskStatus(
  redis: RedisLike,
  update: TaskStatusUpdate,
  options: PublishTaskStatusOptions = {},
): Promise<PublishTaskStatusResult> {
  const baseChannel = options.channel ?? DEFAULT_CHANNEL;
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const mode = options.mode ?? 'channel';
  const partitions = options.partitions ?? DEFAULT_PARTITIONS;
  if (typeof baseChannel !== 'string' || baseChannel === '') {
    throw new TypeError('channel must be a non-empty string');
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new RangeError('ttlSeconds must be a positive integer');
  }
  if (!PUBLISH_MODES.includes(mode)) {
    throw new TypeError(`mode must be 'channel', 'sharded' or 'both', got ${JSON.stringify(mode)}`);
  }
  if (mode === 'both' && redis.isCluster === true) {
    // The old key and channel hash to other slots than the task's partition: no one transaction.
    throw new TypeError(
      "mode 'both' needs a standalone Redis (one MULTI across slots); a Redis Cluster takes mode 'sharded' only",
    );
  }
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError('partitions must be a positive integer');
  }
  const groupKeyPrefix = options.groupKeyPrefix ?? DEFAULT_GROUP_KEY_PREFIX;
  if (typeof groupKeyPrefix !== 'string') throw new TypeError('groupKeyPrefix must be a string');
  const stamp = (options.now ?? (() => new Date()))();
  const payload = formatTaskStatus(update, stamp);
  const taskId = update.task_id;
  const withKey = keyPrefix !== '';
  const group = update.group;
  const indexed = group !== undefined && withKey && groupKeyPrefix !== '';
  const classic = mode !== 'sharded' && {
    channel: baseChannel,
    key: withKey ? `${keyPrefix}${taskId}` : undefined,
    groupKey: indexed ? `${groupKeyPrefix}${group}` : undefined,
  };
  const shard = mode !== 'channel' && {
    channel: shardChannelOf(baseChannel, taskId, partitions),
    key: withKey ? shardKeyOf(keyPrefix, taskId, partitions) : undefined,
    groupKey: indexed ? groupShardKeyOf(groupKeyPrefix, group, partitions) : undefined,
    groupChannel:
      group !== undefined ? groupShardChannelOf(baseChannel, group, partitions) : undefined,
  };

  let transaction = redis.multi();
  for (const layout of [classic, shard]) {
    if (layout && layout.key !== undefined) {
      transaction = transaction.set(layout.key, payload, 'EX', ttlSeconds);
    }
  }
  // The channel layout's group index shares the task's transaction (a single Redis has no slots).
  if (classic && classic.groupKey !== undefined) {
    transaction = indexInGroup(transaction, classic.groupKey, taskId, stamp, ttlSeconds);
  }
  // The publishes come last, in this order: their answers are the last replies.
  if (classic) transaction = transaction.publish(classic.channel, payload);
  if (shard) {
    if (!transaction.spublish) throw new TypeError(`mode '${mode}' needs a client with spublish`);
    transaction = transaction.spublish(shard.channel, payload);
  }
  const replies = await execute(transaction);
  if (shard && shard.groupChannel !== undefined) {
    // Another slot on a Redis Cluster: a transaction of its own (see docs/scaling.md).
    let second = redis.multi();
    if (shard.groupKey !== undefined) {
      second = indexInGroup(second, shard.groupKey, taskId, stamp, ttlSeconds);
    }
    if (!second.spublish) throw new TypeError(`mode '${mode}' needs a client with spublish`);
    await execute(second.spublish(shard.groupChannel, payload));
  }
  const count = (reply: [Error | null, unknown] | undefined) =>
    typeof reply?.[1] === 'number' ? reply[1] : 0;
  const last = count(replies[replies.length - 1]);
  const result = (
    layout: {
      channel: string;
      key: string | undefined;
      groupKey?: string | undefined;
      groupChannel?: string | undefined;
    },
    receivers: number,
  ) => ({
    channel: layout.channel,
    key: layout.key,
    receivers,
    ...(layout.groupKey !== undefined ? { groupKey: layout.groupKey } : {}),
    ...(layout.groupChannel !== undefined ? { groupChannel: layout.groupChannel } : {}),
  });
  if (classic && shard) {
    return {
      payload,
      ...result(classic, count(replies[replies.length - 2])),
      shard: result(shard, last),
    };
  }
  const layout = classic || shard;
  if (!layout) throw new Error('unreachable: a mode has a layout');
  return { payload, ...result(layout, last) };
}

/** Queues the group index commands: the task scored by publish time, stale members trimmed. */
function indexInGroup(
  transaction: RedisTransactionLike,
  groupKey: string,
  taskId: string,
  stamp: Date,
  ttlSeconds: number,
): RedisTransactionLike {
  if (!transaction.zadd || !transaction.zremrangebyscore || !transaction.expire) {
    throw new TypeError(
      'an update with a group needs a client with zadd, zremrangebyscore, expire',
    );
  }
  const nowMs = stamp.getTime();
  let queued = transaction.zadd(groupKey, nowMs, taskId);
  // Tasks last published more than a TTL ago: their state keys have expired.
  queued = queued.zremrangebyscore!(groupKey, '-inf', `(${nowMs - ttlSeconds * 1000}`);
  return queued.expire!(groupKey, ttlSeconds);
}

/** Runs the transaction and throws the first failed command's error; the replies otherwise. */
async function execute(transaction: RedisTransactionLike): Promise<Array<[Error | null, unknown]>> {
  const replies = await transaction.exec();
  if (replies === null) throw new Error('Redis aborted the MULTI/EXEC transaction');
  for (const [error] of replies) if (error) throw error;
  return replies;
}

function validate(update: TaskStatusUpdate): void {
  if (typeof update.task_id !== 'string' || !TASK_ID_PATTERN.test(update.task_id)) {
    throw new TypeError(
      `task_id must be 1-128 characters from [A-Za-z0-9_.:-], got ${JSON.stringify(update.task_id)}`,
    );
  }
  if (typeof update.status !== 'string' || update.status === '') {
    throw new TypeError('status must be a non-empty string');
  }
  if (
    update.progress !== undefined &&
    (typeof update.progress !== 'number' || !Number.isFinite(update.progress))
  ) {
    throw new TypeError('progress must be a finite number');
  }
  if (update.message !== undefined && typeof update.message !== 'string') {
    throw new TypeError('message must be a string');
  }
  if (
    update.group !== undefined &&
    (typeof update.group !== 'string' || !GROUP_ID_PATTERN.test(update.group))
  ) {
    throw new TypeError(
      `group must be 1-128 characters from [A-Za-z0-9_.:-], got ${JSON.stringify(update.group)}`,
    );
  }
  if (
    update.updated_at !== undefined &&
    (typeof update.updated_at !== 'string' || Number.isNaN(Date.parse(update.updated_at)))
  ) {
    throw new TypeError('updated_at must be an ISO 8601 date string');
  }
}
