/**
 * Browser: headless Chromium opens the dashboard of an agent whose node runs the data plane
 * (issue 16), beside two more swim nodes on 127.0.0.1. The services panel lists each node's
 * advertised services under the node's name; typing a key shows its three owners, primary
 * first, exactly as `node.placement.owners(key, { replicas: 3 })` answers on every node, with
 * the key and each owner's point drawn on the ring; a node that leaves drops out of both.
 * Screenshot: test-results/services-dashboard.png. Skipped without Chromium (fails under CI=true).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgentServer, type AgentServer } from '../../src/agent/server.js';
import type { MembershipConfig } from '../../src/membership/config.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import { waitFor } from '../helpers/wait.js';
import { CHROMIUM_PATH, HAVE_CHROMIUM, IN_CI, openDashboard } from './chromium.js';

const PROTOCOL_TIMEOUT_MS = 45_000;
const FAST: Partial<MembershipConfig> = {
  probeIntervalMs: 200,
  probeTimeoutMs: 80,
  gossipIntervalMs: 50,
  pushPullIntervalMs: 2000,
  leavePropagateMs: 500,
};

/** What the page predicates touch (compiled without the DOM library; run in the page). */
interface El {
  dataset: { node?: string; service?: string; rank?: string };
  textContent: string | null;
}
interface PageWindow {
  document: {
    querySelectorAll(selector: string): { length: number; [i: number]: El } & Iterable<El>;
  };
}

/** "node/service" of every row of the services table, once it holds `n` rows. */
const serviceRows = (n: number): string | false => {
  const rows = [
    ...(globalThis as unknown as PageWindow).document.querySelectorAll('#services-rows tr'),
  ];
  if (rows.length !== n) return false;
  return rows.map((r) => `${r.dataset.node ?? ''}/${r.dataset.service ?? ''}`).join(' ');
};
/** The owners list's node names, in rank order, once it has `n` of them. */
const ringOwners = (n: number): string | false => {
  const items = [
    ...(globalThis as unknown as PageWindow).document.querySelectorAll('#ring-owners li'),
  ];
  if (items.length !== n) return false;
  return items.map((li) => li.dataset.node ?? '').join(' ');
};

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('services panel in headless Chromium', () => {
  const nodes: ShoalNode[] = [];
  const dirs: string[] = [];
  let server: AgentServer | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await Promise.all(nodes.map((n) => n.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function start(name: string, seeds: string[]): Promise<ShoalNode> {
    const dataDir = mkdtempSync(join(tmpdir(), `shoal-svc-ui-${name}-`));
    dirs.push(dataDir);
    const node = await createNode(
      {
        name,
        dataDir,
        bind: '127.0.0.1:0',
        mode: { kind: 'swim', seeds },
        clusterId: 'svc-ui',
        profile: 'local',
      },
      {},
      { membership: FAST, registry: { gossipIntervalMs: 50, pushPullIntervalMs: 500 } },
    );
    nodes.push(node);
    return node;
  }

  it('lists services per node and shows where a typed key lands on the ring', async () => {
    if (!HAVE_CHROMIUM)
      throw new Error(`Chromium is required in CI and missing at ${CHROMIUM_PATH}`);
    const a = await start('svc-a', []);
    const b = await start('svc-b', [a.address]);
    const c = await start('svc-c', [a.address]);
    a.services.advertise({ name: 'api', address: '10.0.0.1:80', tags: ['v2'] });
    a.services.advertise({ name: 'db', address: '10.0.0.1:5432' });
    b.services.advertise({ name: 'api', address: '10.0.0.2:80', weight: 3 });
    c.services.advertise({ name: 'cache', address: '10.0.0.3:6379' });
    await waitFor(
      () => nodes.every((n) => n.services.list().length === 4),
      PROTOCOL_TIMEOUT_MS,
      'every node lists the 4 instances',
    );
    server = await startAgentServer(a, { http: '127.0.0.1:0' });
    const opened = await openDashboard(`http://${server.address}/`, 1400);
    browser = opened.browser;
    const { page, pageErrors } = opened;

    const listed = String(
      await (
        await page.waitForFunction(serviceRows, 4, { timeout: PROTOCOL_TIMEOUT_MS })
      ).jsonValue(),
    );
    expect(listed).toBe('svc-a/api svc-a/db svc-b/api svc-c/cache');
    expect(await page.locator('#services-meta').textContent()).toBe('4 instances on 3 nodes');

    const key = 'user:42';
    await page.fill('#ring-key', key);
    const shown = String(
      await (
        await page.waitForFunction(ringOwners, 3, { timeout: PROTOCOL_TIMEOUT_MS })
      ).jsonValue(),
    );
    const names = new Map(nodes.map((n) => [n.id as string, n.name]));
    for (const n of nodes) {
      const expected = n.placement.owners(key, { replicas: 3 }).map((id) => names.get(id));
      expect(shown, `as ${n.name} places it`).toBe(expected.join(' '));
    }
    expect(await page.locator('#ring-marks .ring-key-mark').count()).toBe(1);
    expect(await page.locator('#ring-marks .ring-owner-mark').count()).toBe(3);
    expect(await page.locator('#ring-marks .ring-owner-mark.primary').count()).toBe(1);
    expect(await page.locator('#ring-note').textContent()).toMatch(/^user:42 lands at [0-9.]+°/);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/services-dashboard.png', fullPage: true });

    // A node that leaves drops out of the services and of the key's owners.
    await c.leave();
    await page.waitForFunction(serviceRows, 3, { timeout: PROTOCOL_TIMEOUT_MS });
    const after = String(
      await (
        await page.waitForFunction(ringOwners, 2, { timeout: PROTOCOL_TIMEOUT_MS })
      ).jsonValue(),
    );
    expect(after.split(' ').sort()).toEqual(['svc-a', 'svc-b']);
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
