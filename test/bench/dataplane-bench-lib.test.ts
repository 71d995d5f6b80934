/**
 * The pieces of the data plane's benches that decide what a number means: the simulated
 * clusters start converged without sharing an owner's partition with its replicas (a shared one
 * would make every write arrive everywhere at once), a write and a join then really travel, and
 * the Merkle bench's counting remote charges one round trip per level and 32 bytes per hash.
 */
import { describe, expect, it } from 'vitest';
import { ServicesApi } from '../../src/crdt/registry/api.js';
import { listServices } from '../../src/crdt/registry/queries.js';
import { digestOf } from '../../src/crdt/registry/partition.js';
import { diffTrees } from '../../src/tree/merkle.js';
import { build, countingRemote, keyOf, value } from '../../bench/crdt-merkle-sync.js';
import {
  runUntil,
  simMembershipCluster,
  simRegistryCluster,
} from '../../bench/lib-sim-dataplane.js';

describe('simRegistryCluster', () => {
  it('starts converged: equal digests, every partition held, none shared with its owner', () => {
    const cluster = simRegistryCluster(12, 3);
    const states = cluster.drivers.map((d) => d.state);
    const digests = new Set(states.map((s) => digestOf(s)));
    expect(digests.size).toBe(1);
    for (const s of states) {
      expect(s.partitions.size).toBe(12);
      expect(s.queue.size).toBe(0);
      const own = s.partitions.get(s.selfId);
      for (const other of states)
        if (other !== s) expect(other.partitions.get(s.selfId)).not.toBe(own);
    }
  });

  it('a write reaches the others only by the network, then all of them', () => {
    const cluster = simRegistryCluster(12, 4);
    const writer = cluster.drivers[5];
    if (writer === undefined) throw new Error('no writer');
    new ServicesApi({
      get state() {
        return writer.state;
      },
      write: (op) => void writer.input({ kind: 'local', now: cluster.clock.now(), write: op }),
    }).advertise({ name: 'api', address: '10.0.0.5:80' });
    const holding = () =>
      cluster.drivers.filter((d) => listServices(d.state, 'api').length === 1).length;
    expect(holding()).toBe(1);
    const took = runUntil(cluster.clock, () => holding() === 12, 30_000);
    expect(took).toBeDefined();
    expect(took).toBeGreaterThan(0);
  });
});

describe('simMembershipCluster', () => {
  it('starts converged and a newcomer is seen alive by every member', () => {
    const cluster = simMembershipCluster(8, 5);
    const seen = new Set<number>();
    cluster.onEvent = (i, event) => {
      const about = event.type === 'joined' || event.type === 'alive';
      if (about && event.member.name === 'n9' && i < 8) seen.add(i);
    };
    cluster.join(0);
    const took = runUntil(cluster.clock, () => seen.size === 8, 60_000);
    expect(took).toBeDefined();
    for (let i = 0; i < 8; i++) expect(seen.has(i)).toBe(true);
  });
});

describe('countingRemote', () => {
  it('charges the root alone when the trees agree', () => {
    const a = build(500, 2);
    const remote = countingRemote(build(500, 2));
    expect(diffTrees(a, remote.remote).changed).toEqual([]);
    expect(remote.cost()).toEqual({ roundTrips: 1, requestBytes: 1, replyBytes: 32 });
  });

  it('charges depth + 2 round trips and each hash and bucket entry for one difference', () => {
    const a = build(500, 2);
    const b = build(500, 2);
    b.set(keyOf(7), value(7, '*'));
    b.root();
    const remote = countingRemote(b);
    expect(diffTrees(a, remote.remote).changed).toEqual([keyOf(7)]);
    const cost = remote.cost();
    expect(cost.roundTrips).toBe(4);
    // Root, then the 16 children of the root and of the one differing level-1 node.
    const bucket = b.bucketEntries(
      [...Array(256).keys()].find((i) => b.bucketEntries(i).some((e) => e.key === keyOf(7))) ?? -1,
    );
    const entryBytes = bucket.reduce((sum, e) => sum + 1 + e.key.length + 32, 1);
    expect(cost.replyBytes).toBe(32 + 16 * 32 + 16 * 32 + entryBytes);
  });
});
