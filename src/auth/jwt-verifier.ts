import { Inject, Injectable } from '@nestjs/common';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { AUTH_OPTIONS, type ResolvedAuthOptions } from './auth-options.js';
import type { Principal } from './principal.js';
import { TokenRejectedError, type TokenRejectionReason } from './token-rejected.error.js';

type VerificationKey = Uint8Array | KeyObject | JWTVerifyGetKey;

const REASONS_BY_JOSE_CODE: Record<string, TokenRejectionReason> = {
  ERR_JWT_EXPIRED: 'expired',
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm_not_allowed',
  ERR_JOSE_NOT_SUPPORTED: 'algorithm_not_allowed',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'bad_signature',
  ERR_JWS_INVALID: 'malformed',
  ERR_JWT_INVALID: 'malformed',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'unknown_key',
  ERR_JWKS_TIMEOUT: 'key_set_unavailable',
  ERR_JWKS_INVALID: 'key_set_unavailable',
};

/**
 * Verifies JWTs with jose against the one configured key source: the signature, the algorithm
 * allow-list, `exp`/`nbf` with the clock tolerance, and `iss`/`aud` when configured. A remote
 * key set is cached and fetched again when a token names a `kid` it does not hold.
 */
@Injectable()
export class JwtVerifier {
  private readonly key: VerificationKey | undefined;

  constructor(@Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions) {
    this.key = verificationKey(options);
  }

  get enabled(): boolean {
    return this.key !== undefined;
  }

  /** The token's principal; throws TokenRejectedError saying why it is not accepted. */
  async verify(token: string): Promise<Principal> {
    const key = this.key;
    if (key === undefined) throw new Error('JWT authentication is not configured');
    if (token === '') throw new TokenRejectedError('missing');
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: this.options.algorithms,
        clockTolerance: this.options.clockToleranceSeconds,
        ...(this.options.issuer !== undefined && { issuer: this.options.issuer }),
        ...(this.options.audience.length > 0 && { audience: this.options.audience }),
      });
      return {
        subject: payload.sub,
        claims: payload,
        expiresAt: payload.exp,
      };
    } catch (error) {
      throw new TokenRejectedError(this.reasonOf(error));
    }
  }

  private reasonOf(error: unknown): TokenRejectionReason {
    const { code, claim } = (error ?? {}) as { code?: unknown; claim?: unknown };
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
      return claim === 'nbf' ? 'not_yet_valid' : 'claim_mismatch';
    }
    const known = typeof code === 'string' ? REASONS_BY_JOSE_CODE[code] : undefined;
    if (known) return known;
    // Anything else while a key set is in use is a failed fetch (refused, not 200, not JSON).
    return this.options.jwksUrl !== undefined ? 'key_set_unavailable' : 'malformed';
  }
}

function verificationKey(options: ResolvedAuthOptions): VerificationKey | undefined {
  if (!options.enabled) return undefined;
  if (options.jwtSecret !== undefined) return new TextEncoder().encode(options.jwtSecret);
  if (options.jwtPublicKey !== undefined) return createPublicKey(options.jwtPublicKey);
  if (options.jwksUrl !== undefined) {
    return createRemoteJWKSet(new URL(options.jwksUrl), {
      cooldownDuration: options.jwksCooldownMs,
    });
  }
  return undefined;
}
