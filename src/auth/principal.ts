import type { JWTPayload } from 'jose';

/** Who a verified token speaks for: its claims, as the issuer signed them. */
export interface Principal {
  /** The token's `sub`, when it has one. */
  subject: string | undefined;
  /** Every claim of the verified token. */
  claims: JWTPayload;
  /** The token's `exp` in epoch seconds, when it has one. */
  expiresAt: number | undefined;
}
