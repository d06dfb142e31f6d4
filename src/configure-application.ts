import type { INestApplication } from '@nestjs/common';
import { REQUEST_ID_HEADER, requestIdMiddleware } from './logging/request-id.middleware.js';
import { isOriginAllowed } from './task-status/origin-policy.js';
import { TaskStatusWsAdapter } from './task-status/task-status-ws.adapter.js';

/**
 * What every instance of the service needs on top of its modules: the WebSocket adapter, CORS
 * under the same origin rule, and HTTP request ids. Shared by main.ts and the e2e tests.
 */
export function configureApplication(
  app: INestApplication,
  allowedOrigins: readonly string[],
): void {
  app.useWebSocketAdapter(new TaskStatusWsAdapter(app));
  const http = app.getHttpAdapter().getInstance() as { disable?: (setting: string) => void };
  http.disable?.('x-powered-by');
  app.use(requestIdMiddleware());
  app.enableCors({
    origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) =>
      callback(null, isOriginAllowed(origin, allowedOrigins)),
    exposedHeaders: [REQUEST_ID_HEADER],
  });
}
