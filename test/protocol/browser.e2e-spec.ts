import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_MISSING, launchChromium } from '../support/chromium.js';
import { useGateway } from '../support/use-gateway.js';

/** The bits of the page's globals these tests use (the project compiles without the DOM lib). */
interface BrowserSocket {
  readonly readyState: number;
  send(data: string): void;
  addEventListener(event: 'open', listener: () => void): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
}
interface PageGlobals {
  WebSocket: { new (url: string): BrowserSocket; readonly OPEN: number };
  socket: BrowserSocket;
  received: Array<Record<string, unknown>>;
  closeCode: number | undefined;
}

/** Opens a WebSocket in the page the way a frontend would; messages collect in window.received. */
async function openBrowserSocket(page: Page, url: string): Promise<void> {
  await page.evaluate((wsUrl) => {
    const page = globalThis as unknown as PageGlobals;
    page.received = [];
    page.closeCode = undefined;
    const socket = new page.WebSocket(wsUrl);
    page.socket = socket;
    socket.onmessage = (event) =>
      page.received.push(JSON.parse(event.data as string) as Record<string, unknown>);
    socket.onclose = (event) => (page.closeCode = event.code);
  }, url);
}

describe('a browser WebSocket client', { skip: CHROMIUM_MISSING }, () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  describe('on a gateway that allows any origin', () => {
    const fixture = useGateway();

    it('subscribes, receives live updates and gets pong for its ping', async () => {
      const page = await browser.newPage();
      // Any page of the gateway's origin will do; the socket is what is under test.
      await page.goto(`${fixture.httpUrl}/health/live`);
      await openBrowserSocket(page, fixture.wsUrl);
      await page.evaluate(() => {
        const { socket, WebSocket } = globalThis as unknown as PageGlobals;
        const send = () => {
          socket.send(JSON.stringify({ type: 'subscribe', task_id: 'browser-task' }));
          socket.send(JSON.stringify({ type: 'ping' }));
        };
        if (socket.readyState === WebSocket.OPEN) send();
        else socket.addEventListener('open', send);
      });
      await page.waitForFunction(
        () => (globalThis as unknown as PageGlobals).received.length >= 2,
        undefined,
        { timeout: 5_000 },
      );

      await fixture.publish({ task_id: 'browser-task', status: 'completed', progress: 100 });
      await page.waitForFunction(
        () => (globalThis as unknown as PageGlobals).received.length >= 3,
        undefined,
        { timeout: 5_000 },
      );
      const received = await page.evaluate(() => (globalThis as unknown as PageGlobals).received);
      assert.deepEqual(received, [
        { type: 'subscribed', task_id: 'browser-task', message: 'Successfully subscribed' },
        { type: 'pong' },
        {
          type: 'status_update',
          task_id: 'browser-task',
          data: { status: 'completed', progress: 100 },
        },
      ]);
      await page.close();
    });
  });

  describe('on a gateway with a list of allowed origins', () => {
    const fixture = useGateway({ settings: { allowedOrigins: ['http://frontend.example'] } });

    it('is refused when its page origin is not in the allowed list', async () => {
      const page = await browser.newPage();
      await page.goto(`${fixture.httpUrl}/health/live`);
      await openBrowserSocket(page, fixture.wsUrl);
      await page.waitForFunction(
        () => (globalThis as unknown as PageGlobals).closeCode !== undefined,
        undefined,
        {
          timeout: 5_000,
        },
      );
      // A refused handshake surfaces in browsers as an abnormal closure.
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as PageGlobals).closeCode),
        1006,
      );
      assert.deepEqual(
        await page.evaluate(() => (globalThis as unknown as PageGlobals).received),
        [],
      );
      await page.close();
    });
  });
});
