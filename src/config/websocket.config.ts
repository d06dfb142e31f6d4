import { registerAs } from '@nestjs/config';
import { parseEnvironment } from './parse-environment.js';

export const websocketConfig = registerAs('websocket', () => {
  const env = parseEnvironment(process.env);
  return {
    maxConnections: env.WS_MAX_CONNECTIONS,
    maxMessageBytes: env.WS_MAX_MESSAGE_BYTES,
    maxSubscriptionsPerConnection: env.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    heartbeatIntervalMs: env.WS_HEARTBEAT_INTERVAL_MS,
    statsMaxTasks: env.STATS_MAX_TASKS,
  };
});
