import type { TaskStatusAuthOptions } from '../auth/auth-options.js';
import { checkAuthOptions, type AuthOptionName } from '../auth/resolve-auth-options.js';
import type { EnvironmentVariables } from './environment-variables.js';

const VARIABLE_OF: Partial<Record<AuthOptionName, keyof EnvironmentVariables>> = {
  jwtSecret: 'AUTH_JWT_SECRET',
  jwtPublicKey: 'AUTH_JWT_PUBLIC_KEY',
  jwksUrl: 'AUTH_JWKS_URL',
  issuer: 'AUTH_JWT_ISSUER',
  audience: 'AUTH_JWT_AUDIENCE',
  algorithms: 'AUTH_JWT_ALGORITHMS',
  clockToleranceSeconds: 'AUTH_CLOCK_TOLERANCE_SECONDS',
  tasksClaim: 'AUTH_TASKS_CLAIM',
  groupsClaim: 'AUTH_GROUPS_CLAIM',
  adminClaim: 'AUTH_ADMIN_CLAIM',
  statsToken: 'STATS_TOKEN',
};

/** Variables whose values never appear in an error message. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['AUTH_JWT_SECRET', 'STATS_TOKEN']);

/** The module's auth options as the AUTH_* variables and STATS_TOKEN set them. */
export function authOptionsFromEnvironment(env: EnvironmentVariables): TaskStatusAuthOptions {
  return {
    jwtSecret: env.AUTH_JWT_SECRET,
    // One-line environments (Kubernetes literals, CI secrets) often carry PEM with \n escapes.
    jwtPublicKey: env.AUTH_JWT_PUBLIC_KEY?.replace(/\\n/g, '\n'),
    jwksUrl: env.AUTH_JWKS_URL,
    issuer: env.AUTH_JWT_ISSUER,
    audience: env.AUTH_JWT_AUDIENCE,
    algorithms: env.AUTH_JWT_ALGORITHMS,
    clockToleranceSeconds: env.AUTH_CLOCK_TOLERANCE_SECONDS,
    tasksClaim: env.AUTH_TASKS_CLAIM,
    groupsClaim: env.AUTH_GROUPS_CLAIM,
    adminClaim: env.AUTH_ADMIN_CLAIM,
    statsToken: env.STATS_TOKEN,
  };
}

/**
 * What is wrong with the combination of auth variables (each one may be valid on its own), in
 * the `NAME=value: reason` form of the other environment errors; secrets are never shown.
 */
export function authEnvironmentProblems(env: EnvironmentVariables): string[] {
  const { problems } = checkAuthOptions(authOptionsFromEnvironment(env));
  return problems.map(({ options, reason }) => {
    const names = options.map((option) => VARIABLE_OF[option] ?? `auth.${option}`);
    if (names.length > 1) return `${names.join(', ')}: ${reason}`;
    const [name] = names;
    return `${name}=${shown(name, env[name as keyof EnvironmentVariables])}: ${reason}`;
  });
}

function shown(name: string, value: unknown): string {
  if (SECRET_VARIABLES.has(name)) return '"***"';
  if (name === 'AUTH_JWT_PUBLIC_KEY') return '"(PEM)"';
  return JSON.stringify(value) ?? 'undefined';
}
