import type { ResolvedAuthOptions, TaskStatusAuthOptions } from '../auth/auth-options.js';
import type { TaskAccessPolicyOption } from '../auth/task-access-policy.provider.js';

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
  /** Messages per second one connection may send, sustained; past it, `rate_limited` errors. 0 turns the limit off. Default 20. */
  rateLimitPerSecond?: number;
  /**
   * Messages one connection may send at once (the token bucket's size). Keep it above
   * maxSubscriptionsPerConnection: a reconnecting client resubscribes all at once. Default 120.
   */
  rateLimitBurst?: number;
  /** `rate_limited` answers per connection within rateLimitViolationWindowMs; the next over-limit message closes it (1008). Default 10. */
  rateLimitMaxViolations?: number;
  /** The window of rateLimitMaxViolations. Default 10000. */
  rateLimitViolationWindowMs?: number;
  /** Concurrent connections per client address; the next upgrade gets HTTP 429. 0 turns the limit off. Default 0. */
  maxConnectionsPerIp?: number;
  /** Proxies in front of the service whose X-Forwarded-For entries are trusted for the client address; 0 uses the socket's address. Default 0. */
  trustProxy?: number;
  /**
   * HTTP requests (WebSocket upgrades included) whose headers are not complete within this time
   * are cut off, as are connections that send nothing; applied by configureApplication. Default 10000.
   */
  handshakeTimeoutMs?: number;
  /** Above this many bytes in a socket's send buffer, its frames are held back and coalesced. Default 262144. */
  backpressureBytes?: number;
  /** A slow socket whose buffered plus held-back bytes exceed this is closed with 1013. Default 2097152. */
  slowClientMaxBytes?: number;
  /**
   * A socket held back (see backpressureBytes) that reads nothing for this long is closed with
   * 1013; 0 leaves it to the heartbeat. Default 10000.
   */
  slowClientStallMs?: number;
  /**
   * A socket closed with 1013 gets this long to complete the close handshake, reading what it had
   * not read before the close frame; then its TCP connection is cut. Default 2000.
   */
  slowClientCloseGraceMs?: number;
  /**
   * Offer permessage-deflate to clients. Off by default: task updates are small, and compressing
   * each one for each socket costs CPU on the hot path. Default false.
   */
  perMessageDeflate?: boolean;
  /** Serve Prometheus metrics at GET /metrics (404 when off). Default true. */
  metrics?: boolean;
  /**
   * JWT authentication of upgrades, per-task authorization, and the protection of /ws/stats and
   * /metrics (docs/security.md). Off while no key source is set. Default {} (off).
   */
  auth?: TaskStatusAuthOptions;
  /**
   * How often this instance publishes its counts to Redis for `GET /ws/stats?scope=cluster`
   * (the key lives three intervals); 0 stops publishing. Default 5000.
   */
  clusterHeartbeatIntervalMs?: number;
  /** Serve the demo page at `/` (and the typed client at `/client/`); 404 when off. Default true. */
  demoPage?: boolean;
  /** Enable `POST /demo/simulate`, which publishes a fake task to Redis. Development only. Default false. */
  demoPublishEnabled?: boolean;
}

/**
 * Given to forRoot / forRootAsync beside the options (not inside forRootAsync's factory): they
 * shape the module's providers, so they must be known before any factory runs.
 */
export interface TaskStatusModuleExtras {
  /**
   * Replaces the default TaskAccessPolicy (the tasks claim): a class Nest instantiates, or
   * `{ useFactory, inject }`. Consulted only while authentication is on.
   */
  taskAccessPolicy?: TaskAccessPolicyOption;
}

export type ResolvedTaskStatusOptions = Required<Omit<TaskStatusModuleOptions, 'auth'>> & {
  auth: ResolvedAuthOptions;
};
