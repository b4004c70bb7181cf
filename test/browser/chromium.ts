/**
 * A real headless Chromium for the browser tests: Debian's `chromium` package (installed by .ci/run),
 * driven by puppeteer-core, which downloads no browser of its own. `CHROMIUM_PATH` overrides the path.
 * Every page records its console errors, uncaught exceptions and failed requests (a CSP violation
 * shows up as a console error), so a test can assert there were none.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots for a reviewer: git-ignored, kept by CI as artifacts. */
export const SCREENSHOTS = fileURLToPath(new URL('../../reports/screenshots/', import.meta.url));

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y --no-install-recommends chromium (or set CHROMIUM_PATH)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** A new page and the list its errors are collected into. */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  const errors: string[] = [];
  page.on('console', (message) => {
    // A 401 from the API is how the page learns it needs the token: Chromium logs it as a failed resource.
    if (message.type() === 'error' && !/status of 401/.test(message.text())) errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${error instanceof Error ? error.message : String(error)}`));
  page.on('requestfailed', (request) => errors.push(`request: ${request.url()} ${request.failure()?.errorText ?? ''}`));
  return { page, errors };
}
