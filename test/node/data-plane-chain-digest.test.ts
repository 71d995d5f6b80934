/**
 * Digest-first chain pulls (docs/design/data-plane.md, "Chains on the network"; issue 16:
 * "steady-state cost stays flat in N once digests agree"), over simulated clusters of chain
 * services (src/sim/scenarios/chain-cluster.ts; virtual time, so load does not matter): once every
 * node holds every chain, a pull is a digest and a `same`, the same bytes per node at 5 and 50
 * members; an append still reaches every member, and the pulls that carry it name only the owners
 * of the buckets that differ, not every owner; with notifications (a changed node tells three
 * members, which pull from it at once) half the members hold an append within milliseconds and
 * all within about one pull interval, where pulls alone take several. The implementation before digests (every pull
 * naming every owner, ~50 bytes each) fails the first test: 497 vs 4,932 B/s per node at 10 and
 * 100 members (bench/chain-steady.ts).
 */
import { describe, expect, it } from 'vitest';
import { OWNERS_PER_BUCKET } from '../../src/node/data-chain.js';
import { simChainCluster, type SimChainCluster } from '../../src/sim/scenarios/chain-cluster.js';

const PULL_MS = 1000;
const EVENTS_MAX = 10_000_000;

/** A cluster whose first `writers` nodes appended two entries each, run until all hold them. */
function converged(n: number, writers: number): SimChainCluster {
  const cluster = simChainCluster(n, 7, { pullIntervalMs: PULL_MS });
  const owners = cluster.services.slice(0, writers);
  for (const w of owners) {
    w.append(new Uint8Array([1]));
    w.append(new Uint8Array([2]));
  }
  for (let round = 0; round < 200; round++) {
    if (owners.every((w) => cluster.heldEverywhere(w.own.owner, 2))) break;
    cluster.clock.runUntil(cluster.clock.now() + PULL_MS, { eventsMax: EVENTS_MAX });
  }
  expect(owners.every((w) => cluster.heldEverywhere(w.own.owner, 2))).toBe(true);
  // The requests in flight finish.
  cluster.clock.runUntil(cluster.clock.now() + 2 * PULL_MS, { eventsMax: EVENTS_MAX });
  return cluster;
}

/** Bytes sent per node per second over `seconds` of virtual time. */
function steadyBytes(cluster: SimChainCluster, seconds: number): number {
  const before = cluster.bytesSent();
  cluster.clock.runUntil(cluster.clock.now() + seconds * 1000, { eventsMax: EVENTS_MAX });
  return (cluster.bytesSent() - before) / cluster.services.length / seconds;
}

describe('digest-first chain pulls', () => {
  it('cost the same few bytes per node at 5 and 50 members once every chain is held', () => {
    const small = converged(5, 5);
    const large = converged(50, 10);
    const perNodeSmall = steadyBytes(small, 20);
    const perNodeLarge = steadyBytes(large, 20);
    // One digest (~60 bytes) sent and about one `same` (~20) answered per node per pull interval.
    expect(perNodeSmall).toBeLessThan(100);
    expect(perNodeLarge).toBeLessThan(100);
    expect(Math.abs(perNodeLarge - perNodeSmall)).toBeLessThan(0.1 * perNodeSmall);
    for (const s of large.services) {
      const c = s.stats().counters;
      expect(c.pullsSame).toBeGreaterThan(0);
    }
    small.halt();
    large.halt();
  });

  it('bring an append to every member, naming only the owners of the buckets that differ', () => {
    const n = 60;
    const cluster = converged(n, 10);
    const named = () =>
      cluster.services.reduce(
        (sum, s) => {
          const c = s.stats().counters;
          return {
            owners: sum.owners + (c.ownersNamed ?? 0),
            pulls: sum.pulls + (c.pullsDescended ?? 0),
          };
        },
        { owners: 0, pulls: 0 },
      );
    const before = named();
    const writer = cluster.services[3];
    if (writer === undefined) throw new Error('no writer');
    const entry = writer.append(new Uint8Array([3]));
    for (let round = 0; round < 60 && !cluster.heldEverywhere(writer.own.owner, entry.seq); round++)
      cluster.clock.runUntil(cluster.clock.now() + PULL_MS, { eventsMax: EVENTS_MAX });
    expect(cluster.heldEverywhere(writer.own.owner, entry.seq)).toBe(true);
    const after = named();
    const descents = after.pulls - before.pulls;
    expect(descents).toBeGreaterThanOrEqual(n - 1);
    // 60 owners: 8 buckets (about OWNERS_PER_BUCKET each), one differs: a bucket's owners named,
    // not all 60 (a bucket may hold more than the mean: twice it is far in the tail).
    expect((after.owners - before.owners) / descents).toBeLessThanOrEqual(2 * OWNERS_PER_BUCKET);
    cluster.halt();
  });

  it('with notifications, an append reaches most members within milliseconds, all within about a pull', () => {
    const quick = converged(40, 5);
    const slow = simChainCluster(40, 7, { pullIntervalMs: PULL_MS, notifyFanout: 0 });
    const spread = (cluster: SimChainCluster): { half: number; all: number } => {
      const writer = cluster.services[2];
      if (writer === undefined) throw new Error('no writer');
      const entry = writer.append(new Uint8Array([9]));
      const at = cluster.clock.now();
      let half: number | undefined;
      let all: number | undefined;
      cluster.clock.runUntil(at + 30 * PULL_MS, {
        eventsMax: EVENTS_MAX,
        afterEvent: () => {
          const held = cluster.services.filter(
            (s) => (s.chainOf(writer.own.owner)?.headSeq ?? 0) >= entry.seq,
          ).length;
          if (half === undefined && held >= cluster.services.length / 2)
            half = cluster.clock.now() - at;
          if (held === cluster.services.length) all = cluster.clock.now() - at;
          return all !== undefined;
        },
      });
      if (half === undefined || all === undefined) throw new Error('not everywhere');
      return { half, all };
    };
    const withNotify = spread(quick);
    const pullsOnly = spread(slow);
    // Notified members pull at once (three round trips on LAN links); the few no notification
    // reached take it at their next pull.
    expect(withNotify.half).toBeLessThan(100);
    expect(withNotify.all).toBeLessThanOrEqual(2 * PULL_MS);
    // Pulls alone: a few pull intervals (the broken variant: notifications off).
    expect(pullsOnly.half).toBeGreaterThan(PULL_MS);
    expect(quick.services.some((s) => (s.stats().counters.notifiesPulled ?? 0) > 0)).toBe(true);
    quick.halt();
    slow.halt();
  });
});
