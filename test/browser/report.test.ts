/**
 * The load test's HTML report in a real Chromium, opened from disk with no server and no network:
 * both overlaid charts render (a canvas each, a legend entry per design), with no errors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../../scripts/loadtest.ts';
import { html, label } from '../../scripts/loadtest/report.ts';
import { SCREENSHOTS, launch, openPage } from './chromium.ts';

const REPORT = fileURLToPath(new URL('../../reports/loadtest-report.html', import.meta.url));

describe('the load-test report, in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => (browser = await launch()));
  afterAll(() => browser?.close());

  it('renders the overlaid progress and latency charts of every design, offline', async () => {
    const results = await runLoadTest({
      threads: 20, intentsPerThread: 5, hung: 0.1, hangMs: Infinity, sendCpuMs: 1, seed: 7,
      modes: ['global', 'per-thread-main', 'lanes'], shards: 2, concurrency: 10, budgetMs: 2_000, reference: false, repeats: 1, progress: false,
    });
    mkdirSync(join(REPORT, '..'), { recursive: true });
    writeFileSync(REPORT, html(results, 'test/browser/report.test.ts'));

    const { page, errors } = await openPage(browser);
    // Anything the report tried to fetch from the network would fail here, and be listed in `errors`.
    await page.setOfflineMode(true);
    await page.goto(pathToFileURL(REPORT).href);
    await page.waitForSelector('#latency canvas');
    for (const chart of ['progress', 'latency']) {
      expect(await page.$$eval(`#${chart} canvas`, (canvases) => canvases.length)).toBe(1);
      const legend = await page.$$eval(`#${chart} .u-legend .u-series .u-label`, (labels) => labels.map((l) => l.textContent));
      expect(legend).toEqual(expect.arrayContaining(results.map(label)));
    }
    expect(await page.$$eval('#summary tr', (rows) => rows.length)).toBe(results.length + 1);
    await page.screenshot({ path: join(SCREENSHOTS, 'loadtest-report.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
