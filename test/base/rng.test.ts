import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { AssertionError } from '../../src/base/assert.js';

function draw(rng: Rng, count: number): number[] {
  return Array.from({ length: count }, () => rng.next32());
}

describe('Rng', () => {
  it('is deterministic: the same seed gives the same stream', () => {
    expect(draw(new Rng(42), 50)).toEqual(draw(new Rng(42), 50));
    expect(draw(new Rng(42), 50)).not.toEqual(draw(new Rng(43), 50));
  });

  it('fork depends on the seed and label only, not on draws made before', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    draw(b, 1000);
    expect(draw(a.fork('node-1'), 20)).toEqual(draw(b.fork('node-1'), 20));
    expect(draw(a.fork('node-1'), 20)).not.toEqual(draw(a.fork('node-2'), 20));
  });

  it('int stays in range and covers every value (chi-square, 10 buckets)', () => {
    const rng = new Rng(1);
    const counts = new Array<number>(10).fill(0);
    const draws = 100_000;
    for (let i = 0; i < draws; i++) {
      const v = rng.int(10);
      expect(v >= 0 && v < 10).toBe(true);
      counts[v] = (counts[v] as number) + 1;
    }
    const expected = draws / 10;
    const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(27.88); // p = 0.001 for 9 degrees of freedom
  });

  it('range, chance, pick and shuffle respect their contracts', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.integer({ min: -1000, max: 1000 }),
        fc.nat(1000),
        (seed, min, span) => {
          const rng = new Rng(seed);
          const v = rng.range(min, min + span);
          expect(v).toBeGreaterThanOrEqual(min);
          expect(v).toBeLessThanOrEqual(min + span);
          expect(rng.chance(0, 5)).toBe(false);
          expect(rng.chance(5, 5)).toBe(true);
          const items = Array.from({ length: span % 20 }, (_, i) => i);
          expect(rng.shuffle(items).sort((x, y) => x - y)).toEqual(items);
          if (items.length > 0) expect(items).toContain(rng.pick(items));
        },
      ),
    );
  });

  it('accepts any safe integer seed and reports it back', () => {
    expect(new Rng(Number.MAX_SAFE_INTEGER).seed).toBe(Number.MAX_SAFE_INTEGER);
    expect(new Rng(0).fork('x').seed).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
  });

  it('rejects bad arguments with an assertion', () => {
    expect(() => new Rng(-1)).toThrow(AssertionError);
    expect(() => new Rng(1.5)).toThrow(AssertionError);
    expect(() => new Rng(1).int(0)).toThrow(AssertionError);
    expect(() => new Rng(1).chance(3, 2)).toThrow(AssertionError);
    expect(() => new Rng(1).pick([])).toThrow(AssertionError);
  });
});
