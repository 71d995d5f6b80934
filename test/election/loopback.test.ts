import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
const nodes: ShoalNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function cluster(mode: 'raft-lite' | 'static', count: number): Promise<ShoalNode[]> {
  const peers = await freeClusterAddresses(count);
  for (let i = 0; i < count; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-election-'));
    dirs.push(dataDir);
    const kind =
      mode === 'raft-lite'
        ? { kind: 'raft-lite' as const, peers }
        : { kind: 'static' as const, peers, failureThresholdMs: 400, heartbeatIntervalMs: 100 };
    nodes.push(
      await createNode({
        name: `n${i}`,
        dataDir,
        bind: peers[i] as string,
        mode: kind,
        clusterId: 'election-test',
      }),
    );
  }
  return [...nodes];
}

/** The leader every node reports, with the same term (static's terms converge as heartbeats flow). */
function agreed(alive: ShoalNode[]): string | undefined {
  const first = alive[0]?.leader();
  if (first === undefined) return undefined;
  return alive.every((n) => n.leader()?.id === first.id && n.leader()?.term === first.term)
    ? first.id
    : undefined;
}

describe.each([
  ['raft-lite', 3],
  ['raft-lite', 5],
  ['static', 3],
] as const)('%s with %i nodes on loopback', (mode, count) => {
  test('a leader is elected; closing it abruptly yields a new leader every survivor agrees on, with a higher term', async () => {
    const all = await cluster(mode, count);
    await waitFor(() => agreed(all) !== undefined, 10_000, 'first leader agreed');
    const leaderId = agreed(all) as string;
    const oldTerm = all[0]?.leader()?.term as number;
    const leader = all.find((n) => n.id === leaderId) as ShoalNode;
    await leader.close();
    const survivors = all.filter((n) => n !== leader);
    await waitFor(
      () => {
        const id = agreed(survivors);
        return id !== undefined && id !== leaderId;
      },
      10_000,
      'new leader agreed',
    );
    for (const n of survivors) expect(n.leader()?.term).toBeGreaterThan(oldTerm);
  }, 30_000);
});

test('invalid raft-lite timings are refused with a message naming the field', async () => {
  await expect(
    createNode({
      name: 'x',
      dataDir: '/tmp/unused',
      mode: { kind: 'raft-lite', peers: [], electionTimeoutMinMs: 300, electionTimeoutMaxMs: 100 },
    }),
  ).rejects.toThrow(/electionTimeoutMaxMs/);
});
