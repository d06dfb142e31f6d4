import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT, type JSONWebKeySet, type JWTPayload, type KeyInput } from 'jose';
import { withTimeout } from './with-timeout.js';

/** A shared secret long enough for HS256 (32 bytes and more). */
export const TEST_SECRET = 'task-status-e2e-shared-secret-of-48-bytes-xxxxx';

export interface MintOptions {
  /** Secret or private key; TEST_SECRET by default. */
  key?: KeyInput;
  alg?: string;
  kid?: string;
  /** `exp` in seconds from now; `null` leaves `exp` out. Default 300. */
  expiresInSeconds?: number | null;
  /** `exp` as epoch seconds; wins over expiresInSeconds. */
  expiresAt?: number;
  issuer?: string;
  audience?: string | string[];
}

/** A signed JWT made with jose, the way an identity provider would. */
export async function mintToken(claims: JWTPayload, options: MintOptions = {}): Promise<string> {
  const alg = options.alg ?? 'HS256';
  const key = options.key ?? new TextEncoder().encode(TEST_SECRET);
  const jwt = new SignJWT(claims)
    .setProtectedHeader(options.kid ? { alg, kid: options.kid } : { alg })
    .setIssuedAt();
  const expiresIn = options.expiresInSeconds === undefined ? 300 : options.expiresInSeconds;
  if (options.expiresAt !== undefined) jwt.setExpirationTime(options.expiresAt);
  else if (expiresIn !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(key);
}

/** An `alg: none` token: what an attacker without a key would try. */
export function unsignedToken(claims: JWTPayload): string {
  return new UnsecuredJWT(claims).setExpirationTime('5m').encode();
}

/**
 * A JSON Web Key Set served over HTTP on a free loopback port, as an identity provider's
 * `jwks_uri` would be; `keys` can be replaced (rotation) and fetches are counted.
 */
export class JwksServer {
  fetches = 0;
  private readonly server: Server;

  private constructor(public keys: JSONWebKeySet) {
    this.server = createServer((request, response) => {
      if (request.url !== '/.well-known/jwks.json') {
        response.writeHead(404).end();
        return;
      }
      this.fetches += 1;
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(this.keys));
    });
  }

  static async start(keys: JSONWebKeySet): Promise<JwksServer> {
    const jwks = new JwksServer(keys);
    jwks.server.listen(0, '127.0.0.1');
    await once(jwks.server, 'listening');
    return jwks;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/.well-known/jwks.json`;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    this.server.close();
    await withTimeout(once(this.server, 'close'), 5_000, 'the JWKS server to close');
  }
}

export interface UpgradeAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Sends a WebSocket upgrade request by hand and reports the HTTP answer: the status and headers
 * of a refusal (with its body), or of the 101 (the socket is then closed at once).
 */
export async function attemptUpgrade(
  wsUrl: string,
  headers: Record<string, string> = {},
): Promise<UpgradeAnswer> {
  const url = new URL(wsUrl);
  const answer = new Promise<UpgradeAnswer>((resolve, reject) => {
    const request = httpRequest({
      host: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    request.once('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' });
    });
    request.once('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.once('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
      response.once('error', reject);
    });
    request.once('error', reject);
    request.end();
  });
  return withTimeout(answer, 5_000, `an answer to the upgrade of ${wsUrl}`);
}
