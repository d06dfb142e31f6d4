import type { EnvironmentVariables } from './environment-variables.js';
import { loadEnvironment } from './load-environment.js';

let parsed: EnvironmentVariables | undefined;

/**
 * The service's settings, parsed and validated once per process (main.ts does it first, so a bad
 * value ends the boot before Nest starts); every config namespace reads this one result.
 */
export function environment(): EnvironmentVariables {
  parsed ??= loadEnvironment();
  return parsed;
}
