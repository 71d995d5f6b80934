/**
 * Browser: headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) opens the
 * dashboard of `shoal demo --nodes 5`. It must show 5 alive members; clicking Kill on one makes
 * its card turn suspect, then dead (SWIM detection through the live event stream and polling);
 * clicking Restart brings it back alive. Screenshot: test-results/dashboard.png.
 *
 * Without Chromium the test is skipped locally with a message, and FAILS under CI=true:
 * `.ci/run` installs it.
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DemoProcess, pidAlive } from '../cli/demo-process.js';
import { CHROMIUM_PATH, HAVE_CHROMIUM, IN_CI, openDashboard } from './chromium.js';

const PROTOCOL_TIMEOUT_MS = 45_000;
const SCREENSHOT_PATH = 'test-results/dashboard.png';

if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn(
    `test/browser: skipped, no Chromium at ${CHROMIUM_PATH} (install: apt-get install -y --no-install-recommends chromium, or set CHROMIUM_PATH)`,
  );
}

const card = (name: string): string => `.member[data-name="${name}"]`;

/**
 * What the page predicates below touch. The test is compiled without the DOM library, and
 * predicates must be functions (Playwright runs string predicates with eval, which the
 * dashboard's Content-Security-Policy forbids, as it should).
 */
interface PageWindow {
  seenStates: string[];
  document: {
    querySelectorAll(selector: string): { length: number };
    getElementById(id: string): { textContent: string | null } | null;
  };
}

const aliveCount = (n: number): boolean =>
  (globalThis as unknown as PageWindow).document.querySelectorAll('.member[data-state="alive"]')
    .length === n;
const streamLive = (): boolean =>
  (globalThis as unknown as PageWindow).document.getElementById('conn-text')?.textContent ===
  'live';
const deadEventShown = (): boolean =>
  (globalThis as unknown as PageWindow).document.querySelectorAll('.event-type[data-type="dead"]')
    .length > 0;
const suspectThenDead = (): boolean => {
  const seen = (globalThis as unknown as PageWindow).seenStates;
  return seen.includes('suspect') && seen.lastIndexOf('dead') > seen.indexOf('suspect');
};

/** Records every state the card of `name` shows, in order, so a short-lived state is not missed. */
function recordStates(name: string): string {
  return `(() => {
    const seen = [];
    window.seenStates = seen;
    const note = () => {
      const el = document.querySelector(${JSON.stringify(card(name))});
      const state = el && el.dataset.state;
      if (state && seen[seen.length - 1] !== state) seen.push(state);
    };
    new MutationObserver(note).observe(document.getElementById('members'), { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    note();
  })()`;
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('dashboard in headless Chromium', () => {
  let demo: DemoProcess | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    demo?.killEverything();
  });

  it('shows 5 alive members, a killed one turning suspect then dead, and a restarted one alive', async () => {
    if (!HAVE_CHROMIUM)
      throw new Error(
        `Chromium is required in CI and missing at ${CHROMIUM_PATH}; .ci/run installs it with apt-get`,
      );
    const d = (demo = await DemoProcess.start(5));
    const opened = await openDashboard(d.url, 960);
    browser = opened.browser;
    const { page, pageErrors } = opened;

    await page.waitForFunction(aliveCount, 5, { timeout: PROTOCOL_TIMEOUT_MS });
    expect(await page.locator('.member').count()).toBe(5);
    expect(await page.locator('[data-count="alive"] b').textContent()).toBe('5');
    await page.waitForFunction(streamLive, null, { timeout: 15_000 });

    await page.evaluate(recordStates('node-5'));
    await page.click(`${card('node-5')} button[data-action="kill"]`);
    await page.waitForFunction(suspectThenDead, null, { timeout: PROTOCOL_TIMEOUT_MS });
    expect(await page.evaluate('window.seenStates')).toEqual(
      expect.arrayContaining(['alive', 'suspect', 'dead']),
    );
    await page.waitForFunction(deadEventShown, null, { timeout: 10_000 });
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });

    await page.click(`${card('node-5')} button[data-action="restart"]`);
    await page.waitForSelector(`${card('node-5')}[data-state="alive"]`, {
      timeout: PROTOCOL_TIMEOUT_MS,
    });
    await page.waitForFunction(aliveCount, 5, { timeout: PROTOCOL_TIMEOUT_MS });
    expect(pageErrors).toEqual([]);

    const pids = (await d.nodes()).map((n) => n.pid ?? -1);
    expect(await d.stop('SIGINT', 30_000)).toBe(0);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  }, 300_000);
});
