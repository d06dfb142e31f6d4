import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { mintToken, TEST_SECRET } from '../support/auth-tokens.js';
import { CHROMIUM_MISSING, launchChromium } from '../support/chromium.js';
import { freePort, RedisServer } from '../support/redis-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { CHANNEL, useGateway } from '../support/use-gateway.js';

/** What a page records of its EventSource (the project compiles without the DOM lib). */
interface Received {
  type: string;
  id: string;
  data: string;
}
interface BrowserEventSource {
  readonly readyState: number;
  addEventListener(
    type: string,
    listener: (event: { data?: string; lastEventId?: string }) => void,
  ): void;
  close(): void;
}
interface PageGlobals {
  EventSource: new (url: string) => BrowserEventSource;
  source: BrowserEventSource;
  received: Received[];
  connectionErrors: number;
}

/** Opens an EventSource in the page as a frontend would; events collect in window.received. */
async function openEventSource(page: Page, url: string): Promise<void> {
  await page.evaluate((streamUrl) => {
    const page = globalThis as unknown as PageGlobals;
    page.received = [];
    page.connectionErrors = 0;
    const source = new page.EventSource(streamUrl);
    page.source = source;
    for (const type of ['subscribed', 'status_update']) {
      source.addEventListener(type, (event) =>
        page.received.push({ type, id: event.lastEventId ?? '', data: event.data ?? '' }),
      );
    }
    // Both a server's `event: error` (it has data) and a failed connection (it has none).
    source.addEventListener('error', (event) => {
      if (event.data === undefined) page.connectionErrors += 1;
      else page.received.push({ type: 'error', id: '', data: event.data });
    });
  }, url);
}

async function waitForReceived(page: Page, count: number): Promise<Received[]> {
  await page.waitForFunction(
    (n) => (globalThis as unknown as PageGlobals).received.length >= n,
    count,
    { timeout: 10_000 },
  );
  return page.evaluate(() => (globalThis as unknown as PageGlobals).received);
}

describe('a browser EventSource client', { skip: CHROMIUM_MISSING }, () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  describe('across a gateway restart', () => {
    let redis: RedisServer;
    let publisher: Redis;
    const apps: TestApp[] = [];

    before(async () => {
      redis = await RedisServer.start();
      publisher = new Redis(redis.url);
    });

    after(async () => {
      for (const app of apps) await app.close();
      publisher?.disconnect();
      await redis?.stop();
    });

    async function state(update: Record<string, unknown>, publish: boolean): Promise<void> {
      const json = JSON.stringify(update);
      const transaction = publisher.multi().set(`task:status:${String(update.task_id)}`, json);
      if (publish) transaction.publish(CHANNEL, json);
      await transaction.exec();
    }

    it('gets snapshots and live updates, and resumes by itself with Last-Event-ID', async () => {
      const port = await freePort();
      const settings = { redisUrl: redis.url, sseRetryMs: 200, sseRetryJitterMs: 0 };
      const first = await startTestApp(settings, { port });
      apps.push(first);
      await state({ task_id: 'br-a', status: 'running', progress: 10, version: 1 }, false);
      const page = await browser.newPage();
      await page.goto(`${first.httpUrl}/health/live`);
      await openEventSource(page, '/tasks/events?task_id=br-a&task_id=br-b');
      await waitForReceived(page, 3);
      await state({ task_id: 'br-a', status: 'running', progress: 50, version: 2 }, true);
      const live = await waitForReceived(page, 4);
      assert.deepEqual(
        live.map(({ type, id }) => [type, id]),
        [
          ['subscribed', ''],
          ['subscribed', ''],
          ['status_update', 'br-a:v1'],
          ['status_update', 'br-a:v2'],
        ],
      );
      assert.deepEqual(JSON.parse(live[3].data), {
        type: 'status_update',
        task_id: 'br-a',
        data: { status: 'running', progress: 50, version: 2 },
      });

      // The server ends the stream; the EventSource reconnects on its own, with Last-Event-ID.
      await first.close();
      await state({ task_id: 'br-b', status: 'queued', version: 1 }, true);
      const second = await startTestApp(settings, { port });
      apps.push(second);
      const resumed = await waitForReceived(page, 7);
      assert.deepEqual(
        resumed.slice(4).map(({ type, id }) => [type, id]),
        [
          ['subscribed', 'br-a:v2'],
          ['subscribed', 'br-a:v2'],
          ['status_update', 'br-b:v1'],
        ],
        'br-a at v2 was seen: only br-b, newer, is sent',
      );
      await state({ task_id: 'br-a', status: 'completed', progress: 100, version: 3 }, true);
      const last = await waitForReceived(page, 8);
      assert.equal(last[7].id, 'br-a:v3');
      await page.close();
    });
  });

  describe('under authentication', () => {
    const fixture = useGateway({ settings: { auth: { jwtSecret: TEST_SECRET } } });

    it('streams with ?token= and reports a forbidden task as an error event', async () => {
      const jwt = await mintToken({ sub: 'alice', tasks: ['ok-*'] });
      const page = await browser.newPage();
      await page.goto(`${fixture.httpUrl}/health/live`);
      await openEventSource(page, `/tasks/events?task_id=ok-1&task_id=no-1&token=${jwt}`);
      const received = await waitForReceived(page, 2);
      assert.deepEqual(
        received.map(({ type }) => type),
        ['subscribed', 'error'],
      );
      assert.equal((JSON.parse(received[1].data) as { code: string }).code, 'forbidden');
      await page.close();
    });

    it('gives up on a 401, as EventSource does for any refusal', async () => {
      const page = await browser.newPage();
      await page.goto(`${fixture.httpUrl}/health/live`);
      await openEventSource(page, '/tasks/events?task_id=ok-1');
      await page.waitForFunction(
        () => (globalThis as unknown as PageGlobals).source.readyState === 2,
        undefined,
        { timeout: 5_000 },
      );
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as PageGlobals).connectionErrors),
        1,
      );
      await page.close();
    });
  });
});
