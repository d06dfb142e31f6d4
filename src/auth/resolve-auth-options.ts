import { createPublicKey, type KeyObject } from 'node:crypto';
import type { ResolvedAuthOptions, TaskStatusAuthOptions } from './auth-options.js';

export type AuthOptionName = keyof TaskStatusAuthOptions;

/** One configuration mistake, naming the option(s) at fault. */
export interface AuthOptionProblem {
  options: AuthOptionName[];
  reason: string;
}

export class AuthConfigurationError extends Error {
  constructor(readonly problems: AuthOptionProblem[]) {
    super(
      `Invalid auth options:\n  - ${problems
        .map(
          (problem) =>
            `${problem.options.map((name) => `auth.${name}`).join(', ')}: ${problem.reason}`,
        )
        .join('\n  - ')}`,
    );
    this.name = 'AuthConfigurationError';
  }
}

const HMAC = ['HS256', 'HS384', 'HS512'];
const RSA = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const RSA_PSS = ['PS256', 'PS384', 'PS512'];
const EC_BY_CURVE: Record<string, string> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};
const OKP = ['EdDSA', 'Ed25519'];
export const KNOWN_ALGORITHMS = [...HMAC, ...RSA, ...Object.values(EC_BY_CURVE), ...OKP];

const MIN_SECRET_BYTES = 32;
const MIN_RSA_BITS = 2048;
const MIN_STATS_TOKEN_LENGTH = 16;
const MAX_CLOCK_TOLERANCE_SECONDS = 600;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

const DEFAULTS = {
  clockToleranceSeconds: 5,
  tasksClaim: 'tasks',
  groupsClaim: 'groups',
  adminClaim: 'admin',
  jwksCooldownMs: 30_000,
};

/**
 * Applies the defaults and checks the combination once, at startup: at most one key source,
 * `none` and unknown algorithms refused, and every allowed algorithm usable with the key given
 * (a shared secret cannot verify RS256; an RSA key cannot verify ES256). Throws
 * AuthConfigurationError naming every problem.
 */
export function resolveAuthOptions(options: TaskStatusAuthOptions = {}): ResolvedAuthOptions {
  const { resolved, problems } = checkAuthOptions(options);
  if (problems.length > 0) throw new AuthConfigurationError(problems);
  return resolved;
}

/** As resolveAuthOptions, returning the problems instead of throwing (for env validation). */
export function checkAuthOptions(options: TaskStatusAuthOptions): {
  resolved: ResolvedAuthOptions;
  problems: AuthOptionProblem[];
} {
  const problems: AuthOptionProblem[] = [];
  const problem = (reason: string, ...names: AuthOptionName[]): void => {
    problems.push({ options: names, reason });
  };
  const given = stripUndefined(options);
  const sources = (['jwtSecret', 'jwtPublicKey', 'jwksUrl'] as const).filter(
    (name) => given[name] !== undefined,
  );
  // Empty lists mean "not set", so that resolved options resolve to themselves.
  const audience = given.audience === undefined ? [] : [given.audience].flat();
  const algorithms = given.algorithms?.length ? given.algorithms : undefined;
  const resolved: ResolvedAuthOptions = {
    ...DEFAULTS,
    ...given,
    enabled: sources.length === 1,
    audience,
    algorithms: [],
  };

  if (sources.length > 1) {
    problem(`set exactly one key source, not ${sources.length}`, ...sources);
  }
  if (sources.length === 0) {
    const orphans = [
      ...(given.issuer !== undefined ? (['issuer'] as const) : []),
      ...(audience.length > 0 ? (['audience'] as const) : []),
      ...(algorithms ? (['algorithms'] as const) : []),
    ];
    if (orphans.length > 0) {
      problem(
        'has no effect without a key source (a secret, a public key or a JWKS URL): authentication would be off',
        ...orphans,
      );
    }
  }

  for (const algorithm of algorithms ?? []) {
    if (algorithm.toLowerCase() === 'none') {
      problem('"none" is never accepted: unsigned tokens prove nothing', 'algorithms');
    } else if (!KNOWN_ALGORITHMS.includes(algorithm)) {
      problem(
        `unknown algorithm "${algorithm}"; known: ${KNOWN_ALGORITHMS.join(', ')}`,
        'algorithms',
      );
    }
  }

  if (sources.length === 1) {
    const allowed = checkKeySource(given, problem);
    if (allowed) {
      resolved.algorithms = algorithms ?? [allowed.fallback];
      const unusable = (algorithms ?? []).filter(
        (algorithm) => KNOWN_ALGORITHMS.includes(algorithm) && !allowed.usable.includes(algorithm),
      );
      if (unusable.length > 0) {
        problem(
          `${unusable.join(', ')} cannot be verified with ${allowed.what}; usable: ${allowed.usable.join(', ')}`,
          'algorithms',
          sources[0],
        );
      }
    }
  }

  if (!isIntegerIn(resolved.clockToleranceSeconds, 0, MAX_CLOCK_TOLERANCE_SECONDS)) {
    problem(`must be an integer from 0 to ${MAX_CLOCK_TOLERANCE_SECONDS}`, 'clockToleranceSeconds');
  }
  if (!isIntegerIn(resolved.jwksCooldownMs, 0, Number.MAX_SAFE_INTEGER)) {
    problem('must be a non-negative integer', 'jwksCooldownMs');
  }
  if (!isNonEmptyString(resolved.tasksClaim)) problem('must be a claim name', 'tasksClaim');
  if (!isNonEmptyString(resolved.groupsClaim)) problem('must be a claim name', 'groupsClaim');
  if (!/^[^=\s]+(=[^=\s]+)?$/.test(resolved.adminClaim)) {
    problem('must be "name" or "name=value", e.g. "admin" or "roles=gateway-admin"', 'adminClaim');
  }
  if (!audience.every(isNonEmptyString)) problem('entries must be non-empty strings', 'audience');
  if (given.issuer !== undefined && !isNonEmptyString(given.issuer)) {
    problem('must be a non-empty string', 'issuer');
  }
  if (given.statsToken !== undefined && given.statsToken.length < MIN_STATS_TOKEN_LENGTH) {
    problem(`must be at least ${MIN_STATS_TOKEN_LENGTH} characters`, 'statsToken');
  }
  return { resolved, problems };
}

