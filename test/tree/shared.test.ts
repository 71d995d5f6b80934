/**
 * Shared key sets (src/tree/shared.ts; docs/design/data-plane.md, "Merkle sync on the network"):
 * last-writer-wins merging is order-free (any order of the same entries gives the same map and
 * root: commutative, associative, idempotent, Shapiro et al. 2011 §2.2), a tombstone wins over
 * older values and is collected after its time, a reshaped tree has the root of one built at that
 * depth, the size rule picks the depths the design names, and the limits refuse at limit + 1.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/base/hex.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { depthForKeys } from '../../src/tree/merkle.js';
import { SharedKeySet, treeLimits, type TreeEntry } from '../../src/tree/shared.js';

const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
const WRITERS = ['0'.repeat(32), 'f'.repeat(32)] as NodeId[];
const SIG = new Uint8Array(64);

function entry(key: string, wallMs: number, writer: number, value?: string): TreeEntry {
  return {
    key,
    value: value === undefined ? new Uint8Array(0) : new TextEncoder().encode(value),
    deleted: value === undefined,
    hlc: { wallMs, logical: 0 },
    writer: WRITERS[writer] as NodeId,
    signature: SIG,
  };
}

const arbEntry = fc
  .record({
    key: fc.constantFrom('a', 'b', 'c', 'd'),
    wallMs: fc.nat(5),
    writer: fc.nat(1),
    value: fc.option(fc.constantFrom('x', 'y', 'z'), { nil: undefined }),
  })
  .map((e) => entry(e.key, e.wallMs, e.writer, e.value));

function holding(entries: readonly TreeEntry[]): SharedKeySet {
  const set = new SharedKeySet('t', treeLimits(), sha256);
  for (const e of entries) set.merge(e);
  return set;
}

describe('shared key sets', () => {
  it('merging is order-free: every order of the same entries, with repeats, gives one root', () => {
    fc.assert(
      fc.property(fc.array(arbEntry, { maxLength: 20 }), fc.nat(), (entries, seed) => {
        const shuffled = [...entries, ...entries.slice(0, 3)].sort(
          (x, y) => ((x.hlc.wallMs * 7 + seed) % 5) - ((y.hlc.wallMs * 7 + seed) % 5),
        );
        const a = holding(entries);
        const b = holding(shuffled);
        expect(toHex(b.root())).toBe(toHex(a.root()));
        expect(b.size).toBe(a.size);
      }),
    );
  });

  it('the larger (stamp, writer) wins; a tombstone deletes older values; collect drops it', () => {
    const set = holding([entry('k', 1, 0, 'old'), entry('k', 2, 0, 'new'), entry('k', 1, 1, 'x')]);
    expect(new TextDecoder().decode(set.get('k')?.entry.value)).toBe('new');
    expect(set.merge(entry('k', 2, 1, 'tie-larger-writer'))).toBe('taken');
    expect(set.merge(entry('k', 2, 0, 'tie-smaller-writer'))).toBe('stale');
    expect(set.merge(entry('k', 3, 0))).toBe('taken');
    expect(set.size).toBe(0);
    expect(set.tombstoneCount).toBe(1);
    expect(set.merge(entry('k', 2, 1, 'late'))).toBe('stale');
    expect(set.collect(3)).toBe(0);
    expect(set.collect(4)).toBe(1);
    expect(set.entryCount).toBe(0);
    expect(toHex(set.root())).toBe(toHex(holding([]).root()));
  });

  it('a reshaped tree has the root of one built at that depth; the size rule', () => {
    const entries = Array.from({ length: 300 }, (_, i) => entry(`key-${i}`, i, i % 2, `v${i}`));
    const grown = holding(entries);
    grown.reshape(3);
    const built = new SharedKeySet('t', treeLimits(), sha256, 3);
    for (const e of entries) built.merge(e);
    expect(toHex(grown.root())).toBe(toHex(built.root()));
    expect(grown.depth).toBe(3);
    expect(
      [8_192, 8_193, 131_072, 131_073, 1_000_000].map((n) => depthForKeys(n, 16, 2, 4)),
    ).toEqual([2, 3, 3, 4, 4]);
    expect(() => grown.reshape(5)).toThrow(/outside/);
  });

  it('refuses a new key past keysMax and bytes past treeBytesMax', () => {
    const set = new SharedKeySet('t', treeLimits({ keysMax: 2, treeBytesMax: 10 }), sha256);
    expect(set.merge(entry('a', 1, 0, 'xx'))).toBe('taken');
    expect(set.merge(entry('b', 1, 0, 'yy'))).toBe('taken');
    expect(set.merge(entry('c', 1, 0, 'z'))).toBe('full');
    expect(set.merge(entry('a', 2, 0, 'x'.repeat(9)))).toBe('full');
    expect(set.merge(entry('a', 2, 0, 'x'.repeat(6)))).toBe('taken');
    expect(set.byteCount).toBe(10);
  });
});
