import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { limitHandshakeTime } from './http/limit-handshake-time.js';
import { securityHeaders } from './http/security-headers.js';
import { REQUEST_ID_HEADER, requestIdMiddleware } from './logging/request-id.middleware.js';
import { isOriginAllowed } from './inbound/origin-policy.js';
import { TASK_STATUS_OPTIONS } from './core/task-status.module-definition.js';
import type { ResolvedTaskStatusOptions } from './core/task-status-module-options.js';
import { TaskStatusWsAdapter } from './inbound/task-status-ws.adapter.js';

/**
 * What every instance of the service needs on top of its modules: the WebSocket adapter, CORS
 * under the same origin rule, HTTP request ids, security headers, and time limits on incomplete
 * requests and handshakes. Shared by main.ts and the e2e tests.
 */
export function configureApplication(
  app: INestApplication,
  allowedOrigins: readonly string[],
): void {
  app.useWebSocketAdapter(new TaskStatusWsAdapter(app));
  const options = app.get<ResolvedTaskStatusOptions>(TASK_STATUS_OPTIONS, { strict: false });
  // Before listen(): see limitHandshakeTime.
  limitHandshakeTime(app.getHttpServer() as Server, options.handshakeTimeoutMs);
  const http = app.getHttpAdapter().getInstance() as { disable?: (setting: string) => void };
  http.disable?.('x-powered-by');
  app.use(securityHeaders());
  app.use(requestIdMiddleware());
  app.enableCors({
    origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) =>
      callback(null, isOriginAllowed(origin, allowedOrigins)),
    exposedHeaders: [REQUEST_ID_HEADER],
  });
}
