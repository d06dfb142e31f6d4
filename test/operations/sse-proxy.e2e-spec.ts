import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/redis-server.js';
import { NGINX_MISSING, NginxProcess } from '../support/nginx.js';
import { SseTestClient } from '../support/sse-test-client.js';
import { useGateway } from '../support/use-gateway.js';

/** deploy/nginx/nginx.conf in front of a gateway: each event passes as it is written. */
describe('Server-Sent Events through the deployed nginx config', { skip: NGINX_MISSING }, () => {
  const fixture = useGateway();
  let nginx: NginxProcess | undefined;
  let proxyUrl = '';

  before(async () => {
    const port = await freePort();
    nginx = await NginxProcess.start(
      readFileSync(resolve('deploy/nginx/nginx.conf'), 'utf8'),
      port,
      fixture.httpUrl,
    );
    proxyUrl = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await nginx?.stop();
  });

  it('passes the stream unbuffered: the subscription, then each live update as it comes', async () => {
    const client = await SseTestClient.open(`${proxyUrl}/tasks/events?task_id=proxied`);
    try {
      assert.equal(client.status, 200);
      assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(client.headers['cache-control'], 'no-cache, no-transform');
      await client.waitForEvents('subscribed', 1);
      for (let version = 1; version <= 3; version += 1) {
        await fixture.publish({ task_id: 'proxied', status: 'running', version });
        // One at a time: a buffering proxy would hold each back.
        const updates = await client.waitForEvents('status_update', version);
        assert.equal(updates[version - 1].id, `proxied:v${version}`);
      }
    } finally {
      client.close();
    }
  });

  it('answers refusals through the proxy as the gateway gives them', async () => {
    const client = await SseTestClient.open(`${proxyUrl}/tasks/events`);
    await client.whenEnded();
    assert.equal(client.status, 400);
  });
});
