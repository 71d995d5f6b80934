import { afterEach, describe, expect, test } from 'vitest';
import { ElectionCluster, type ElectionModeKind } from '../../bench/lib-election-child.js';
import { waitFor } from '../helpers/wait.js';

let cluster: ElectionCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const FAST_SWIM = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  suspicionMult: 2,
  suspicionMaxTimeoutMult: 2,
  gossipIntervalMs: 50,
};

describe.each(['raft-lite', 'static', 'swim'] as const)(
  '%s: 3 child processes on loopback',
  (mode: ElectionModeKind) => {
    test('SIGKILL of the leader process: the survivors agree on a new leader with a higher term', async () => {
      cluster = new ElectionCluster(mode, mode === 'swim' ? FAST_SWIM : undefined);
      await cluster.start(3);
      const all = cluster.children;
      await waitFor(
        () => ElectionCluster.agreed(all) !== undefined,
        20_000,
        'first leader agreed by all three',
      );
      const before = ElectionCluster.agreed(all) as { leader: string; term: number };
      const leader = all.find((c) => c.id === before.leader);
      expect(leader).toBeDefined();
      await cluster.kill(leader as NonNullable<typeof leader>);
      const survivors = cluster.alive();
      expect(survivors).toHaveLength(2);
      await waitFor(
        () => {
          const now = ElectionCluster.agreed(survivors);
          return now !== undefined && now.leader !== before.leader;
        },
        20_000,
        'survivors agree on a new leader',
      );
      const after = ElectionCluster.agreed(survivors) as { leader: string; term: number };
      expect(after.term).toBeGreaterThan(before.term);
      expect(survivors.map((c) => c.id)).toContain(after.leader);
    }, 60_000);
  },
);
