/**
 * Placement (docs/design/data-plane.md, "Placement"): the same key maps to the same owners on
 * every member that shares a view (pinned vectors, so a version that moves keys fails here);
 * owners are distinct, primary first; a member leaving moves about 1/N of the keys on the ring,
 * exactly its own keys under rendezvous (Thaler & Ravishankar 1998), and jump hash matches
 * Lamping & Veach's Fig. 1; watched keys report owner changes; every limit is tested at
 * limit-1, limit and limit+1.
 */
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { placementConfig, type PlacementStrategy } from '../../src/placement/config.js';
import { jumpBucket } from '../../src/placement/jump.js';
import { PlacementTable } from '../../src/placement/table.js';
import { xxh64StringInto } from '../../src/placement/xxh64.js';

const id = (i: number): NodeId =>
  (i.toString(16).padStart(4, '0') + 'c0ffee'.repeat(5)).slice(0, 32) as NodeId;
const ids = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => id(i + 1));
const STRATEGIES: PlacementStrategy[] = ['ring', 'rendezvous', 'jump'];

function table(n: number, settings = {}): PlacementTable {
  const t = new PlacementTable(placementConfig(settings));
  t.setMembers(ids(n));
  return t;
}

function expectCode(fn: () => unknown, code: 'ERR_INVALID_ARGUMENT' | 'ERR_INVALID_CONFIG'): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(hasErrorCode(caught, code), String(caught)).toBe(true);
}

