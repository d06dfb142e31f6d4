import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_MISSING, launchChromium } from '../support/chromium.js';
import { AppProcess } from '../support/app-process.js';
import { getJson, getStats } from '../support/gateway-stats.js';
import { useGateway } from '../support/use-gateway.js';

const WAIT = { timeout: 5_000 };
/** The simulated task takes 7 steps of 700 ms. */
const SIMULATION_WAIT = { timeout: 15_000 };
const CHANNEL = 'task_status_updates';
const SCREENSHOT = resolve('test-output/demo-page.png');
/** `UPDATE_README_SCREENSHOT=1` also writes the README's picture, from the same page state. */
const README_SCREENSHOT = resolve('docs/images/demo-page.png');

function card(taskId: string): string {
  return `.task[data-task-id="${taskId}"]`;
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).textContent()) ?? '').trim();
}

/** Waits until the card's subscription is confirmed: from then on, a publish reaches the page. */
async function subscribed(page: Page, taskId: string): Promise<void> {
  await page
    .locator(`${card(taskId)} .task-message`, { hasText: /^Subscribed/ })
    .waitFor({ timeout: WAIT.timeout });
}

/** Stores and publishes a state the way a worker does (MULTI: SET with TTL, PUBLISH). */
async function publishUpdate(redis: Redis, update: Record<string, unknown>): Promise<void> {
  const json = JSON.stringify(update);
  await redis
    .multi()
    .set(`task:status:${String(update.task_id)}`, json, 'EX', 3600)
    .publish(CHANNEL, json)
    .exec();
}

