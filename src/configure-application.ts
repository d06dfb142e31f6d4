import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import {
  CONNECTION_LIMITS_OPTIONS,
  type ResolvedConnectionLimitsOptions,
} from './connections/connection-limits-options.js';
import { limitHandshakeTime } from './http/limit-handshake-time.js';
import { securityHeaders } from './http/security-headers.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from './inbound/gateway-options.js';
import { isOriginAllowed } from './connections/origin-policy.js';
import { TaskStatusWsAdapter } from './inbound/task-status-ws.adapter.js';
import { REQUEST_ID_HEADER, requestIdMiddleware } from './logging/request-id.middleware.js';

/**
 * What every instance of the service needs on top of its modules: the WebSocket adapter, CORS
 * under the same origin rule, HTTP request ids, security headers, and time limits on incomplete
 * requests and handshakes. Shared by main.ts and the e2e tests; needs TaskStatusCoreModule and
 * TaskStatusGatewayModule.
 */
export function configureApplication(app: INestApplication): void {
  const limits = app.get<ResolvedConnectionLimitsOptions>(CONNECTION_LIMITS_OPTIONS, {
    strict: false,
  });
  const gateway = app.get<ResolvedGatewayOptions>(GATEWAY_OPTIONS, { strict: false });
  app.useWebSocketAdapter(new TaskStatusWsAdapter(app));
  // Before listen(): see limitHandshakeTime.
  limitHandshakeTime(app.getHttpServer() as Server, gateway.handshakeTimeoutMs);
  const http = app.getHttpAdapter().getInstance() as { disable?: (setting: string) => void };
  http.disable?.('x-powered-by');
  app.use(securityHeaders());
  app.use(requestIdMiddleware());
  app.enableCors({
    origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) =>
      callback(null, isOriginAllowed(origin, limits.allowedOrigins)),
    exposedHeaders: [REQUEST_ID_HEADER],
  });
}