describe('jump hash (Lamping & Veach 2014, Fig. 1)', () => {
  it('matches the reference function computed with 64-bit integers', () => {
    const reference = (key: bigint, buckets: number): number => {
      let b = -1n;
      let j = 0n;
      let k = key;
      while (j < BigInt(buckets)) {
        b = j;
        k = (k * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
        j = BigInt(Math.floor(Number(b + 1n) * (Number(1n << 31n) / Number((k >> 33n) + 1n))));
      }
      return Number(b);
    };
    for (let i = 0; i < 300; i++) {
      const key = (BigInt(i) * 0x9e3779b97f4a7c15n + 12345n) & 0xffffffffffffffffn;
      for (const n of [1, 2, 7, 100, 1000, 65_536]) {
        const got = jumpBucket(Number(key >> 32n), Number(key & 0xffffffffn), n);
        expect(got).toBe(reference(key, n));
      }
    }
  });
});

describe('placement table', () => {
  it('pins the owners of known keys for every strategy (stable across versions)', () => {
    const t = table(5);
    const short = (owners: NodeId[]): number[] =>
      owners.map((o) => Number.parseInt(o.slice(0, 4), 16));
    const got = (strategy: PlacementStrategy): number[][] =>
      ['user:42', 'a', ''].map((k) => short(t.owners(k, { replicas: 3, strategy })));
    expect(got('ring')).toEqual([
      [2, 3, 5],
      [1, 3, 2],
      [5, 4, 2],
    ]);
    expect(got('rendezvous')).toEqual([
      [3, 5, 1],
      [3, 5, 2],
      [2, 4, 3],
    ]);
    expect(got('jump')).toEqual([
      [5, 1, 2],
      [2, 3, 4],
      [3, 4, 5],
    ]);
  });

  it('gives the same owners whatever order the view arrives in, and distinct owners', () => {
    const a = new PlacementTable(placementConfig());
    const b = new PlacementTable(placementConfig());
    a.setMembers(ids(9));
    b.setMembers(ids(9).reverse());
    for (const strategy of STRATEGIES)
      for (let k = 0; k < 200; k++) {
        const owners = a.owners(`key-${k}`, { replicas: 4, strategy });
        expect(owners).toEqual(b.owners(`key-${k}`, { replicas: 4, strategy }));
        expect(new Set(owners).size).toBe(4);
      }
  });

  it('returns every member when replicas exceed the view, and none for an empty view', () => {
    const t = table(2);
    for (const strategy of STRATEGIES)
      expect(t.owners('k', { replicas: 5, strategy }).sort()).toEqual(ids(2));
    const empty = new PlacementTable(placementConfig());
    for (const strategy of STRATEGIES) expect(empty.owners('k', { strategy })).toEqual([]);
  });

  it('spreads keys evenly: every member of 10 holds 10% ± 3.5 points of 20,000 keys', () => {
    const t = table(10);
    for (const strategy of ['ring', 'rendezvous', 'jump'] as const) {
      const counts = new Map<NodeId, number>();
      for (let k = 0; k < 20_000; k++) {
        const [owner] = t.owners(`obj/${k}`, { strategy });
        counts.set(owner as NodeId, (counts.get(owner as NodeId) ?? 0) + 1);
      }
      for (const count of counts.values())
        expect(Math.abs(count / 20_000 - 0.1)).toBeLessThan(0.035);
    }
  });

  it("moves only the leaver's keys under ring and rendezvous, about 1/N of them", () => {
    const keys = Array.from({ length: 10_000 }, (_, k) => `obj/${k}`);
    for (const strategy of ['ring', 'rendezvous'] as const) {
      const t = table(10);
      const before = keys.map((k) => t.owners(k, { strategy })[0]);
      const leaver = id(4);
      t.setMembers(ids(10).filter((m) => m !== leaver));
      let moved = 0;
      keys.forEach((k, i) => {
        const after = t.owners(k, { strategy })[0];
        if (after !== before[i]) {
          moved++;
          expect(before[i]).toBe(leaver);
        }
      });
      expect(moved / keys.length).toBeGreaterThan(0.05);
      expect(moved / keys.length).toBeLessThan(0.15);
    }
  });

  it('the movement check catches a naive hash-mod-N placement (mutant)', () => {
    const keys = Array.from({ length: 10_000 }, (_, k) => `obj/${k}`);
    const modulo = (members: NodeId[], key: string): NodeId => {
      const out = xxh64StringInto(key);
      return members[(out[1] as number) % members.length] as NodeId;
    };
    const before = ids(10);
    const after = before.filter((m) => m !== id(4));
    const moved = keys.filter((k) => modulo(before, k) !== modulo(after, k)).length;
    expect(moved / keys.length).toBeGreaterThan(0.15);
  });

  it('reports the owner changes of watched keys when the view changes, and only those', () => {
    const t = table(5);
    const owners = t.watch('user:42', { replicas: 2 });
    const primary = owners[0] as NodeId;
    expect(t.setMembers(ids(5))).toEqual([]);
    const changes = t.setMembers(ids(5).filter((m) => m !== primary));
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      key: 'user:42',
      replicas: 2,
      strategy: 'ring',
      before: owners,
    });
    expect(changes[0]?.after).not.toContain(primary);
    expect(changes[0]?.after[0]).toBe(owners[1]);
    expect(t.unwatch('user:42', { replicas: 2 })).toBe(true);
    expect(t.setMembers(ids(5))).toEqual([]);
  });

  it('refuses bad arguments with ERR_INVALID_ARGUMENT and changes nothing', () => {
    const t = table(3);
    expectCode(() => t.setMembers(['not-an-id' as NodeId]), 'ERR_INVALID_ARGUMENT');
    expect(t.view()).toEqual(ids(3));
    expectCode(() => t.owners('k', { replicas: 0 }), 'ERR_INVALID_ARGUMENT');
    expectCode(
      () => t.owners('k', { strategy: 'modulo' as PlacementStrategy }),
      'ERR_INVALID_ARGUMENT',
    );
    expectCode(() => placementConfig({ vnodesPerMember: 0 }), 'ERR_INVALID_CONFIG');
  });

  describe('limits at limit-1, limit, limit+1', () => {
    it('replicasMax', () => {
      const t = table(20, { replicasMax: 4 });
      expect(t.owners('k', { replicas: 3 })).toHaveLength(3);
      expect(t.owners('k', { replicas: 4 })).toHaveLength(4);
      expectCode(() => t.owners('k', { replicas: 5 }), 'ERR_INVALID_ARGUMENT');
    });

    it('membersMax', () => {
      const t = new PlacementTable(placementConfig({ membersMax: 8 }));
      t.setMembers(ids(7));
      t.setMembers(ids(8));
      expectCode(() => t.setMembers(ids(9)), 'ERR_INVALID_ARGUMENT');
      expect(t.view()).toHaveLength(8);
    });

    it('watchedKeysMax', () => {
      const t = table(3, { watchedKeysMax: 2 });
      t.watch('a');
      t.watch('b');
      t.watch('b');
      expectCode(() => t.watch('c'), 'ERR_INVALID_ARGUMENT');
      expect(t.watchedCount()).toBe(2);
    });

    it('keyBytesMax', () => {
      const t = table(3, { keyBytesMax: 8 });
      expect(t.owners('k'.repeat(7))).toHaveLength(1);
      expect(t.owners('é'.repeat(4))).toHaveLength(1);
      expectCode(() => t.owners('k'.repeat(9)), 'ERR_INVALID_ARGUMENT');
    });

    it('vnodesPerMember', () => {
      expect(placementConfig({ vnodesPerMember: 1023 }).vnodesPerMember).toBe(1023);
      expect(placementConfig({ vnodesPerMember: 1024 }).vnodesPerMember).toBe(1024);
      expectCode(() => placementConfig({ vnodesPerMember: 1025 }), 'ERR_INVALID_CONFIG');
    });
  });
});
