/**
 * Headless Chromium for the dashboard tests: where Debian's `chromium` is, the flags it runs
 * with, and a page opened on a dashboard that records the page's uncaught errors.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface OpenDashboard {
  browser: Browser;
  page: Page;
  /** Messages of the page's uncaught errors, as they happen. */
  pageErrors: string[];
}

/** Launches Chromium and opens `url` in a dark 1440-wide viewport of `heightPx`. */
export async function openDashboard(url: string, heightPx: number): Promise<OpenDashboard> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const page = await browser.newPage({
    viewport: { width: 1440, height: heightPx },
    colorScheme: 'dark',
  });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(url);
  return { browser, page, pageErrors };
}
