import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import { waitFor } from '../helpers/wait.js';

/** Fast SWIM timings for loopback: failure detected in about a second. */
const FAST = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  suspicionMult: 2,
  suspicionMaxTimeoutMult: 2,
  gossipIntervalMs: 50,
};

const dirs: string[] = [];
const nodes: ShoalNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function swimCluster(count: number, quorum = false): Promise<ShoalNode[]> {
  for (let i = 0; i < count; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-swim-election-'));
    dirs.push(dataDir);
    const seeds = nodes.length === 0 ? [] : [nodes[0]?.address as string];
    nodes.push(
      await createNode(
        {
          name: `s${i}`,
          dataDir,
          bind: '127.0.0.1:0',
          mode: quorum
            ? { kind: 'swim', seeds, requireQuorum: true, minClusterSize: count }
            : { kind: 'swim', seeds },
          clusterId: 'swim-election',
          profile: 'local',
        },
        {},
        { membership: FAST },
      ),
    );
  }
  return [...nodes];
}

/** The leader every node in `group` names, with one term, if they agree. */
function agreed(group: readonly ShoalNode[]): { id: string; term: number } | undefined {
  const first = group[0]?.leader();
  if (first === undefined) return undefined;
  return group.every((n) => n.leader()?.id === first.id && n.leader()?.term === first.term)
    ? first
    : undefined;
}

function describeViews(group: readonly ShoalNode[]): string {
  return group
    .map(
      (n) =>
        `${n.name}: ${n.members().filter((m) => m.state === 'alive').length} alive, leader ${n.leader()?.id.slice(0, 6) ?? '-'}@${n.leader()?.term ?? '-'}`,
    )
    .join('; ');
}

describe.each([3, 5])('swim mode with %i nodes on loopback', (count) => {
  test('closing the leader abruptly yields a new leader every survivor agrees on, with a higher term', async () => {
    const all = await swimCluster(count);
    // Generous bounds: under a loaded CI run the 200 ms probes churn the view and each change
    // restarts the stabilization window. The state reached is printed if it still times out.
    await waitFor(
      () =>
        all.every((n) => n.members().filter((m) => m.state === 'alive').length === count) &&
        agreed(all) !== undefined,
      45_000,
      () => `${count} members and one leader; reached: ${describeViews(all)}`,
    );
    const before = agreed(all) as { id: string; term: number };
    const leader = all.find((n) => n.id === before.id) as ShoalNode;
    await leader.close();
    const survivors = all.filter((n) => n !== leader);
    await waitFor(
      () => {
        const now = agreed(survivors);
        return now !== undefined && now.id !== before.id;
      },
      30_000,
      () => `survivors agree on a new leader; reached: ${describeViews(survivors)}`,
    );
    const after = agreed(survivors) as { id: string; term: number };
    expect(after.term).toBeGreaterThan(before.term);
    expect(survivors.map((n) => n.id)).toContain(after.id);
  }, 120_000);
});

describe('swim mode with requireQuorum on loopback', () => {
  test('the claimant holds a lease over real UDP (lease pings answered by every member), and a survivor left alone has no leader', async () => {
    const all = await swimCluster(3, true);
    await waitFor(
      () =>
        all.every((n) => n.members().filter((m) => m.state === 'alive').length === 3) &&
        agreed(all) !== undefined,
      45_000,
      () => `3 members and one leader; reached: ${describeViews(all)}`,
    );
    const leader = all.find((n) => n.id === agreed(all)?.id) as ShoalNode;
    const counters = leader.stats().protocol;
    expect(counters.leasePingsSent).toBeGreaterThan(0);
    expect(counters.leaseAcks).toBeGreaterThan(0);
    const others = all.filter((n) => n !== leader);
    for (const n of others) await n.close();
    await waitFor(
      () => leader.leader() === undefined,
      30_000,
      () => `the lone survivor lets go; reached: ${describeViews([leader])}`,
    );
  }, 120_000);
});
