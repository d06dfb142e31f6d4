import type { InstanceHeartbeat } from '../core/instance-heartbeat.js';

/** One live instance's heartbeat, and how long ago it was written (null when unknown). */
export interface HeartbeatReading {
  heartbeat: InstanceHeartbeat;
  ageMs: number | null;
}

export interface ClusterInstanceStats {
  instance_id: string;
  total_connections: number;
  total_subscriptions: number;
  tasks_with_subscribers: number;
  accepting_connections: boolean;
  uptime_seconds: number;
  redis: InstanceHeartbeat['redis'];
  last_heartbeat_age_ms: number | null;
  heartbeat_interval_ms: number;
}

/** The body of GET /ws/stats?scope=cluster. */
export interface ClusterStats {
  scope: 'cluster';
  answered_by: string;
  instance_count: number;
  total_connections: number;
  total_subscriptions: number;
  /** Summed over instances: a task watched on two instances counts twice. */
  tasks_with_subscribers: number;
  connections_per_task: Record<string, number>;
  connections_per_task_limit: number;
  connections_per_task_truncated: boolean;
  /** False when an instance listed only its busiest tasks: the counts are then lower bounds. */
  connections_per_task_exact: boolean;
  instances: ClusterInstanceStats[];
}

/**
 * Sums the live instances' heartbeats: totals, one entry per instance (by instance id), and the
 * `limit` busiest tasks over the lists the instances sent (ties by task id, as for one instance).
 */
export function mergeClusterStats(
  readings: readonly HeartbeatReading[],
  { limit, answeredBy }: { limit: number; answeredBy: string },
): ClusterStats {
  const perTask = new Map<string, number>();
  let connections = 0;
  let subscriptions = 0;
  let tasks = 0;
  let exact = true;
  const instances: ClusterInstanceStats[] = [];
  for (const { heartbeat, ageMs } of readings) {
    connections += heartbeat.total_connections;
    subscriptions += heartbeat.total_subscriptions;
    tasks += heartbeat.tasks_with_subscribers;
    if (heartbeat.connections_per_task_truncated) exact = false;
    for (const [taskId, count] of Object.entries(heartbeat.connections_per_task)) {
      perTask.set(taskId, (perTask.get(taskId) ?? 0) + count);
    }
    instances.push({
      instance_id: heartbeat.instance_id,
      total_connections: heartbeat.total_connections,
      total_subscriptions: heartbeat.total_subscriptions,
      tasks_with_subscribers: heartbeat.tasks_with_subscribers,
      accepting_connections: heartbeat.accepting_connections,
      uptime_seconds: heartbeat.uptime_seconds,
      redis: { ...heartbeat.redis },
      last_heartbeat_age_ms: ageMs,
      heartbeat_interval_ms: heartbeat.interval_ms,
    });
  }
  instances.sort((a, b) => compareText(a.instance_id, b.instance_id));
  // Bounded by instances x HEARTBEAT_TOP_TASKS entries, so a plain sort is cheap here.
  const ranked = [...perTask].sort(
    ([taskA, countA], [taskB, countB]) => countB - countA || compareText(taskA, taskB),
  );
  const shown = ranked.slice(0, Math.max(0, limit));
  return {
    scope: 'cluster',
    answered_by: answeredBy,
    instance_count: instances.length,
    total_connections: connections,
    total_subscriptions: subscriptions,
    tasks_with_subscribers: tasks,
    connections_per_task: Object.fromEntries(shown),
    connections_per_task_limit: Math.max(0, limit),
    connections_per_task_truncated: !exact || shown.length < ranked.length,
    connections_per_task_exact: exact,
    instances,
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
