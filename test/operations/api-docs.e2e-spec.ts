import assert from 'node:assert/strict';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setupApiDocs } from '../../src/api-docs/setup-api-docs.js';
import { configureApplication } from '../../src/configure-application.js';
import { gatewayModules, type TestAppOptions } from '../support/test-app.js';
import { useGateway } from '../support/use-gateway.js';
import { withTimeout } from '../support/with-timeout.js';

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { tags?: string[]; responses: Record<string, unknown> }>>;
}

/** The application as main.ts builds it with API_DOCS_ENABLED=true, on a free loopback port. */
async function startWithDocs(
  options: TestAppOptions,
): Promise<{ app: INestApplication; url: string }> {
  const moduleRef = await Test.createTestingModule({
    imports: gatewayModules(options),
  }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'fatal'] });
  configureApplication(app);
  setupApiDocs(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

async function get(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(5_000) });
}

describe('API docs at /docs', () => {
  const fixture = useGateway({ start: { beforeListen: (app) => setupApiDocs(app) } });

  it('serves Swagger UI', async () => {
    const response = await get(`${fixture.httpUrl}/docs`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await response.text(), /swagger-ui/i);
  });

  it('documents every HTTP endpoint in an OpenAPI document', async () => {
    const response = await get(`${fixture.httpUrl}/docs-json`);
    assert.equal(response.status, 200);
    const document = (await response.json()) as OpenApiDocument;
    assert.match(document.openapi, /^3\./);
    assert.equal(document.info.title, 'Task-status gateway');
    assert.deepEqual(Object.keys(document.paths).sort(), [
      '/health',
      '/health/live',
      '/health/ready',
      '/metrics',
      '/tasks/events',
      '/tasks/{task_id}/events',
      '/ws/stats',
    ]);
    for (const [path, operations] of Object.entries(document.paths)) {
      assert.ok(operations.get, `GET ${path}`);
      assert.ok(operations.get.tags?.length, `GET ${path} has a tag`);
      assert.ok(operations.get.responses['200'], `GET ${path} documents 200`);
    }
    assert.ok(document.paths['/health'].get.responses['503'], '/health documents 503');
    assert.ok(document.paths['/health/ready'].get.responses['503'], 'ready documents 503');
    for (const path of ['/tasks/events', '/tasks/{task_id}/events']) {
      const { responses } = document.paths[path].get;
      for (const status of ['400', '401', '403', '429', '503']) {
        assert.ok(responses[status], `${path} documents ${status}`);
      }
    }
  });

  it('documents what the endpoints really answer', async () => {
    const response = await get(`${fixture.httpUrl}/docs-json`);
    const document = (await response.json()) as OpenApiDocument;
    for (const [path, operations] of Object.entries(document.paths)) {
      const answer = await get(`${fixture.httpUrl}${path}`);
      await answer.body?.cancel();
      assert.ok(
        String(answer.status) in operations.get.responses,
        `GET ${path} answered ${answer.status}, documented: ${Object.keys(operations.get.responses).join(', ')}`,
      );
    }
  });

  it('leaves /metrics out when metrics are off', async () => {
    const off = await startWithDocs({ redisUrl: fixture.redis.url, metrics: false });
    try {
      const document = (await (await get(`${off.url}/docs-json`)).json()) as OpenApiDocument;
      assert.equal(document.paths['/metrics'], undefined);
      assert.ok(document.paths['/ws/stats']);
    } finally {
      await withTimeout(off.app.close(), 15_000, 'app.close()');
    }
  });
});
