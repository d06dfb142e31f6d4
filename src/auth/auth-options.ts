/**
 * JWT authentication of WebSocket upgrades and of the operator endpoints. Off unless one key
 * source (`jwtSecret`, `jwtPublicKey` or `jwksUrl`) is set; `statsToken` alone protects only
 * /ws/stats and /metrics.
 */
export interface TaskStatusAuthOptions {
  /** Shared secret for HS256/HS384/HS512, at least 32 bytes (`AUTH_JWT_SECRET`). */
  jwtSecret?: string;
  /** PEM public key (SPKI) or X.509 certificate for RS*, PS*, ES* or EdDSA (`AUTH_JWT_PUBLIC_KEY`). */
  jwtPublicKey?: string;
  /** URL of a JSON Web Key Set; https, or http on a loopback host only (`AUTH_JWKS_URL`). */
  jwksUrl?: string;
  /** Required `iss` when set (`AUTH_JWT_ISSUER`). */
  issuer?: string;
  /** Required `aud` when set: the token must name one of these (`AUTH_JWT_AUDIENCE`). */
  audience?: string | string[];
  /**
   * Accepted `alg` values (`AUTH_JWT_ALGORITHMS`); `none` is never accepted. Default: HS256 for a
   * secret, the key's own algorithm for a public key (RS256 for RSA), RS256 for a JWKS.
   */
  algorithms?: string[];
  /** Leeway for `exp` and `nbf`, in seconds (`AUTH_CLOCK_TOLERANCE_SECONDS`). Default 5. */
  clockToleranceSeconds?: number;
  /** Claim listing the task ids and prefix patterns a token may subscribe to (`AUTH_TASKS_CLAIM`). Default `tasks`. */
  tasksClaim?: string;
  /** Claim listing the group ids and prefix patterns a token may subscribe to (`AUTH_GROUPS_CLAIM`). Default `groups`. */
  groupsClaim?: string;
  /**
   * What makes a token an operator's, for /ws/stats and /metrics (`AUTH_ADMIN_CLAIM`): `name`
   * (the claim must be `true`) or `name=value` (the claim equals value, is an array holding it, or
   * a space-separated string holding it, as `scope` is). Default `admin`.
   */
  adminClaim?: string;
  /** Static bearer token for /ws/stats and /metrics, at least 16 characters (`STATS_TOKEN`). */
  statsToken?: string;
  /** Least time between two JWKS fetches caused by an unknown `kid`, in ms. Default 30000. */
  jwksCooldownMs?: number;
}

/** The auth options with every default applied and checked (see resolveAuthOptions). */
export interface ResolvedAuthOptions {
  /** A key source is configured: upgrades need a valid token and subscriptions pass the policy. */
  enabled: boolean;
  jwtSecret?: string;
  jwtPublicKey?: string;
  jwksUrl?: string;
  issuer?: string;
  audience: string[];
  algorithms: string[];
  clockToleranceSeconds: number;
  tasksClaim: string;
  groupsClaim: string;
  adminClaim: string;
  statsToken?: string;
  jwksCooldownMs: number;
}

/** Injection token of the resolved auth options. */
export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');
