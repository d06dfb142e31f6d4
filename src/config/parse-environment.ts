import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { redactUrlCredentials } from '../logging/redact-secrets.js';
import { authEnvironmentProblems, SECRET_VARIABLES } from './auth-environment.js';
import { EnvironmentVariables } from './environment-variables.js';
import { redisEnvironmentProblems } from './redis-environment.js';

/** Variables for which an empty value is a setting of its own rather than "use the default". */
const EMPTY_IS_A_VALUE = new Set(['TASK_STATUS_KEY_PREFIX']);

export class InvalidEnvironmentError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidEnvironmentError';
  }
}

/**
 * Turns raw environment strings into typed, validated settings, applying defaults for unset
 * (or empty) variables. Throws InvalidEnvironmentError naming every bad variable.
 */
export function parseEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  const defined: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    // An empty (or blank) variable means "use the default", as in most twelve-factor services.
    if (value === undefined) continue;
    if (typeof value === 'string' && value.trim() === '' && !EMPTY_IS_A_VALUE.has(key)) continue;
    defined[key] = value;
  }
  const env = plainToInstance(EnvironmentVariables, defined, {
    enableImplicitConversion: true,
    exposeDefaultValues: true,
  });
  const errors = validateSync(env, { skipMissingProperties: false, forbidUnknownValues: true });
  if (errors.length > 0) {
    throw new InvalidEnvironmentError(
      errors.map((error) => {
        const constraints = error.constraints ?? {};
        // A value of the wrong type fails every rule; its type is the one worth reporting.
        const reason =
          constraints.isInt ??
          constraints.isArray ??
          constraints.isString ??
          Object.values(constraints).join('; ');
        // The message goes to stderr and log collectors: a password in a URL must not.
        const shown = SECRET_VARIABLES.has(error.property)
          ? '"***"'
          : redactUrlCredentials(JSON.stringify(defined[error.property]) ?? 'undefined');
        return `${error.property}=${shown}: ${reason}`;
      }),
    );
  }
  // Rules across variables (one key source, algorithms that fit the key), once each is valid.
  const problems = [...redisEnvironmentProblems(env), ...authEnvironmentProblems(env)];
  if (problems.length > 0) throw new InvalidEnvironmentError(problems);
  return env;
}
