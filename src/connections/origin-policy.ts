function normalize(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

/**
 * One rule for HTTP CORS and WebSocket upgrades: no Origin (a non-browser client) is allowed,
 * an empty list or "*" allows every origin, otherwise the origin must be listed.
 */
export function isOriginAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (!origin || allowed.length === 0) return true;
  const candidate = normalize(origin);
  return allowed.some((entry) => entry === '*' || normalize(entry) === candidate);
}
