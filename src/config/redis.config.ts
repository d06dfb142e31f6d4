import { registerAs } from '@nestjs/config';
import type { RedisOptions } from '../redis/redis-options.js';
import type { EnvironmentVariables } from './environment-variables.js';
import { environment } from './environment.js';

/** The options as the environment sets them; unset variables stay undefined (the module's default). */
export function redisOptionsFromEnvironment(env: EnvironmentVariables): RedisOptions {
  return {
    url: env.REDIS_URL,
    channel: env.REDIS_PUBSUB_CHANNEL,
    pubsubMode: env.REDIS_PUBSUB_MODE,
    partitions: env.REDIS_PARTITIONS,
    clusterNodes: env.REDIS_CLUSTER_NODES,
    unsubscribeGraceMs: env.REDIS_UNSUBSCRIBE_GRACE_MS,
    clusterSlotsRefreshMs: env.REDIS_CLUSTER_SLOTS_REFRESH_MS,
  };
}

export const redisConfig = registerAs('redis', () => redisOptionsFromEnvironment(environment()));
