import type { IncomingMessage } from 'node:http';

/** The subprotocol browsers offer beside their token; the server selects (echoes) this one. */
export const TASK_STATUS_SUBPROTOCOL = 'task-status.v1';
/** Prefix of the offered subprotocol that carries the token: `bearer.<jwt>`. */
export const TOKEN_SUBPROTOCOL_PREFIX = 'bearer.';

export type TokenSource = 'authorization_header' | 'subprotocol' | 'query';

export interface UpgradeToken {
  token: string;
  source: TokenSource;
}

/** The token of an `Authorization: Bearer <token>` header value, if that is what it holds. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  return match?.[1];
}

/**
 * Where an upgrade request carries its token, first found wins: `Authorization: Bearer`
 * (server clients), a `bearer.<jwt>` entry of `Sec-WebSocket-Protocol` (browsers, which cannot
 * set headers), or the `token` query parameter.
 */
export function extractUpgradeToken(
  request: Pick<IncomingMessage, 'headers' | 'url'>,
): UpgradeToken | undefined {
  const fromHeader = bearerToken(request.headers.authorization);
  if (fromHeader) return { token: fromHeader, source: 'authorization_header' };
  const fromProtocol = offeredSubprotocols(request.headers['sec-websocket-protocol'])
    .find((protocol) => protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX))
    ?.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
  if (fromProtocol) return { token: fromProtocol, source: 'subprotocol' };
  const fromQuery = tokenFromQuery(request.url);
  if (fromQuery) return { token: fromQuery, source: 'query' };
  return undefined;
}

/**
 * ws' `handleProtocols`: the subprotocol to echo. Never the token entry: the echo would copy the
 * token into the response, and a client must see one of the protocols it offered that is not its
 * credential. `task-status.v1` when offered, else the first other one; none when only a token
 * was offered (browsers then fail the handshake, hence the rule to offer `task-status.v1` too).
 */
export function selectSubprotocol(protocols: ReadonlySet<string>): string | false {
  if (protocols.has(TASK_STATUS_SUBPROTOCOL)) return TASK_STATUS_SUBPROTOCOL;
  for (const protocol of protocols) {
    if (!protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) return protocol;
  }
  return false;
}

function offeredSubprotocols(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol !== '');
}

function tokenFromQuery(url: string | undefined): string | undefined {
  if (!url?.includes('?')) return undefined;
  try {
    return new URL(url, 'ws://localhost').searchParams.get('token') || undefined;
  } catch {
    return undefined;
  }
}
