import { registerAs } from '@nestjs/config';
import { parseEnvironment } from './parse-environment.js';

export const redisConfig = registerAs('redis', () => {
  const env = parseEnvironment(process.env);
  return {
    url: env.REDIS_URL,
    channel: env.REDIS_PUBSUB_CHANNEL,
  };
});
