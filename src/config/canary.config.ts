import { registerAs } from '@nestjs/config';
import type { CanaryOptions } from '../outbound/canary-options.js';
import type { EnvironmentVariables } from './environment-variables.js';
import { environment } from './environment.js';

/** The options as the environment sets them; unset variables stay undefined (the module's default). */
export function canaryOptionsFromEnvironment(env: EnvironmentVariables): CanaryOptions {
  return { intervalMs: env.CANARY_INTERVAL_MS, timeoutMs: env.CANARY_TIMEOUT_MS };
}

export const canaryConfig = registerAs('canary', () => canaryOptionsFromEnvironment(environment()));