interface AllowedAlgorithms {
  what: string;
  usable: string[];
  fallback: string;
}

function checkKeySource(
  given: TaskStatusAuthOptions,
  problem: (reason: string, ...names: AuthOptionName[]) => void,
): AllowedAlgorithms | undefined {
  if (given.jwtSecret !== undefined) {
    if (Buffer.byteLength(given.jwtSecret) < MIN_SECRET_BYTES) {
      problem(`must be at least ${MIN_SECRET_BYTES} bytes (256 bits)`, 'jwtSecret');
    }
    return { what: 'a shared secret', usable: HMAC, fallback: 'HS256' };
  }
  if (given.jwtPublicKey !== undefined) {
    if (/PRIVATE KEY/.test(given.jwtPublicKey)) {
      problem('is a private key; give the gateway the public key only', 'jwtPublicKey');
      return undefined;
    }
    let key: KeyObject;
    try {
      key = createPublicKey(given.jwtPublicKey);
    } catch {
      problem('is not a PEM public key (SPKI) or certificate', 'jwtPublicKey');
      return undefined;
    }
    return publicKeyAlgorithms(key, problem);
  }
  if (given.jwksUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(given.jwksUrl);
    } catch {
      problem('is not a URL', 'jwksUrl');
    }
    if (
      url &&
      url.protocol !== 'https:' &&
      !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))
    ) {
      problem(
        'must be https:// (http:// only on a loopback host): keys fetched in clear can be forged',
        'jwksUrl',
      );
    }
    return {
      what: 'a JWKS (public keys only)',
      usable: [...RSA, ...Object.values(EC_BY_CURVE), ...OKP],
      fallback: 'RS256',
    };
  }
  return undefined;
}

function publicKeyAlgorithms(
  key: KeyObject,
  problem: (reason: string, ...names: AuthOptionName[]) => void,
): AllowedAlgorithms | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss') {
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS) {
      problem(`is an RSA key shorter than ${MIN_RSA_BITS} bits`, 'jwtPublicKey');
    }
    const pssOnly = type === 'rsa-pss';
    return {
      what: `an ${type.toUpperCase()} key`,
      usable: pssOnly ? RSA_PSS : RSA,
      fallback: pssOnly ? 'PS256' : 'RS256',
    };
  }
  if (type === 'ec') {
    const algorithm = EC_BY_CURVE[details.namedCurve ?? ''];
    if (!algorithm) {
      problem(`is an EC key on an unsupported curve (${details.namedCurve})`, 'jwtPublicKey');
      return undefined;
    }
    return { what: `an EC ${details.namedCurve} key`, usable: [algorithm], fallback: algorithm };
  }
  if (type === 'ed25519') return { what: 'an Ed25519 key', usable: OKP, fallback: 'EdDSA' };
  problem(`is a ${type} key, which JWTs do not use here`, 'jwtPublicKey');
  return undefined;
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function isNonEmptyString(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '';
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}
