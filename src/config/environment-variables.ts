import { PUBSUB_MODES, type PubSubMode } from '@task-status/client/sharded-layout';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { MAX_UNSUBSCRIBE_GRACE_MS } from '../redis/redis-options.js';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

// Keeps the raw string when it is not JSON so that validation reports it instead of throwing here.
function parseJsonArray({ value }: { value: unknown }): unknown {
  if (typeof value !== 'string') return value;
  if (value.trim() === '') return [];
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function parseList({ value }: { value: unknown }): unknown {
  if (typeof value !== 'string') return value;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

// Reads the raw string: implicit conversion would already have turned "false" into true.
function parseBoolean({ key, obj }: { key: string; obj: Record<string, unknown> }): unknown {
  const raw = obj[key];
  if (typeof raw !== 'string') return raw;
  const normalized = raw.trim().toLowerCase();
  if (normalized === 'true' || normalized === '1') return true;
  if (normalized === 'false' || normalized === '0') return false;
  return raw;
}

function upperCase({ value }: { value: unknown }): unknown {
  return typeof value === 'string' ? value.trim().toUpperCase() : value;
}

function lowerCase({ value }: { value: unknown }): unknown {
  return typeof value === 'string' ? value.trim().toLowerCase() : value;
}

/**
 * Every environment variable the service reads. Unset ones stay undefined, and the module that
 * owns the setting applies its default (one place for each); only the settings of the standalone
 * service itself (port, logging, which modules to load) have their defaults here.
 * Documented in README.md and .env.example; keep the three in step.
 */
export class EnvironmentVariables {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 8001;

  @IsString()
  @IsNotEmpty()
  HOST: string = '0.0.0.0';

  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  @IsOptional()
  REDIS_URL?: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  @IsOptional()
  REDIS_PUBSUB_CHANNEL?: string;

  /** `channel` (one channel for every task) or `sharded` (a shard channel per task, Redis 7). */
  @Transform(lowerCase)
  @IsIn(PUBSUB_MODES, { message: `REDIS_PUBSUB_MODE must be one of ${PUBSUB_MODES.join(', ')}` })
  @IsOptional()
  REDIS_PUBSUB_MODE?: PubSubMode;

  /** Partitions of the sharded layout; must equal the publishers'. More than the 16,384 slots buys nothing. */
  @IsInt()
  @Min(1)
  @Max(16_384)
  @IsOptional()
  REDIS_PARTITIONS?: number;

  /**
   * Seed nodes of a Redis Cluster, `host:port,host:port,...` (any few; the rest are discovered).
   * Set: the gateway uses ioredis' Cluster client and takes only the username, password and
   * rediss:// (TLS) of REDIS_URL, for every node; needs REDIS_PUBSUB_MODE=sharded.
   */
  @Transform(parseList)
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/, {
    each: true,
    message: 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port',
  })
  @IsOptional()
  REDIS_CLUSTER_NODES?: string[];

  /**
   * Sharded mode: ms a task's shard channel stays subscribed after its last watcher here left
   * (0: SUNSUBSCRIBE at once). At most a day.
   */
  @IsInt()
  @Min(0)
  @Max(MAX_UNSUBSCRIBE_GRACE_MS)
  @IsOptional()
  REDIS_UNSUBSCRIBE_GRACE_MS?: number;

  /**
   * On a Redis Cluster, how often (ms) the subscriber re-reads the slot map, so that a moved slot
   * or a failover is noticed without a push; 0 turns it off. At most one hour.
   */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  @IsOptional()
  REDIS_CLUSTER_SLOTS_REFRESH_MS?: number;

  @IsInt()
  @Min(1)
  @IsOptional()
  WS_MAX_CONNECTIONS?: number;

  @IsInt()
  @Min(64)
  @Max(16 * 1024 * 1024)
  @IsOptional()
  WS_MAX_MESSAGE_BYTES?: number;

  @IsInt()
  @Min(1)
  @IsOptional()
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION?: number;

  /** Group subscriptions one connection may hold (they count in the subscription limit too). */
  @IsInt()
  @Min(0)
  @IsOptional()
  WS_MAX_GROUPS_PER_CONNECTION?: number;

  /** Sustained inbound messages per second per connection; 0 turns rate limiting off. */
  @IsInt()
  @Min(0)
  @IsOptional()
  WS_RATE_LIMIT_PER_SECOND?: number;

  /** Messages a connection may send at once; above WS_MAX_SUBSCRIPTIONS_PER_CONNECTION. */
  @IsInt()
  @Min(1)
  @IsOptional()
  WS_RATE_LIMIT_BURST?: number;

  /** rate_limited answers within the window; the next over-limit message closes with 1008. */
  @IsInt()
  @Min(0)
  @IsOptional()
  WS_RATE_LIMIT_MAX_VIOLATIONS?: number;

  @IsInt()
  @Min(100)
  @IsOptional()
  WS_RATE_LIMIT_VIOLATION_WINDOW_MS?: number;

  /** Concurrent connections per client address (see TRUST_PROXY); 0 turns the limit off. */
  @IsInt()
  @Min(0)
  @IsOptional()
  WS_MAX_CONNECTIONS_PER_IP?: number;

  /** Proxies in front of the service whose X-Forwarded-For entries are trusted; 0 = none. */
  @IsInt()
  @Min(0)
  @Max(32)
  @IsOptional()
  TRUST_PROXY?: number;

  /** HTTP requests (upgrades included) whose headers take longer are cut off. */
  @IsInt()
  @Min(100)
  @Max(300_000)
  @IsOptional()
  WS_HANDSHAKE_TIMEOUT_MS?: number;

  /** 0 disables protocol-level heartbeats. */
  @IsInt()
  @Min(0)
  @IsOptional()
  WS_HEARTBEAT_INTERVAL_MS?: number;

  @IsInt()
  @Min(1)
  @Max(10_000)
  @IsOptional()
  STATS_MAX_TASKS?: number;

  @IsInt()
  @Min(100)
  @IsOptional()
  SHUTDOWN_TIMEOUT_MS?: number;

  /** Sockets are closed in batches over this window on shutdown (capped at a quarter of the timeout). */
  @IsInt()
  @Min(0)
  @IsOptional()
  SHUTDOWN_DRAIN_WINDOW_MS?: number;

  @Transform(upperCase)
  @IsIn(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: LogLevelName = 'INFO';

  @Transform(lowerCase)
  @IsIn(LOG_FORMATS, { message: `LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}` })
  LOG_FORMAT: LogFormat = 'text';

  @Transform(parseJsonArray)
  @IsArray({
    message: 'CORS_ORIGINS must be a JSON array of origins, e.g. ["http://localhost:3000"]',
  })
  @ArrayMaxSize(100)
  @Matches(/^(https?:\/\/[^/\s]+|\*)$/, {
    each: true,
    message:
      'CORS_ORIGINS entries must be origins like "https://app.example.com" (scheme://host[:port])',
  })
  @IsOptional()
  CORS_ORIGINS?: string[];

  @Transform(parseBoolean)
  @IsBoolean({ message: 'METRICS_ENABLED must be true or false' })
  METRICS_ENABLED: boolean = true;

  @Transform(parseBoolean)
  @IsBoolean({ message: 'API_DOCS_ENABLED must be true or false' })
  API_DOCS_ENABLED: boolean = true;

  @Transform(parseBoolean)
  @IsBoolean({ message: 'DEMO_PAGE must be true or false' })
  DEMO_PAGE: boolean = true;

  /** POST /demo/simulate publishes fake tasks to Redis: for development only (`make dev`). */
  @Transform(parseBoolean)
  @IsBoolean({ message: 'DEMO_PUBLISH_ENABLED must be true or false' })
  @IsOptional()
  DEMO_PUBLISH_ENABLED?: boolean;

  /** Interval of this instance's heartbeat for /ws/stats?scope=cluster; 0 stops publishing it. */
  @IsInt()
  @Min(0)
  @IsOptional()
  CLUSTER_HEARTBEAT_INTERVAL_MS?: number;

  /**
   * JWT authentication (docs/security.md): off until exactly one key source is set. The
   * combination is checked after these rules (see src/config/auth-environment.ts).
   */
  @IsOptional()
  @IsString()
  AUTH_JWT_SECRET?: string;

  /** PEM; `\n` escapes are turned into line breaks, for one-line environments. */
  @IsOptional()
  @IsString()
  AUTH_JWT_PUBLIC_KEY?: string;

  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, {
    message: 'AUTH_JWKS_URL must be an https:// URL (http:// on a loopback host only)',
  })
  AUTH_JWKS_URL?: string;

  @IsOptional()
  @IsString()
  @MaxLength(1024)
  AUTH_JWT_ISSUER?: string;

  @IsOptional()
  @Transform(parseList)
  @IsArray({ message: 'AUTH_JWT_AUDIENCE must be a comma-separated list of audiences' })
  @ArrayMaxSize(20)
  @IsString({ each: true })
  AUTH_JWT_AUDIENCE?: string[];

  @IsOptional()
  @Transform(parseList)
  @IsArray({ message: 'AUTH_JWT_ALGORITHMS must be a comma-separated list, e.g. RS256,ES256' })
  @ArrayMaxSize(20)
  @IsString({ each: true })
  AUTH_JWT_ALGORITHMS?: string[];

  @IsInt()
  @Min(0)
  @Max(600)
  @IsOptional()
  AUTH_CLOCK_TOLERANCE_SECONDS?: number;

  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  @IsOptional()
  AUTH_TASKS_CLAIM?: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  @IsOptional()
  AUTH_GROUPS_CLAIM?: string;

  /** `name` (the claim must be true) or `name=value` (equal, or held by an array or scope string). */
  @Matches(/^[^=\s]+(=[^=\s]+)?$/, {
    message: 'AUTH_ADMIN_CLAIM must be "name" or "name=value", e.g. admin or roles=gateway-admin',
  })
  @IsOptional()
  AUTH_ADMIN_CLAIM?: string;

  /** Bearer token for /ws/stats and /metrics; works with or without JWT authentication. */
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'STATS_TOKEN must be at least 16 characters' })
  STATS_TOKEN?: string;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  INSTANCE_ID?: string;

  /** Where publishers keep each task's latest state; empty disables snapshots and resync. */
  @IsString()
  @MaxLength(256)
  @IsOptional()
  TASK_STATUS_KEY_PREFIX?: string;

  @Transform(parseList)
  @IsArray({ message: 'TASK_TERMINAL_STATUSES must be a comma-separated list of statuses' })
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @IsOptional()
  TASK_TERMINAL_STATUSES?: string[];

  /** 0 disables the data-path canary. */
  @IsInt()
  @Min(0)
  @IsOptional()
  CANARY_INTERVAL_MS?: number;

  @IsInt()
  @Min(100)
  @IsOptional()
  CANARY_TIMEOUT_MS?: number;

  @IsInt()
  @Min(1)
  @Max(10_000)
  @IsOptional()
  RESYNC_BATCH_SIZE?: number;

  /** Where publishers keep each group's task index; empty turns group snapshots off. */
  @IsString()
  @MaxLength(256)
  @IsOptional()
  TASK_GROUP_KEY_PREFIX?: string;

  /** Tasks of a group sent as snapshots on a group subscribe, the most recently updated first. */
  @IsInt()
  @Min(0)
  @Max(10_000)
  @IsOptional()
  GROUP_SNAPSHOT_MAX_TASKS?: number;

  /** Above this many buffered bytes a socket's frames are held back and coalesced per task. */
  @IsInt()
  @Min(1024)
  @IsOptional()
  WS_BACKPRESSURE_BYTES?: number;

  /** A slow socket past this many buffered plus held-back bytes is closed with 1013. */
  @IsInt()
  @Min(4096)
  @IsOptional()
  WS_SLOW_CLIENT_MAX_BYTES?: number;

  /** A held-back socket that reads nothing for this long is closed with 1013; 0 turns it off. */
  @IsInt()
  @Min(0)
  @Max(600_000)
  @IsOptional()
  WS_SLOW_CLIENT_STALL_MS?: number;

  /** Interval of `:` heartbeat comments on Server-Sent Events streams; 0 disables. */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  @IsOptional()
  SSE_HEARTBEAT_MS?: number;

  /** The `retry:` advice of Server-Sent Events streams, before jitter. */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  @IsOptional()
  SSE_RETRY_MS?: number;

  /** Up to this much is added to SSE_RETRY_MS at random, per stream. */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  @IsOptional()
  SSE_RETRY_JITTER_MS?: number;

  /** Size of the comment that opens every Server-Sent Events stream (proxy and browser buffers). */
  @IsInt()
  @Min(0)
  @Max(65_536)
  @IsOptional()
  SSE_PADDING_BYTES?: number;

  /** Offer permessage-deflate; off by default (CPU per socket per update for small frames). */
  @Transform(parseBoolean)
  @IsBoolean({ message: 'WS_PER_MESSAGE_DEFLATE must be true or false' })
  @IsOptional()
  WS_PER_MESSAGE_DEFLATE?: boolean;
}
