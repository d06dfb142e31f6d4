import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import type { EnvironmentVariables } from './environment-variables.js';
import { parseEnvironment } from './parse-environment.js';

/**
 * The settings as ConfigModule will see them (.env, overridden by the real environment), parsed
 * before Nest starts so that a bad value ends the process with one clear message.
 */
export function loadEnvironment(envFile = '.env'): EnvironmentVariables {
  const fromFile = existsSync(envFile) ? parse(readFileSync(envFile)) : {};
  return parseEnvironment({ ...fromFile, ...process.env });
}
