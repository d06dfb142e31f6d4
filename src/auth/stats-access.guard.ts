import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { hasAdminClaim } from './admin-claim.js';
import { AUTH_OPTIONS, type ResolvedAuthOptions } from './auth-options.js';
import { JwtVerifier } from './jwt-verifier.js';
import { bearerToken } from './upgrade-token.js';

/**
 * Guards the operator endpoints (/ws/stats lists task ids; /metrics): open while neither JWT
 * authentication nor STATS_TOKEN is configured; otherwise `Authorization: Bearer` must carry
 * STATS_TOKEN or a valid JWT with the admin claim. 401 without valid credentials, 403 for a valid
 * JWT without the claim.
 */
@Injectable()
export class StatsAccessGuard implements CanActivate {
  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions,
    private readonly verifier: JwtVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const { statsToken, adminClaim } = this.options;
    if (!this.verifier.enabled && statsToken === undefined) return true;
    const http = context.switchToHttp();
    const token = bearerToken(http.getRequest<Request>().headers.authorization);
    if (token !== undefined) {
      if (statsToken !== undefined && sameSecret(token, statsToken)) return true;
      if (this.verifier.enabled) {
        const principal = await this.verifier.verify(token).catch(() => undefined);
        if (principal && hasAdminClaim(principal.claims, adminClaim)) return true;
        if (principal) throw new ForbiddenException('The token does not carry the admin claim');
      }
    }
    http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer realm="task-status"');
    throw new UnauthorizedException('STATS_TOKEN or an admin JWT required as a Bearer token');
  }
}

/** Constant-time comparison that does not reveal the length either. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
