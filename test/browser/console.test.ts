/**
 * The operator console in a real Chromium against the real service: it shows a thread stuck on a hung
 * session start, its Stop button frees the thread (as the API sees it), it asks for the token and keeps
 * it out of the URL and storage, and it logs no errors (a CSP violation would be one).
 */
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { until } from '../helpers.ts';
import { http, startTestService } from '../service/helpers.ts';
import { SCREENSHOTS, launch, openPage } from './chromium.ts';

// Page-side checks are strings: this project's type-check has no DOM library, and should not get one.

const TOKEN = 'console-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('the operator console, in Chromium', () => {
  let service: Service;
  let browser: Browser;
  beforeAll(async () => {
    [service, browser] = await Promise.all([startTestService({ shards: 2, token: TOKEN, stuckAfterMs: 200 }), launch()]);
  });
  afterAll(async () => {
    await browser?.close();
    await service?.shutdown();
  });

  it('asks for the token, shows the thread stuck on a hung start, and its Stop button frees it', async () => {
    const hung = await http(service, 'POST', '/v1/threads/console-hung/intents', { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 'forever' } }, intentId: 'console-hung-start' }, auth);
    expect(hung.status).toBe(202);

    const { page, errors } = await openPage(browser);
    await page.goto(`${service.url}/console`);
    await page.waitForSelector('#token-form:not([hidden])');
    await page.type('#token', 'not-the-token');
    await page.click('#token-form button');
    await page.waitForFunction(`document.querySelector('#token-error')?.textContent === 'wrong token'`);
    await page.type('#token', TOKEN);
    await page.click('#token-form button');
    await page.waitForSelector('#main:not([hidden])');

    // Stuck: running longer than --stuck-after-ms (200 ms here).
    const row = await page.waitForSelector('#stuck tr[data-thread="console-hung"]');
    const cells = await row!.$$eval('td', (tds) => tds.map((td) => td.textContent));
    expect(cells.slice(0, 3)).toEqual(['console-hung', String(service.pool.shardOf('console-hung')), 'thread.turn.start']);
    expect(await page.$$eval('#shards tbody tr', (rows) => rows.length)).toBe(2);
    await page.type('#thread-id', 'console-hung');
    await page.click('#search-form button');
    await page.waitForFunction(`document.querySelector('#thread-intents tbody')?.textContent?.includes('console-hung-start')`);
    await page.screenshot({ path: join(SCREENSHOTS, 'console.png'), fullPage: true });

    // The token is in memory only: not in the URL, storage or cookies.
    expect(page.url()).not.toContain(TOKEN);
    const stored = await page.evaluate('JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie])');
    expect(stored).not.toContain(TOKEN);

    await page.click('#stuck tr[data-thread="console-hung"] button');
    await until(async () => (await http(service, 'GET', '/v1/intents/console-hung-start', undefined, auth)).body.status === 'cancelled');
    const thread = await http(service, 'GET', '/v1/threads/console-hung', undefined, auth);
    expect(thread.body).toMatchObject({ running: null, queued: 0 });
    await page.waitForFunction(`document.querySelector('#stuck tr[data-thread="console-hung"]') === null`);
    await page.waitForFunction(`/stop .* for console-hung: completed/.test(document.querySelector('#action')?.textContent ?? '')`);
    // The thread is usable again.
    const again = await http(service, 'POST', '/v1/threads/console-hung/intents?wait=true', { type: 'thread.turn.start', payload: { input: 'fresh' } }, auth);
    expect(again.body.status).toBe('completed');

    expect(errors).toEqual([]);
  });

  it('serves its page and files with a strict CSP, and its data only with the token', async () => {
    const page = await http(service, 'GET', '/console');
    expect(page.status).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(page.body).not.toMatch(/<script>|<style|style=|https?:\/\//);
    expect((await http(service, 'GET', '/console/uPlot.iife.min.js')).status).toBe(200);
    expect((await http(service, 'GET', '/console/..%2Fserver.ts')).status).toBe(404);
    expect((await http(service, 'GET', '/v1/console')).status).toBe(401);
    expect((await http(service, 'GET', '/v1/console/threads/console-hung')).status).toBe(401);
  });
});
