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
} from 'class-validator';

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
 * Every environment variable the service reads, with its default.
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
  REDIS_URL: string = 'redis://localhost:6379/0';

  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  REDIS_PUBSUB_CHANNEL: string = 'task_status_updates';

  @IsInt()
  @Min(1)
  WS_MAX_CONNECTIONS: number = 1000;

  @IsInt()
  @Min(64)
  @Max(16 * 1024 * 1024)
  WS_MAX_MESSAGE_BYTES: number = 4096;

  @IsInt()
  @Min(1)
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: number = 100;

  /** 0 disables protocol-level heartbeats. */
  @IsInt()
  @Min(0)
  WS_HEARTBEAT_INTERVAL_MS: number = 30_000;

  @IsInt()
  @Min(1)
  @Max(10_000)
  STATS_MAX_TASKS: number = 1000;

  @IsInt()
  @Min(100)
  SHUTDOWN_TIMEOUT_MS: number = 10_000;

  /** Sockets are closed in batches over this window on shutdown (capped at a quarter of the timeout). */
  @IsInt()
  @Min(0)
  SHUTDOWN_DRAIN_WINDOW_MS: number = 2_000;

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
  CORS_ORIGINS: string[] = [];

  @Transform(parseBoolean)
  @IsBoolean({ message: 'METRICS_ENABLED must be true or false' })
  METRICS_ENABLED: boolean = true;

  @Transform(parseBoolean)
  @IsBoolean({ message: 'API_DOCS_ENABLED must be true or false' })
  API_DOCS_ENABLED: boolean = true;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  INSTANCE_ID?: string;

  /** Where publishers keep each task's latest state; empty disables snapshots and resync. */
  @IsString()
  @MaxLength(256)
  TASK_STATUS_KEY_PREFIX: string = 'task:status:';

  @Transform(parseList)
  @IsArray({ message: 'TASK_TERMINAL_STATUSES must be a comma-separated list of statuses' })
  @ArrayMaxSize(50)
  @IsString({ each: true })
  TASK_TERMINAL_STATUSES: string[] = ['completed', 'failed', 'cancelled'];

  /** 0 disables the data-path canary. */
  @IsInt()
  @Min(0)
  CANARY_INTERVAL_MS: number = 5_000;

  @IsInt()
  @Min(100)
  CANARY_TIMEOUT_MS: number = 15_000;

  @IsInt()
  @Min(1)
  @Max(10_000)
  RESYNC_BATCH_SIZE: number = 500;
}
