import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
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

  @IsOptional()
  @IsString()
  @MaxLength(128)
  INSTANCE_ID?: string;
}
