/** What an application passes to TaskStatusModule.forRoot / forRootAsync. */
export interface TaskStatusModuleOptions {
  /** redis:// or rediss:// URL of the Redis that publishers write to. */
  redisUrl: string;
  /** Pub/sub channel carrying the task updates. Default `task_status_updates`. */
  channel?: string;
  /** Concurrent WebSocket connections per instance; the next upgrade gets HTTP 503. Default 1000. */
  maxConnections?: number;
  /** Largest inbound frame in bytes; larger frames close the connection with 1009. Default 4096. */
  maxMessageBytes?: number;
  /** Subscriptions one connection may hold. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** Interval of protocol pings; a connection that misses a pong is dropped. 0 disables. Default 30000. */
  heartbeatIntervalMs?: number;
  /** Allowed `Origin`s of browser upgrades; empty allows all. Default []. */
  allowedOrigins?: string[];
  /** Time budget for closing sockets on shutdown. Default 10000. */
  shutdownTimeoutMs?: number;
  /**
   * On shutdown, sockets are closed in jittered batches spread over this window (at most a
   * quarter of shutdownTimeoutMs), so their clients do not all reconnect at once. Default 2000.
   */
  drainWindowMs?: number;
  /** Upper bound of `?limit=` for the per-task list of GET /ws/stats. Default 1000. */
  statsMaxTasks?: number;
  /** Identifies this instance in stats and logs. Default hostname-pid. */
  instanceId?: string;
  /**
   * Key prefix of the latest state publishers keep per task (`SETEX {prefix}{task_id}`), sent
   * on subscribe and re-read after a Redis reconnect. Empty disables both. Default `task:status:`.
   */
  snapshotKeyPrefix?: string;
  /** Statuses after which a task's non-terminal updates are dropped. Default completed, failed, cancelled. */
  terminalStatuses?: string[];
  /** How often the data-path canary goes through Redis; 0 disables it. Default 5000. */
  canaryIntervalMs?: number;
  /** Readiness fails when a canary is not back within this time. Default 15000. */
  canaryTimeoutMs?: number;
  /** Keys read per MGET when resyncing after a reconnect. Default 500. */
  resyncBatchSize?: number;
  /** Serve Prometheus metrics at GET /metrics (404 when off). Default true. */
  metrics?: boolean;
}

export type ResolvedTaskStatusOptions = Required<TaskStatusModuleOptions>;
