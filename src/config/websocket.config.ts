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
    rateLimitPerSecond: env.WS_RATE_LIMIT_PER_SECOND,
    rateLimitBurst: env.WS_RATE_LIMIT_BURST,
    rateLimitMaxViolations: env.WS_RATE_LIMIT_MAX_VIOLATIONS,
    rateLimitViolationWindowMs: env.WS_RATE_LIMIT_VIOLATION_WINDOW_MS,
    maxConnectionsPerIp: env.WS_MAX_CONNECTIONS_PER_IP,
    trustProxy: env.TRUST_PROXY,
    handshakeTimeoutMs: env.WS_HANDSHAKE_TIMEOUT_MS,
    backpressureBytes: env.WS_BACKPRESSURE_BYTES,
    slowClientMaxBytes: env.WS_SLOW_CLIENT_MAX_BYTES,
    slowClientStallMs: env.WS_SLOW_CLIENT_STALL_MS,
    perMessageDeflate: env.WS_PER_MESSAGE_DEFLATE,
  };
});
