/**
 * Browser: headless Chromium opens the dashboard of `shoal demo --mode raft` (3 agents and a
 * small writer). The Raft panel shows every node's role, term, commit and applied index with one
 * leader, the writer's acknowledged writes climb; "Kill the leader" SIGKILLs it, and the panel
 * shows a new leader in a higher term while the writer's acknowledged count climbs again.
 * Screenshot: test-results/raft-dashboard.png. Skipped without Chromium (fails under CI=true).
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DemoProcess, pidAlive } from '../cli/demo-process.js';
import { CHROMIUM_PATH, HAVE_CHROMIUM, IN_CI, openDashboard } from './chromium.js';

const PROTOCOL_TIMEOUT_MS = 60_000;

/**
 * What the page predicates touch (the test compiles without the DOM library). Predicates run in
 * the page, serialized: they may use nothing from this module's scope.
 */
interface Row {
  dataset: { name?: string; role?: string };
  children: { length: number; [i: number]: { textContent: string | null } };
}
interface PageWindow {
  document: {
    querySelectorAll(selector: string): { length: number; [i: number]: Row } & Iterable<Row>;
    getElementById(id: string): { textContent: string | null; hidden: boolean } | null;
  };
}

/** The leader row's name and term once exactly one leader row shows with every node up. */
const leaderWithAllUp = (nodes: number): string | false => {
  const rows = [
    ...(globalThis as unknown as PageWindow).document.querySelectorAll('#raft-rows tr'),
  ];
  if (rows.length !== nodes || rows.some((r) => r.dataset.role === 'down')) return false;
  const leaders = rows.filter((r) => r.dataset.role === 'leader');
  if (leaders.length !== 1) return false;
  const leader = leaders[0] as Row;
  return `${leader.dataset.name ?? ''} ${leader.children[2]?.textContent ?? ''}`;
};
/** A leader other than `old` (name and term), in a higher term. */
const newLeader = (old: { name: string; term: number }): string | false => {
  const rows = [
    ...(globalThis as unknown as PageWindow).document.querySelectorAll('#raft-rows tr'),
  ];
  const leader = rows.find((r) => r.dataset.role === 'leader');
  if (leader === undefined || leader.dataset.name === old.name) return false;
  const term = Number(leader.children[2]?.textContent);
  return term > old.term ? `${leader.dataset.name ?? ''} ${term}` : false;
};
const acknowledged = (): number => {
  const text =
    (globalThis as unknown as PageWindow).document.getElementById('raft-writer')?.textContent ?? '';
  return Number(/writer: (\d+) writes acknowledged/.exec(text)?.[1] ?? -1);
};
const acknowledgedAbove = (n: number): boolean => {
  const text =
    (globalThis as unknown as PageWindow).document.getElementById('raft-writer')?.textContent ?? '';
  return Number(/writer: (\d+) writes acknowledged/.exec(text)?.[1] ?? -1) > n;
};

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('raft dashboard in headless Chromium', () => {
  let demo: DemoProcess | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    demo?.killEverything();
  });

  it('shows roles, terms and indexes; killing the leader brings a new one while the writer goes on', async () => {
    if (!HAVE_CHROMIUM)
      throw new Error(`Chromium is required in CI and missing at ${CHROMIUM_PATH}`);
    const d = (demo = await DemoProcess.start(3, 'raft'));
    const opened = await openDashboard(d.url, 1100);
    browser = opened.browser;
    const { page, pageErrors } = opened;

    const first = String(
      await (
        await page.waitForFunction(leaderWithAllUp, 3, { timeout: PROTOCOL_TIMEOUT_MS })
      ).jsonValue(),
    );
    const [oldName, oldTerm] = first.split(' ');
    await page.waitForFunction(acknowledgedAbove, 3, { timeout: PROTOCOL_TIMEOUT_MS });
    const commits = await page.locator('#raft-rows tr td:nth-child(4)').allTextContents();
    for (const commit of commits) expect(Number(commit)).toBeGreaterThan(0);

    await page.click('#kill-leader');
    const next = String(
      await (
        await page.waitForFunction(
          newLeader,
          { name: oldName ?? '', term: Number(oldTerm) },
          { timeout: PROTOCOL_TIMEOUT_MS },
        )
      ).jsonValue(),
    );
    expect(next.split(' ')[0]).not.toBe(oldName);
    const before = (await page.evaluate(acknowledged)) as number;
    await page.waitForFunction(acknowledgedAbove, before + 3, { timeout: PROTOCOL_TIMEOUT_MS });
    expect(
      await page.locator(`#raft-rows tr[data-name="${oldName ?? ''}"]`).getAttribute('data-role'),
    ).toBe('down');
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/raft-dashboard.png', fullPage: true });
    expect(pageErrors).toEqual([]);

    const pids = (await d.nodes()).map((n) => n.pid ?? -1).filter((pid) => pid > 0);
    expect(await d.stop('SIGINT', 30_000)).toBe(0);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  }, 300_000);
});
