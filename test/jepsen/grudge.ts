/**
 * Which member-to-member links a partition cuts (Jepsen's "grudges", jepsen.nemesis), for n
 * members numbered 0..n-1. Pure: the random choices come from a seeded Rng.
 *
 * - isolate(m): m alone on one side; partition-leader isolates the leader.
 * - majority/minority: a random minority of floor((n-1)/2) members against the rest.
 * - bridge: two halves that cannot talk, joined by one member that talks to both
 *   (Jepsen's `bridge`: for 5, [a b] c [d e]; for 3, a - b - c with a and c cut off).
 */
import type { Rng } from '../../src/base/rng.js';

/** A cut link, with the smaller member first. */
export type Link = readonly [number, number];

function link(a: number, b: number): Link {
  return a < b ? [a, b] : [b, a];
}

/** Every link between `side` and the other members. */
export function linksAcross(side: readonly number[], n: number): Link[] {
  const inside = new Set(side);
  const out: Link[] = [];
  for (const a of side) for (let b = 0; b < n; b++) if (!inside.has(b)) out.push(link(a, b));
  return out.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
}

export function isolate(member: number, n: number): Link[] {
  return linksAcross([member], n);
}

/** A random minority (floor((n-1)/2) members) and the links that cut it off. */
export function majorityMinority(n: number, rng: Rng): { minority: number[]; links: Link[] } {
  const minority = rng
    .shuffle(Array.from({ length: n }, (_, i) => i))
    .slice(0, Math.floor((n - 1) / 2))
    .sort((a, b) => a - b);
  return { minority, links: linksAcross(minority, n) };
}

/** Two halves joined by one bridge member; the links between the halves are cut. */
export function bridge(n: number, rng: Rng): { bridge: number; halves: number[][]; links: Link[] } {
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const half = Math.floor((n - 1) / 2);
  const left = order.slice(0, half).sort((a, b) => a - b);
  const right = order.slice(half + 1).sort((a, b) => a - b);
  const links: Link[] = [];
  for (const a of left) for (const b of right) links.push(link(a, b));
  links.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return { bridge: order[half] as number, halves: [left, right], links };
}

/** The groups of members that can reach each other through uncut links (connected components). */
export function components(links: readonly Link[], n: number): number[][] {
  const cut = new Set(links.map(([a, b]) => `${a}-${b}`));
  const seen = new Set<number>();
  const out: number[][] = [];
  for (let start = 0; start < n; start++) {
    if (seen.has(start)) continue;
    const group: number[] = [];
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const a = stack.pop() as number;
      group.push(a);
      for (let b = 0; b < n; b++)
        if (!seen.has(b) && !cut.has(`${Math.min(a, b)}-${Math.max(a, b)}`)) {
          seen.add(b);
          stack.push(b);
        }
    }
    out.push(group.sort((x, y) => x - y));
  }
  return out;
}
