import type { JWTPayload } from 'jose';

/**
 * Whether claims satisfy an admin-claim rule (`AUTH_ADMIN_CLAIM`): `name` needs the claim to be
 * `true`; `name=value` needs it to equal value, to be an array holding value, or a
 * space-separated string holding it (as OAuth's `scope` is).
 */
export function hasAdminClaim(claims: JWTPayload, rule: string): boolean {
  const separator = rule.indexOf('=');
  const name = separator === -1 ? rule : rule.slice(0, separator);
  const value = claims[name];
  if (separator === -1) return value === true;
  const expected = rule.slice(separator + 1);
  if (Array.isArray(value)) return value.includes(expected);
  if (typeof value === 'string') return value === expected || value.split(/\s+/).includes(expected);
  return false;
}