describe('the demo page', { skip: CHROMIUM_MISSING }, () => {
  let browser: Browser;
  let current: Page | undefined;
  let pageErrors: string[] = [];

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  const fixture = useGateway({ settings: { demoPublishEnabled: true } });

  /** A fresh page (its own storage) on the gateway, once its client is connected. */
  async function openPage(url = `${fixture.httpUrl}/`): Promise<Page> {
    const opened = await browser.newPage({ viewport: { width: 960, height: 720 } });
    current = opened;
    pageErrors = [];
    // Script errors and CSP violations both surface here.
    opened.on('pageerror', (error) => pageErrors.push(error.message));
    opened.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await opened.goto(url);
    await opened.waitForSelector('#connection[data-state="open"]', WAIT);
    assert.equal(await text(opened, '#connection-text'), 'Connected');
    return opened;
  }

  afterEach(async () => {
    await current?.close();
    current = undefined;
    const errors = pageErrors;
    pageErrors = [];
    assert.deepEqual(errors, [], 'no script errors in the page');
  });

  it('watches a task entered by hand: the bar moves to 100% and the status changes', async () => {
    const page = await openPage();
    await page.fill('#task-id', 'page-task-1');
    await page.click('#watch-form button[type="submit"]');
    await page.waitForSelector(card('page-task-1'), WAIT);
    await subscribed(page, 'page-task-1');
    assert.equal(await text(page, `${card('page-task-1')} .task-status`), 'waiting');

    await fixture.publisher.publish(
      CHANNEL,
      JSON.stringify({
        task_id: 'page-task-1',
        status: 'processing',
        progress: 40,
        message: 'Fetching blockchain data...',
      }),
    );
    await page.waitForSelector(`${card('page-task-1')} .bar[aria-valuenow="40"]`, WAIT);
    assert.equal(await text(page, `${card('page-task-1')} .task-status`), 'processing');
    assert.equal(
      await text(page, `${card('page-task-1')} .task-message`),
      'Fetching blockchain data...',
    );

    await fixture.publisher.publish(
      CHANNEL,
      JSON.stringify({
        task_id: 'page-task-1',
        status: 'completed',
        progress: 100,
        message: 'Done',
      }),
    );
    await page.waitForSelector(`${card('page-task-1')} .bar[aria-valuenow="100"]`, WAIT);
    assert.equal(await text(page, `${card('page-task-1')} .task-status`), 'completed');
    assert.equal(await text(page, `${card('page-task-1')} .percent`), '100%');
    assert.equal(await page.getAttribute(card('page-task-1'), 'data-tone'), 'done');
    assert.match(
      (await page.getAttribute(`${card('page-task-1')} .fill`, 'style')) ?? '',
      /width: 100%/,
    );
    assert.equal(await text(page, '#task-count'), '1');
  });

  it('runs on Server-Sent Events with ?transport=sse and shows the transport in use', async () => {
    await publishUpdate(fixture.publisher, {
      task_id: 'sse-page-1',
      status: 'queued',
      progress: 0,
      message: 'Waiting for a worker',
    });
    const page = await openPage(`${fixture.httpUrl}/?transport=sse&task=sse-page-1`);
    assert.equal(await text(page, '#transport'), 'Server-Sent Events');
    assert.equal(await page.getAttribute('#transport', 'data-transport'), 'sse');
    assert.equal(await page.inputValue('#transport-picker'), 'sse');
    assert.equal(await text(page, '#ws-url'), '/tasks/events');
    // The stored state arrives as the stream's snapshot.
    await page.waitForSelector(`${card('sse-page-1')} .snapshot:not([hidden])`, WAIT);
    assert.equal(await text(page, `${card('sse-page-1')} .task-status`), 'queued');

    await publishUpdate(fixture.publisher, {
      task_id: 'sse-page-1',
      status: 'processing',
      progress: 60,
      message: 'Over the stream',
    });
    await page.waitForSelector(`${card('sse-page-1')} .bar[aria-valuenow="60"]`, WAIT);
    assert.equal(await text(page, `${card('sse-page-1')} .task-message`), 'Over the stream');
    const stats = await getStats(fixture.httpUrl);
    assert.equal(stats.transports.sse.connections, 1);
    assert.equal(stats.transports.websocket.connections, 0);
  });

  it('shows WebSocket as the transport of the default page', async () => {
    const page = await openPage();
    assert.equal(await text(page, '#transport'), 'WebSocket');
    assert.equal(await page.inputValue('#transport-picker'), 'auto');
  });

  it('shows tasks in every state, from the address and the stored snapshots', async () => {
    const tasks = [
      { task_id: 'report-2026-q3', status: 'completed', progress: 100, message: 'Report ready' },
      {
        task_id: 'video-transcode-7f3a',
        status: 'processing',
        progress: 64,
        message: 'Encoding 1080p…',
      },
      {
        task_id: 'import-customers',
        status: 'failed',
        progress: 35,
        message: 'Row 1842: invalid e-mail address',
      },
      {
        task_id: 'thumbnails-batch-12',
        status: 'queued',
        progress: 0,
        message: 'Waiting for a worker',
      },
    ];
    for (const task of tasks) await publishUpdate(fixture.publisher, task);

    const query = tasks.map((task) => `task=${task.task_id}`).join('&');
    const page = await openPage(`${fixture.httpUrl}/?${query}`);
    for (const task of tasks) {
      await page.waitForSelector(
        `${card(task.task_id)} .bar[aria-valuenow="${task.progress}"]`,
        WAIT,
      );
      assert.equal(await text(page, `${card(task.task_id)} .task-status`), task.status);
      assert.equal(await text(page, `${card(task.task_id)} .task-message`), task.message);
    }
    const items = page.locator('.task');
    const tones: Array<string | null> = [];
    for (let index = 0; index < (await items.count()); index += 1) {
      tones.push(await items.nth(index).getAttribute('data-tone'));
    }
    // Newest first: the last id of the address is on top.
    assert.deepEqual(tones, ['queued', 'failed', 'active', 'done']);
    assert.equal(await page.isVisible(`${card('report-2026-q3')} .snapshot`), true);

    // A live update replaces the stored state.
    await publishUpdate(fixture.publisher, {
      task_id: 'video-transcode-7f3a',
      status: 'processing',
      progress: 72,
      message: 'Encoding 1080p… segment 18 of 25',
    });
    await page.waitForSelector(`${card('video-transcode-7f3a')} .bar[aria-valuenow="72"]`, WAIT);
    assert.equal(await page.isVisible(`${card('video-transcode-7f3a')} .snapshot`), false);

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true, animations: 'disabled' });
    if (process.env.UPDATE_README_SCREENSHOT === '1') {
      mkdirSync(dirname(README_SCREENSHOT), { recursive: true });
      await page.screenshot({ path: README_SCREENSHOT, fullPage: true, animations: 'disabled' });
    }
  });

  it('runs a simulated task from the button until it completes', async () => {
    const page = await openPage();
    assert.equal(await page.isVisible('#simulate'), true);
    await page.click('#simulate');
    const item = await page.waitForSelector('.task[data-task-id^="demo-"]', WAIT);
    const taskId = (await item.getAttribute('data-task-id')) ?? '';

    await page.waitForSelector(`${card(taskId)} .bar[aria-valuenow="100"]`, SIMULATION_WAIT);
    assert.equal(await text(page, `${card(taskId)} .task-status`), 'completed');
    assert.equal(await text(page, `${card(taskId)} .task-message`), 'Done');
    const stored = JSON.parse((await fixture.publisher.get(`task:status:${taskId}`)) ?? '{}') as {
      status?: string;
    };
    assert.equal(stored.status, 'completed');
  });

  it('validates POST /demo/simulate', async () => {
    const post = (body: unknown) =>
      fetch(`${fixture.httpUrl}/demo/simulate`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });

    const started = await post({ task_id: 'chosen-id', step_ms: 50 });
    assert.equal(started.status, 202);
    assert.deepEqual(await started.json(), { task_id: 'chosen-id', steps: 7, step_ms: 50 });
    for (const body of [{ step_ms: 1 }, { task_id: 'not valid' }, { task_id: '__canary__:x' }]) {
      const refused = await post(body);
      await refused.body?.cancel();
      assert.equal(refused.status, 400, JSON.stringify(body));
    }
    // Without a browser, the page files carry their types and the page its policy.
    const html = await fetch(`${fixture.httpUrl}/`, { signal: AbortSignal.timeout(5_000) });
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(html.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await html.text(), /data-simulate="true"/);
    const client = await fetch(`${fixture.httpUrl}/client/index.js`, {
      signal: AbortSignal.timeout(5_000),
    });
    assert.match(client.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await client.text(), /TaskStatusClient/);
    const publisherModule = await getJson(`${fixture.httpUrl}/client/publisher.js`);
    assert.equal(publisherModule.status, 404, 'the Node-only publisher is not served');
  });

  describe('switched off', () => {
    const off = useGateway({ settings: { demoPage: false } });

    it('answers 404 at / and for its files with DEMO_PAGE=false, and for simulate by default', async () => {
      for (const path of ['/', '/demo/demo.js', '/client/index.js']) {
        const { status } = await getJson(`${off.httpUrl}${path}`);
        assert.equal(status, 404, path);
      }
      const simulate = await fetch(`${off.httpUrl}/demo/simulate`, {
        method: 'POST',
        signal: AbortSignal.timeout(5_000),
      });
      await simulate.body?.cancel();
      assert.equal(simulate.status, 404);
    });
  });

  describe('from the production build (node dist/main.js)', () => {
    let app: AppProcess;

    before(async () => {
      app = await AppProcess.startServing({
        REDIS_URL: fixture.redis.url,
        LOG_LEVEL: 'ERROR',
        SHUTDOWN_DRAIN_WINDOW_MS: '0',
      });
    });

    after(async () => {
      if (!app) return;
      app.signal('SIGTERM');
      await app.waitForExit(10_000);
    });

    it('serves the page and the typed client, and hides the simulate button', async () => {
      const page = await openPage(`${app.httpUrl}/`);
      assert.equal(await page.isVisible('#simulate'), false);
      await page.fill('#task-id', 'built-task');
      await page.press('#task-id', 'Enter');
      await subscribed(page, 'built-task');
      await fixture.publisher.publish(
        CHANNEL,
        JSON.stringify({ task_id: 'built-task', status: 'completed', progress: 100 }),
      );
      await page.waitForSelector(`${card('built-task')} .bar[aria-valuenow="100"]`, WAIT);
    });
  });
});
