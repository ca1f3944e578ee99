import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';

// Debian's chromium, headless, with the flags that keep it from calling home on this closed network.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the /docs page in a real browser, with every request off this machine blocked', {
  timeout: 90_000,
}, () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  let profile: string;
  const offMachine: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    profile = mkdtempSync(join(tmpdir(), 'cockpit-chromium-'));
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage();
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      const { hostname, protocol } = new URL(request.url());
      const local = protocol === 'data:' || hostname === '127.0.0.1' || hostname === 'localhost';
      if (local) void request.continue();
      else {
        offMachine.push(request.url());
        void request.abort('blockedbyclient');
      }
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  it('lists every operation of the OpenAPI document, reached from /', async () => {
    await page.goto(`${t.url}/`, { waitUntil: 'networkidle0' });
    expect(new URL(page.url()).pathname).toBe('/docs');
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    const shown = await page.$$eval('.opblock', (blocks) =>
      blocks.map((b) => {
        const method = b.querySelector('.opblock-summary-method')?.textContent?.trim().toLowerCase() ?? '';
        const path = b.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '';
        return `${method} ${path}`;
      }),
    );
    const doc = (await t.request('GET', '/api/v1/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect([...shown].sort()).toEqual([...documented].sort());
    expect(offMachine).toEqual([]);
  });

  it('"Try it out" with a bearer token under Authorize answers {"hosts": [...]}', async () => {
    const { token } = await t.login('admin', TEST_ADMIN_PASSWORD);
    await page.click('.auth-wrapper .authorize');
    await page.waitForSelector('.modal-ux input');
    await page.type('.modal-ux input', token);
    await page.click('.modal-ux .auth-btn-wrapper .authorize');
    await page.click('.modal-ux .btn-done');

    const hosts = await page.waitForSelector(
      '.opblock-get:has(.opblock-summary-path[data-path="/api/v1/hosts"])',
    );
    await hosts?.$eval('.opblock-summary-control', (el) => (el as unknown as { click(): void }).click());
    await hosts?.waitForSelector('.try-out__btn');
    await hosts?.$eval('.try-out__btn', (el) => (el as unknown as { click(): void }).click());
    await hosts?.waitForSelector('.execute');
    await hosts?.$eval('.execute', (el) => (el as unknown as { click(): void }).click());
    const body = await hosts?.waitForSelector('.live-responses-table .response-col_description pre', {
      timeout: 15_000,
    });
    const text = (await body?.evaluate((el) => el.textContent)) ?? '';
    expect(JSON.parse(text)).toEqual({ hosts: [] });
    const status = await hosts?.$eval('.live-responses-table .response .response-col_status', (el) =>
      el.textContent?.trim(),
    );
    expect(status).toBe('200');
    expect(offMachine).toEqual([]);
    // For a person to look at (the closing note of the change that added this page).
    const screenshot = process.env.DOCS_SCREENSHOT;
    const box = await hosts?.boundingBox();
    if (screenshot !== undefined && box) {
      await page.screenshot({
        path: screenshot as `${string}.png`,
        clip: { x: 0, y: box.y - 10, width: 800, height: box.height + 20 },
      });
    }
  });
});
