/**
 * A member behind an owner's pruned entries (docs/design/data-plane.md, "Chains on the network":
 * before, "a member more than entriesKeptMax entries behind a pruned owner cannot take that
 * chain"): a member holding nothing of a chain takes it from the oldest entry its peer keeps,
 * anchored at that entry's signed link, and then follows it like any other; entries whose
 * signature does not verify are still refused there. Simulated cluster of chain services
 * (src/sim/scenarios/chain-cluster.ts), virtual time. The code before anchoring fails it: every
 * member but the owner stays at seq 0 and counts `pruned` answers.
 */
import { describe, expect, it } from 'vitest';
import { simChainCluster } from '../../src/sim/scenarios/chain-cluster.js';

const PULL_MS = 1000;
const EVENTS_MAX = 10_000_000;

describe('a chain pruned at its owner', () => {
  it('is taken by a member holding nothing of it, from the oldest entry kept, then followed', () => {
    const cluster = simChainCluster(6, 3, { pullIntervalMs: PULL_MS, entriesKeptMax: 8 });
    const writer = cluster.services[0];
    if (writer === undefined) throw new Error('no writer');
    // 20 entries before anyone pulls: the owner keeps 13..20 in memory.
    for (let i = 0; i < 20; i++) writer.append(new Uint8Array([i]));
    const owner = writer.own.owner;
    for (let round = 0; round < 60 && !cluster.heldEverywhere(owner, 20); round++)
      cluster.clock.runUntil(cluster.clock.now() + PULL_MS, { eventsMax: EVENTS_MAX });
    expect(cluster.heldEverywhere(owner, 20)).toBe(true);
    for (const s of cluster.services.slice(1)) {
      const copy = s.chainOf(owner);
      expect(copy?.headHash()).toEqual(writer.own.headHash());
      expect(copy?.firstKeptSeq()).toBe(13);
      // The copy is anchored at 12: it knows no hash below.
      expect(copy?.hashAt(11)).toBeUndefined();
    }
    const anchored = cluster.services.reduce((n, s) => n + (s.stats().counters.anchored ?? 0), 0);
    expect(anchored).toBe(5);
    // Then it follows the chain like any other.
    writer.append(new Uint8Array([99]));
    for (let round = 0; round < 60 && !cluster.heldEverywhere(owner, 21); round++)
      cluster.clock.runUntil(cluster.clock.now() + PULL_MS, { eventsMax: EVENTS_MAX });
    expect(cluster.heldEverywhere(owner, 21)).toBe(true);
    expect(cluster.services.every((s) => Object.keys(s.stats().refused).length === 0)).toBe(true);
    cluster.halt();
  });
});
