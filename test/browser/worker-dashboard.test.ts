/**
 * Browser: headless Chromium opens the dashboard of `shoal demo --mode worker-tier` (three
 * worker-servers over Raft and two workers as processes, a token the demo made for them, the
 * service `web` scaled to one replica per worker). The Workers panel lists both registered, with
 * the TTL the leader granted and one assignment each; its Kill button SIGKILLs worker-1, and the
 * panel shows worker-1 down with no assignment and worker-2 holding both replicas. Then the Raft
 * leader is killed (the demo's kill control): a new leader serves the panel and worker-2 stays
 * registered past the failover TTL (the panel shows worker-2's status from whichever server the page reads through). Screenshot: test-results/worker-dashboard.png. Skipped
 * without Chromium (fails under CI=true).
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DemoProcess, pidAlive } from '../cli/demo-process.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';
import { CHROMIUM_PATH, HAVE_CHROMIUM, IN_CI, openDashboard } from './chromium.js';

const PROTOCOL_TIMEOUT_MS = 90_000;
/** Three servers, then the workers, each compiled by tsx on a shared machine. */
const START_TIMEOUT_MS = 240_000;

/**
 * What the page predicates touch (the test compiles without the DOM library). Predicates run in
 * the page, serialized: they may use nothing from this module's scope.
 */
interface Row {
  dataset: { name?: string; status?: string };
  querySelector(selector: string): { textContent: string | null } | null;
}
interface PageWindow {
  document: {
    querySelectorAll(selector: string): Iterable<Row>;
    getElementById(id: string): { textContent: string | null; hidden: boolean } | null;
  };
}

/** `name status assignments ttl` for each row of the Workers panel, when `want` holds of them. */
const rowsWhere = (want: {
  status: Record<string, string>;
  assignments: Record<string, number>;
}) => {
  const rows = [
    ...(globalThis as unknown as PageWindow).document.querySelectorAll('#workers-rows tr'),
  ];
  const seen = rows.map((r) => ({
    name: r.dataset.name ?? '',
    status: r.dataset.status ?? '',
    assignments: Number(r.querySelector('.worker-assignments')?.textContent ?? 'NaN'),
    ttl: r.querySelector('.worker-ttl')?.textContent ?? '',
  }));
  for (const [name, status] of Object.entries(want.status))
    if (seen.find((r) => r.name === name)?.status !== status) return false;
  for (const [name, n] of Object.entries(want.assignments))
    if (seen.find((r) => r.name === name)?.assignments !== n) return false;
  return JSON.stringify(seen);
};
/** Whether some running server leads the tier and tracks worker-2 (its TTL is set). */
async function newLeaderTracks(d: DemoProcess): Promise<boolean> {
  for (const node of await d.nodes()) {
    if (node.role !== 'server' || node.state !== 'running') continue;
    try {
      const answer = await fetch(`http://${node.http}/v1/workers`, {
        signal: AbortSignal.timeout(2_000),
      });
      const body = (await answer.json()) as {
        leading?: boolean;
        workers?: { name: string; ttlMs?: number }[];
      };
      const w2 = body.workers?.find((w) => w.name === 'worker-2');
      if (body.leading === true && w2?.ttlMs !== undefined) return true;
    } catch {
      // Not answering (killed, or busy): ask the next one.
    }
  }
  return false;
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('worker tier dashboard in headless Chromium', () => {
  let demo: DemoProcess | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    demo?.killEverything();
  });

  it('lists workers with status, TTL and assignments; a killed worker goes down and its replica moves; a killed leader downs no worker', async () => {
    if (!HAVE_CHROMIUM)
      throw new Error(`Chromium is required in CI and missing at ${CHROMIUM_PATH}`);
    const d = (demo = await DemoProcess.start(2, 'worker-tier', START_TIMEOUT_MS));
    const roles = (await d.nodes()).map((n) => `${n.name}:${n.role ?? ''}`);
    expect(roles).toEqual([
      'server-1:server',
      'server-2:server',
      'server-3:server',
      'worker-1:worker',
      'worker-2:worker',
    ]);
    const opened = await openDashboard(d.url, 1300);
    browser = opened.browser;
    const { page, pageErrors } = opened;

    const both = {
      status: { 'worker-1': 'registered', 'worker-2': 'registered' },
      assignments: { 'worker-1': 1, 'worker-2': 1 },
    };
    await page.waitForFunction(rowsWhere, both, { timeout: PROTOCOL_TIMEOUT_MS });
    // The members panel lists the servers, not the workers.
    const cards = await page
      .locator('#members .member')
      .evaluateAll((els) => els.map((el) => (el as unknown as Row).dataset.name ?? ''));
    expect(cards.filter((c) => c.startsWith('worker-'))).toEqual([]);

    await page.click('#workers-rows tr[data-name="worker-1"] button[data-action="kill"]');
    await page.waitForFunction(
      rowsWhere,
      {
        status: { 'worker-1': 'down', 'worker-2': 'registered' },
        assignments: { 'worker-1': 0, 'worker-2': 2 },
      },
      { timeout: PROTOCOL_TIMEOUT_MS },
    );

    // Kill the Raft leader: the panel comes back from the new leader, worker-2 still up.
    const leader = await page.locator('#leader-name').textContent();
    expect(leader).toMatch(/^server-\d$/);
    const killed = await d.json<{ node: { state: string } }>(
      `/demo/nodes/${leader ?? ''}/kill`,
      'POST',
    );
    expect(killed.body.node.state).toBe('killed');
    // The page reads through whichever server answers (TTLs show only from the leader), so the
    // new leader is found by asking the servers themselves.
    await waitForAsync(
      () => newLeaderTracks(d),
      PROTOCOL_TIMEOUT_MS,
      'a new leader tracking worker-2',
    );
    // Longer than the demo's failover TTL (20 s) plus grace (5 s): worker-2 would be down by then.
    const until = Date.now() + 30_000;
    await waitFor(() => Date.now() >= until, 40_000, '30 seconds under the new leader');
    expect(
      await page.locator('#workers-rows tr[data-name="worker-2"]').getAttribute('data-status'),
    ).toBe('registered');
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/worker-dashboard.png', fullPage: true });
    expect(pageErrors).toEqual([]);

    const pids = (await d.nodes()).map((n) => n.pid ?? -1).filter((pid) => pid > 0);
    expect(await d.stop('SIGINT', 30_000)).toBe(0);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  }, 600_000);
});
