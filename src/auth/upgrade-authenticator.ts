import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { ThrottledLogger } from '../logging/throttled-logger.js';
import { ConnectionSessions } from './connection-sessions.js';
import { JwtVerifier } from './jwt-verifier.js';
import { TokenRejectedError, type TokenRejectionReason } from './token-rejected.error.js';
import { extractUpgradeToken } from './upgrade-token.js';

export type UpgradeAuthentication =
  | { ok: true }
  | {
      ok: false;
      reason: TokenRejectionReason;
      status: 401 | 503;
      body: string;
      headers: Record<string, string>;
    };

const REALM = 'Bearer realm="task-status"';

/**
 * Authenticates a WebSocket upgrade request before the handshake completes: finds the token,
 * verifies it, and hands the principal to ConnectionSessions for the socket about to open.
 */
@Injectable()
export class UpgradeAuthenticator {
  private readonly logger = new Logger('Auth');
  // Every client fails at once while the key set is down: one line per 30 s is enough.
  private readonly outageLog = new ThrottledLogger(this.logger, 1, 30_000);

  constructor(
    private readonly verifier: JwtVerifier,
    private readonly sessions: ConnectionSessions,
  ) {}

  get enabled(): boolean {
    return this.verifier.enabled;
  }

  /** Never rejects: every failure is an answer for the client. */
  async authenticate(request: IncomingMessage): Promise<UpgradeAuthentication> {
    const found = extractUpgradeToken(request);
    if (!found) return refusal('missing');
    try {
      this.sessions.admit(request, await this.verifier.verify(found.token));
      return { ok: true };
    } catch (error) {
      const reason = error instanceof TokenRejectedError ? error.reason : 'malformed';
      if (reason === 'key_set_unavailable') {
        this.outageLog.warn('Upgrade refused: the JSON Web Key Set could not be fetched');
      } else {
        this.logger.debug(`Upgrade refused: token ${reason} (from ${found.source})`);
      }
      return refusal(reason);
    }
  }
}

function refusal(reason: TokenRejectionReason): UpgradeAuthentication {
  if (reason === 'key_set_unavailable') {
    // The token may be fine: the keys to check it are what is missing.
    return {
      ok: false,
      reason,
      status: 503,
      body: 'Authentication unavailable',
      headers: { 'Retry-After': '5' },
    };
  }
  if (reason === 'missing') {
    return {
      ok: false,
      reason,
      status: 401,
      body: 'Missing token',
      headers: { 'WWW-Authenticate': REALM },
    };
  }
  return {
    ok: false,
    reason,
    status: 401,
    body: reason === 'expired' ? 'Token expired' : 'Invalid token',
    headers: { 'WWW-Authenticate': `${REALM}, error="invalid_token"` },
  };
}
