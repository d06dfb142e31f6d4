import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

export const API_DOCS_PATH = 'docs';

/** The OpenAPI document of the HTTP endpoints (the WebSocket protocol is in docs/asyncapi.yaml). */
export function createApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Task-status gateway')
    .setDescription(
      'HTTP endpoints of the task-status gateway: the Server-Sent Events streams of task ' +
        'updates, health, stats and metrics. The WebSocket protocol on `/ws`, the events of the ' +
        'streams and the Redis channel are described by the AsyncAPI document ' +
        '`docs/asyncapi.yaml` and by `docs/protocol.md`.',
    )
    .setVersion('1.0.0')
    // /ws/stats and /metrics take STATS_TOKEN or an admin JWT once auth is configured.
    .addBearerAuth()
    .build();
  // Only the routes of the modules the application imported.
  return SwaggerModule.createDocument(app, config);
}

/**
 * Serves Swagger UI at /docs and the document at /docs-json and /docs-yaml. Must run before the
 * application listens: routes added later would sit behind Nest's not-found handler.
 */
export function setupApiDocs(app: INestApplication): void {
  SwaggerModule.setup(API_DOCS_PATH, app, () => createApiDocument(app), {
    customSiteTitle: 'Task-status gateway API',
  });
}
