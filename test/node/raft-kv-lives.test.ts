/**
 * A member's new process life never writes on an old life's session (Raft thesis §6.3: a client
 * session's seq only grows; docs/design/raft-kv.md, "Sessions and lanes"). The failover bench
 * once saw `seq 1 is older than the session's last seq 2` on the first put through a member
 * restarted after kill -9 (docs/notes/issue-13.md): its lane ids were drawn from the node's
 * random stream, seeded from the NodeId and the monotonic clock at boot, so a restart that
 * booted in the same millisecond drew the same ids and started their seqs again at 1. Here the
 * seed is pinned, so every life of member 1 draws the same stream: the coincidence is certain.
 * Lease ids came from the same stream: a new life drew the old life's ids again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import type { ShoalNode } from '../../src/node/node.js';
import { LEASE_ID_ATTEMPTS } from '../../src/node/raft-kv.js';
import { startRaftCluster, type RaftCluster } from './raft-cluster.js';

const SEED = 0x5eed;
const text = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);

let cluster: RaftCluster;

beforeAll(async () => {
  cluster = await startRaftCluster(3, { io: (i) => (i === 1 ? { rng: new Rng(SEED) } : {}) });
  await cluster.leader();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('a new life of a raft member, with the same random seed as the last', () => {
  it('writes on a new session: its first put applies, neither refused as stale nor taken for a duplicate', async () => {
    const first = cluster.nodes[1] as ShoalNode;
    // Life 1: one write, seq 1 of lane 1. On the old session, life 2's seq 1 would be answered
    // with this write's recorded result and not apply (a lost write reported as done).
    let last = (await first.kv.put('lives/k', 'life1')).revision;
    for (let life = 2; life <= 3; life++) {
      const node = await cluster.restart(1, 'kill');
      await cluster.leader();
      // Life 3 follows a life that took lane 1 to seq 2: on the old session, seq 1 is stale.
      const put = await node.kv.put('lives/k', `life${life}`);
      expect(put.revision).toBeGreaterThan(last);
      expect(text((await node.kv.get('lives/k'))?.value)).toBe(`life${life}`);
      last = (await node.kv.put('lives/other', `life${life}`)).revision; // seq 2 of the same lane
    }
    for (const node of cluster.nodes)
      expect(text((await node.kv.get('lives/k'))?.value)).toBe('life3');
  }, 60_000);

  it('draws lease ids the last life did not: a grant succeeds while its leases live', async () => {
    const before = cluster.nodes[1] as ShoalNode;
    // More live leases than one grant's attempts: a new life redrawing them all would fail.
    const old = new Set<string>();
    for (let i = 0; i < LEASE_ID_ATTEMPTS + 2; i++)
      old.add(String((await before.kv.leases.grant(60_000)).id));
    const node = await cluster.restart(1, 'kill');
    await cluster.leader();
    const fresh = await node.kv.leases.grant(60_000);
    expect(old.has(String(fresh.id))).toBe(false);
    await node.kv.leases.revoke(fresh.id);
  }, 60_000);
});
