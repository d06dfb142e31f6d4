import { registerAs } from '@nestjs/config';
import type { ConnectionLimitsOptions } from '../connections/connection-limits-options.js';
import type { EnvironmentVariables } from './environment-variables.js';
import { environment } from './environment.js';

/** The options as the environment sets them; unset variables stay undefined (the module's default). */
export function limitsOptionsFromEnvironment(env: EnvironmentVariables): ConnectionLimitsOptions {
  return {
    maxConnections: env.WS_MAX_CONNECTIONS,
    maxConnectionsPerIp: env.WS_MAX_CONNECTIONS_PER_IP,
    trustProxy: env.TRUST_PROXY,
    allowedOrigins: env.CORS_ORIGINS,
    maxSubscriptionsPerConnection: env.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    maxGroupsPerConnection: env.WS_MAX_GROUPS_PER_CONNECTION,
  };
}

export const limitsConfig = registerAs('limits', () => limitsOptionsFromEnvironment(environment()));
