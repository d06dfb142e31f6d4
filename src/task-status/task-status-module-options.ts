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
  /** Upper bound of `?limit=` for the per-task list of GET /ws/stats. Default 1000. */
  statsMaxTasks?: number;
  /** Identifies this instance in stats and logs. Default hostname-pid. */
  instanceId?: string;
}

export type ResolvedTaskStatusOptions = Required<TaskStatusModuleOptions>;
