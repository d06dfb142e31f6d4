import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Helmet's security headers for every HTTP response (CSP, HSTS, nosniff, frame and referrer
 * policies, no X-Powered-By). Its default Content-Security-Policy already suits Swagger UI at
 * /docs (scripts and styles from this origin, inline styles, data: images); only
 * `upgrade-insecure-requests` is dropped, since the service itself speaks plain HTTP behind a TLS
 * proxy and the directive would send /docs' own requests to an https:// port that does not
 * exist. HSTS is ignored by browsers on plain HTTP and takes effect behind the TLS proxy.
 * Responses that set their own policy (the demo page) keep it.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  }) as RequestHandler;
}
