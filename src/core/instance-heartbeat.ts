import { TASK_ID_PATTERN } from '@task-status/client/protocol';

/** Sorted set of the instance ids that sent a heartbeat, scored by its time (ms since the epoch). */
export const CLUSTER_INDEX_KEY = 'gateway:instances';

/**
 * The index on a Redis Cluster: the hash tag puts it and every heartbeat key in one slot, as the
 * heartbeat's MULTI and the reader's pipeline need. A single Redis keeps the untagged names.
 */
export const HASH_TAGGED_CLUSTER_INDEX_KEY = 'gateway:{instances}';

/** The key holding one instance's latest heartbeat, with a TTL of three intervals. */
export function instanceHeartbeatKey(instanceId: string, indexKey = CLUSTER_INDEX_KEY): string {
  return `${indexKey}:${instanceId}`;
}

/** The index key for a connection to a Redis Cluster (`true`) or to a single Redis. */
export function clusterIndexKeyFor(redisCluster: boolean): string {
  return redisCluster ? HASH_TAGGED_CLUSTER_INDEX_KEY : CLUSTER_INDEX_KEY;
}

/** Tasks each instance puts in its heartbeat: its own busiest ones, so a heartbeat stays small. */
export const HEARTBEAT_TOP_TASKS = 100;

/** What one instance publishes about itself every CLUSTER_HEARTBEAT_INTERVAL_MS. */
export interface InstanceHeartbeat {
  v: 1;
  instance_id: string;
  channel: string;
  /** The sender's clock, ms since the epoch. */
  sent_at: number;
  interval_ms: number;
  ttl_ms: number;
  uptime_seconds: number;
  accepting_connections: boolean;
  total_connections: number;
  total_subscriptions: number;
  tasks_with_subscribers: number;
  /** The sender's HEARTBEAT_TOP_TASKS busiest tasks. */
  connections_per_task: Record<string, number>;
  /** True when the sender had more tasks than it listed. */
  connections_per_task_truncated: boolean;
  redis: { status: 'connected' | 'disconnected'; state: string; data_path: 'ok' | 'stalled' };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isTaskCounts(value: unknown): value is Record<string, number> {
  if (!isRecord(value)) return false;
  const entries = Object.entries(value);
  // A heartbeat lists at most HEARTBEAT_TOP_TASKS; leave room for a future, larger setting.
  if (entries.length > 10 * HEARTBEAT_TOP_TASKS) return false;
  return entries.every(([taskId, count]) => TASK_ID_PATTERN.test(taskId) && isCount(count));
}

/**
 * Another process wrote this value, so it is checked like any input: undefined for anything that
 * is not a heartbeat of this format (the reader leaves such an entry out).
 */
export function parseInstanceHeartbeat(raw: string): InstanceHeartbeat | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || value.v !== 1) return undefined;
  const redis = value.redis;
  const valid =
    typeof value.instance_id === 'string' &&
    typeof value.channel === 'string' &&
    isCount(value.sent_at) &&
    isCount(value.interval_ms) &&
    isCount(value.ttl_ms) &&
    isCount(value.uptime_seconds) &&
    typeof value.accepting_connections === 'boolean' &&
    isCount(value.total_connections) &&
    isCount(value.total_subscriptions) &&
    isCount(value.tasks_with_subscribers) &&
    isTaskCounts(value.connections_per_task) &&
    typeof value.connections_per_task_truncated === 'boolean' &&
    isRecord(redis) &&
    (redis.status === 'connected' || redis.status === 'disconnected') &&
    typeof redis.state === 'string' &&
    (redis.data_path === 'ok' || redis.data_path === 'stalled');
  return valid ? (value as unknown as InstanceHeartbeat) : undefined;
}
