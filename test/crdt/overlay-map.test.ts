/**
 * OverlayMap (src/crdt/overlay-map.ts) behaves as a Map in everything, iteration order included:
 * random operation sequences over a random shared base, run on an OverlayMap and on a plain Map
 * that starts as a copy of the base, agree after every operation (and `forEachOwn` folds to what
 * the whole map does); the base is never written; and
 * the comparison catches a broken overlay (one that appends a replaced base key instead of
 * keeping its position), so the property can fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OverlayMap } from '../../src/crdt/overlay-map.js';

const RUNS = { seed: 16, numRuns: 400 };
const key = fc.integer({ min: 0, max: 11 });

type Op =
  | { op: 'set'; key: number; value: number }
  | { op: 'delete'; key: number }
  | { op: 'clear' }
  | { op: 'reset'; base: [number, number][] };

const base = fc.array(fc.tuple(key, fc.integer()), { maxLength: 10 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reset' as const), base }) },
);

/** Replays `ops` on both maps; the first disagreement, or undefined. */
function disagreement(
  make: (base: ReadonlyMap<number, number>) => Map<number, number>,
  start: [number, number][],
  ops: readonly Op[],
): string | undefined {
  const shared = new Map(start);
  const frozen = JSON.stringify([...shared]);
  const overlay = make(shared) as OverlayMap<number, number>;
  const plain = new Map(shared);
  for (const [i, o] of ops.entries()) {
    let a: unknown;
    let b: unknown;
    if (o.op === 'set') [a, b] = [overlay.set(o.key, o.value) === overlay, true];
    else if (o.op === 'delete') [a, b] = [overlay.delete(o.key), plain.delete(o.key)];
    else if (o.op === 'clear') [a, b] = [overlay.clear(), plain.clear()];
    else {
      (overlay as OverlayMap<number, number>).reset(new Map(o.base));
      plain.clear();
      for (const [k, v] of o.base) plain.set(k, v);
    }
    if (o.op === 'set') plain.set(o.key, o.value);
    const seen = {
      result: a,
      size: overlay.size,
      entries: [...overlay],
      keys: [...overlay.keys()],
      values: [...overlay.values()],
      each: [] as [number, number][],
      has: [] as boolean[],
      get: [] as (number | undefined)[],
    };
    overlay.forEach((v, k) => seen.each.push([k, v]));
    // forEachOwn folds to the same as the whole map: the base, less `before`, plus `now`.
    let sum = 0;
    let count = overlay.base.size;
    for (const v of overlay.base.values()) sum += v;
    (overlay as OverlayMap<number, number>).forEachOwn((_, now, before) => {
      if (before !== undefined) [sum, count] = [sum - before, count - 1];
      if (now !== undefined) [sum, count] = [sum + now, count + 1];
    });
    let plainSum = 0;
    for (const v of plain.values()) plainSum += v;
    if (sum !== plainSum || count !== plain.size)
      return `after op ${i}: forEachOwn folds to ${sum}/${count}, the map to ${plainSum}/${plain.size}`;
    const want = {
      result: b,
      size: plain.size,
      entries: [...plain],
      keys: [...plain.keys()],
      values: [...plain.values()],
      each: [...plain],
      has: [] as boolean[],
      get: [] as (number | undefined)[],
    };
    for (let k = 0; k <= 11; k++) {
      seen.has.push(overlay.has(k));
      seen.get.push(overlay.get(k));
      want.has.push(plain.has(k));
      want.get.push(plain.get(k));
    }
    if (JSON.stringify(seen) !== JSON.stringify(want))
      return `after op ${i} ${JSON.stringify(o)}: ${JSON.stringify(seen)} vs ${JSON.stringify(want)}`;
  }
  if (JSON.stringify([...shared]) !== frozen) return 'the base was written';
  return undefined;
}

/** A broken overlay: a replaced base key moves to the end (a Map keeps its position). */
class AppendingOverlay extends OverlayMap<number, number> {
  override set(k: number, v: number): this {
    super.delete(k);
    return super.set(k, v);
  }
}

describe('OverlayMap', () => {
  it('does what a Map does, in the same order, and never writes its base', () => {
    fc.assert(
      fc.property(base, fc.array(op, { maxLength: 40 }), (start, ops) => {
        expect(disagreement((b) => new OverlayMap(b), start, ops)).toBeUndefined();
      }),
      RUNS,
    );
  });

  it('the comparison catches an overlay that moves a replaced key to the end', () => {
    const result = fc.check(
      fc.property(
        base,
        fc.array(op, { maxLength: 40 }),
        (start, ops) => disagreement((b) => new AppendingOverlay(b), start, ops) === undefined,
      ),
      RUNS,
    );
    expect(result.failed).toBe(true);
  });

  it('costs only the entries where it differs from its base', () => {
    const shared = new Map(Array.from({ length: 1000 }, (_, i) => [i, i]));
    const a = new OverlayMap(shared).set(5, -5);
    a.delete(7);
    expect(a.size).toBe(999);
    expect(a.ownEntries).toBe(2);
    expect(a.get(5)).toBe(-5);
    expect(a.has(7)).toBe(false);
    expect(shared.get(5)).toBe(5);
  });
});
