/**
 * Partition shapes (grudge.ts), after Jepsen's nemesis grudges: isolate one member, a random
 * minority against the majority, and a bridge (two halves that share one member).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { bridge, components, isolate, linksAcross, majorityMinority } from './grudge.js';

describe('isolate and linksAcross', () => {
  it.each([
    [
      0,
      3,
      [
        [0, 1],
        [0, 2],
      ],
    ],
    [
      1,
      3,
      [
        [0, 1],
        [1, 2],
      ],
    ],
    [
      2,
      3,
      [
        [0, 2],
        [1, 2],
      ],
    ],
    [
      4,
      5,
      [
        [0, 4],
        [1, 4],
        [2, 4],
        [3, 4],
      ],
    ],
  ])('isolate(%i) of %i cuts %j', (member, n, links) => {
    expect(isolate(member, n)).toEqual(links);
    expect(components(isolate(member, n), n)).toContainEqual([member]);
  });

  it('cuts every link across a split and none inside either side', () => {
    expect(linksAcross([0, 3], 5)).toEqual([
      [0, 1],
      [0, 2],
      [0, 4],
      [1, 3],
      [2, 3],
      [3, 4],
    ]);
    expect(components(linksAcross([0, 3], 5), 5)).toEqual([
      [0, 3],
      [1, 2, 4],
    ]);
  });
});

describe('majorityMinority', () => {
  it.each([3, 5, 7])(
    'on %i members the minority is floor((n-1)/2) and the majority can elect',
    (n) => {
      const seen = new Set<string>();
      for (let seed = 0; seed < 50; seed++) {
        const { minority, links } = majorityMinority(n, new Rng(seed));
        expect(minority).toHaveLength(Math.floor((n - 1) / 2));
        const groups = components(links, n);
        expect(groups).toHaveLength(2);
        expect(Math.max(...groups.map((g) => g.length))).toBeGreaterThan(n / 2);
        expect(groups).toContainEqual(minority);
        seen.add(minority.join(','));
      }
      expect(seen.size).toBeGreaterThan(1); // the minority is drawn, not fixed
    },
  );

  it('is a function of the seed', () => {
    expect(majorityMinority(5, new Rng(7))).toEqual(majorityMinority(5, new Rng(7)));
  });
});

describe('bridge', () => {
  it('on 3 members cuts the two ends apart and leaves the bridge linked to both', () => {
    for (let seed = 0; seed < 20; seed++) {
      const split = bridge(3, new Rng(seed));
      expect(split.links).toHaveLength(1);
      const [a, b] = split.links[0] as [number, number];
      expect([a, b]).not.toContain(split.bridge);
      expect(components(split.links, 3)).toEqual([[0, 1, 2]]); // still connected, through the bridge
    }
  });

  it("on 5 members is Jepsen's [a b] c [d e]: every link between the halves is cut", () => {
    const split = bridge(5, new Rng(3));
    const [left, right] = split.halves as [number[], number[]];
    expect(left).toHaveLength(2);
    expect(right).toHaveLength(2);
    expect([...left, ...right, split.bridge].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(split.links).toHaveLength(4);
    for (const [a, b] of split.links) {
      expect(left.includes(a) !== left.includes(b)).toBe(true);
      expect([a, b]).not.toContain(split.bridge);
    }
    // Each half plus the bridge is a majority; without the bridge neither half is.
    const withoutBridge = [...split.links, ...isolate(split.bridge, 5)];
    expect(components(withoutBridge, 5).every((g) => g.length <= 2)).toBe(true);
  });
});
