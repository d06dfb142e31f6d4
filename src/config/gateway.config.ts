import { registerAs } from '@nestjs/config';
import type { GatewayOptions } from '../inbound/gateway-options.js';
import type { EnvironmentVariables } from './environment-variables.js';
import { environment } from './environment.js';

/** The options as the environment sets them; unset variables stay undefined (the module's default). */
export function gatewayOptionsFromEnvironment(env: EnvironmentVariables): GatewayOptions {
  return {
    maxMessageBytes: env.WS_MAX_MESSAGE_BYTES,
    heartbeatIntervalMs: env.WS_HEARTBEAT_INTERVAL_MS,
    perMessageDeflate: env.WS_PER_MESSAGE_DEFLATE,
    rateLimitPerSecond: env.WS_RATE_LIMIT_PER_SECOND,
    rateLimitBurst: env.WS_RATE_LIMIT_BURST,
    rateLimitMaxViolations: env.WS_RATE_LIMIT_MAX_VIOLATIONS,
    rateLimitViolationWindowMs: env.WS_RATE_LIMIT_VIOLATION_WINDOW_MS,
    handshakeTimeoutMs: env.WS_HANDSHAKE_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    drainWindowMs: env.SHUTDOWN_DRAIN_WINDOW_MS,
  };
}

export const gatewayConfig = registerAs('gateway', () =>
  gatewayOptionsFromEnvironment(environment()),
);
