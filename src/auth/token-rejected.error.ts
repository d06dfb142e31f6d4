/** Why a token was not accepted; `key_set_unavailable` is the verifier's fault, not the token's. */
export type TokenRejectionReason =
  | 'missing'
  | 'malformed'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'algorithm_not_allowed'
  | 'claim_mismatch'
  | 'unknown_key'
  | 'key_set_unavailable';

export class TokenRejectedError extends Error {
  constructor(readonly reason: TokenRejectionReason) {
    super(`Token rejected: ${reason.replaceAll('_', ' ')}`);
    this.name = 'TokenRejectedError';
  }
}
