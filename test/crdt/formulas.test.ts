/**
 * The formulas docs/design/data-plane.md quotes, as table tests: the retransmit limit of a delta
 * (SWIM §4.1, `retransmitLimitFor`) and the ring position of a 64-bit hash (`ringPosition`).
 */
import { describe, expect, it } from 'vitest';
import { retransmitLimitFor } from '../../src/crdt/registry/config.js';
import { ringPosition } from '../../src/placement/ring.js';

describe('data-plane formulas', () => {
  it('retransmitLimitFor = max(1, retransmitMult * ceil(log10(n + 1)))', () => {
    const table: [number, number, number][] = [
      [4, 1, 4],
      [4, 9, 4],
      [4, 10, 8],
      [4, 99, 8],
      [4, 100, 12],
      [2, 1000, 8],
      [1, 0, 1],
    ];
    for (const [mult, n, limit] of table)
      expect(retransmitLimitFor(mult, n), `${mult}, ${n}`).toBe(limit);
  });

  it('ringPosition = the top 38 bits of (hi:lo)', () => {
    const table: [number, number, number][] = [
      [0, 0, 0],
      [0, 0x3ffffff, 0],
      [0, 0x4000000, 1],
      [1, 0, 64],
      [0xffffffff, 0xffffffff, 2 ** 38 - 1],
    ];
    for (const [hi, lo, position] of table) expect(ringPosition(hi, lo)).toBe(position);
  });
});
