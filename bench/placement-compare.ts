/**
 * Placement at 1,000 members beside `hashring` (issue 16, "Benchmarks"): the most used
 * consistent-hashing package on npm (hashring 3.2.0, about 900 k downloads a month against
 * consistent-hash's 54 k and hash-ring's less; the ketama ring of memcached clients, MD5 points,
 * an LRU cache of looked-up keys). Both rings get the same members and the same number of points
 * per member (Shoal `vnodesPerMember` 100; hashring 25 vnodes × 4 ketama points), in one run:
 *
 * - lookup: µs per key for the owner of one key and for 3 distinct owners (Shoal `owners(key,
 *   { replicas })`, hashring `get(key)` / `range(key, 3)`), median of 5 timed runs over keys that
 *   are all distinct (`--keys`, default 1,000,000: more than hashring's 5,000-entry cache holds,
 *   so its cache misses as a real key space makes it; a row with hashring's cache hitting is
 *   shown apart);
 * - balance: the largest member's share of the keys over the mean (primary owner), and the
 *   99th-percentile member's;
 * - movement: the fraction of keys whose primary owner changes when one member joins, against the
 *   ideal 1/(N+1); the goal is within 10% of it.
 *
 * Shoal's rendezvous and jump strategies are in placement-lookup.ts and placement-movement.ts.
 *
 * `npx tsx bench/placement-compare.ts [--members 1000] [--vnodes 100] [--keys 1000000]`
 */
import HashRing from 'hashring';
import type { NodeId } from '../src/identity/node-id.js';
import { placementConfig } from '../src/placement/config.js';
import { PlacementTable } from '../src/placement/table.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  parseFlags,
  median,
  percentile,
  table,
} from './lib-report.js';
import { benchIds } from './placement-lookup.js';

const RUNS = 5;
const RUN_TARGET_MS = 200;

/**
 * Median µs per call of `fn` over RUNS runs after a warm-up, by the wall clock and by this
 * process's CPU time (user + system): on a machine shared with other work the CPU figure is the
 * code's own cost, the wall figure what a caller waited.
 */
export function usPerCall(fn: (i: number) => unknown): { wallUs: number; cpuUs: number } {
  let calls = 0;
  const warmStart = performance.now();
  while (performance.now() - warmStart < 300) {
    for (let i = 0; i < 100; i++) fn(calls + i);
    calls += 100;
  }
  const perRun = Math.max(1, Math.round((calls * RUN_TARGET_MS) / (performance.now() - warmStart)));
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < perRun; i++) fn(run * perRun + i);
    wall.push(((performance.now() - start) * 1000) / perRun);
    const used = process.cpuUsage(cpu0);
    cpu.push((used.user + used.system) / perRun);
  }
  return { wallUs: median(wall) as number, cpuUs: median(cpu) as number };
}

/** hashring's ketama mode places 4 points per vnode (one per 4-byte slice of an MD5 digest). */
const KETAMA_POINTS_PER_VNODE = 4;

/** What one implementation answers: the primary owner and the first `n` distinct owners. */
interface Placer {
  name: string;
  one(key: string): string | undefined;
  many(key: string, n: number): readonly string[];
  /** The same placer with one more member (built from scratch, as each library builds it). */
  withMember(id: string): Placer;
}

function shoalPlacer(ids: readonly NodeId[], vnodes: number): Placer {
  const t = new PlacementTable(placementConfig({ vnodesPerMember: vnodes }));
  t.setMembers(ids);
  return {
    name: `Shoal ring (XXH64, ${vnodes} points a member)`,
    one: (key) => t.owners(key, { strategy: 'ring' })[0],
    many: (key, n) => t.owners(key, { replicas: n, strategy: 'ring' }),
    withMember: (id) => shoalPlacer([...ids, id as NodeId], vnodes),
  };
}

function hashringPlacer(ids: readonly string[], vnodes: number, cacheSize: number): Placer {
  const ring = new HashRing([...ids], 'md5', {
    'vnode count': Math.max(1, Math.round(vnodes / KETAMA_POINTS_PER_VNODE)),
    'max cache size': cacheSize,
  });
  return {
    name: `hashring 3.2.0 (ketama MD5, ${vnodes} points a member)`,
    one: (key) => ring.get(key),
    many: (key, n) => ring.range(key, n),
    withMember: (id) => hashringPlacer([...ids, id], vnodes, cacheSize),
  };
}

interface Row {
  name: string;
  one: { wallUs: number; cpuUs: number };
  three: { wallUs: number; cpuUs: number };
  maxOverMean: number;
  p99OverMean: number;
  movedPercent: number;
  idealPercent: number;
}

type Timing = { wallUs: number; cpuUs: number };
const medianTiming = (ts: readonly Timing[]): Timing => ({
  wallUs: median(ts.map((t) => t.wallUs)) as number,
  cpuUs: median(ts.map((t) => t.cpuUs)) as number,
});

/** Lookup timings of each placer, measured in alternating rounds (ABAB…) under the same load. */
function lookupTimings(
  placers: readonly Placer[],
  keys: readonly string[],
  rounds: number,
): { one: Timing; three: Timing }[] {
  const n = keys.length;
  const one: Timing[][] = placers.map(() => []);
  const three: Timing[][] = placers.map(() => []);
  for (let round = 0; round < rounds; round++)
    placers.forEach((p, j) => {
      one[j]?.push(usPerCall((i) => p.one(keys[i % n] as string)));
      three[j]?.push(usPerCall((i) => p.many(keys[i % n] as string, 3)));
    });
  return placers.map((_, j) => ({
    one: medianTiming(one[j] ?? []),
    three: medianTiming(three[j] ?? []),
  }));
}

function measure(
  placer: Placer,
  timing: { one: Timing; three: Timing },
  keys: readonly string[],
  members: number,
  joiner: string,
): Row {
  const { one, three } = timing;
  const before = keys.map((k) => placer.one(k));
  const counts = new Map<string, number>();
  for (const owner of before)
    if (owner !== undefined) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  const mean = keys.length / members;
  const loads = [...counts.values()];
  while (loads.length < members) loads.push(0);
  const grown = placer.withMember(joiner);
  let moved = 0;
  keys.forEach((k, i) => {
    if (grown.one(k) !== before[i]) moved++;
  });
  return {
    name: placer.name,
    one,
    three,
    maxOverMean: Math.max(...loads) / mean,
    p99OverMean: (percentile(loads, 99) as number) / mean,
    movedPercent: (100 * moved) / keys.length,
    idealPercent: 100 / (members + 1),
  };
}

export function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['members', 'vnodes', 'keys']);
  const members = flagNumber(flags, 'members', 1000);
  const vnodes = flagNumber(flags, 'vnodes', 100);
  const keyCount = flagNumber(flags, 'keys', 1_000_000);
  const ids = benchIds(members);
  const joiner = benchIds(1, 99)[0] as NodeId;
  const keys = Array.from({ length: keyCount }, (_, i) => `obj/${i}`);
  const placers = [shoalPlacer(ids, vnodes), hashringPlacer(ids, vnodes, 5000)];
  const timings = lookupTimings(placers, keys, 3);
  const rows = placers.map((p, j) =>
    measure(p, timings[j] as { one: Timing; three: Timing }, keys, members, joiner),
  );
  // hashring with its cache hitting: the same 4,096 keys looked up again and again.
  const hot = hashringPlacer(ids, vnodes, 5000);
  const hotKeys = keys.slice(0, 4096);
  const hotUs = usPerCall((i) => hot.one(hotKeys[i & 4095] as string)).cpuUs;
  const shoal = rows[0] as Row;
  const ratio = (ours: number, theirs: number): string => `${(ours / theirs).toFixed(2)}×`;
  const within = (r: Row): string =>
    `${fmt(r.movedPercent, 3)}% (ideal ${fmt(r.idealPercent, 3)}%, ${fmt(100 * (r.movedPercent / r.idealPercent - 1), 1)}% off)`;
  return Promise.resolve(
    [
      `### Placement, ${members} members × ${vnodes} points, ${keyCount} distinct keys`,
      '',
      table(
        [
          'implementation',
          'owner of one key, µs CPU / wall (median of 3 alternating rounds × 5 runs)',
          '3 owners, µs CPU / wall',
          'largest share ÷ mean',
          'p99 member ÷ mean',
          'keys moved when one joins',
        ],
        rows.map((r) => [
          r.name,
          `${fmt(r.one.cpuUs, 3)} / ${fmt(r.one.wallUs, 3)}`,
          `${fmt(r.three.cpuUs, 3)} / ${fmt(r.three.wallUs, 3)}`,
          fmt(r.maxOverMean, 2),
          fmt(r.p99OverMean, 2),
          within(r),
        ]),
      ),
      '',
      `Shoal ÷ hashring: CPU per lookup ${ratio(shoal.one.cpuUs, (rows[1] as Row).one.cpuUs)} (one owner), ${ratio(shoal.three.cpuUs, (rows[1] as Row).three.cpuUs)} (3 owners). hashring with its LRU cache hitting (the same 4,096 keys again and again): ${fmt(hotUs, 3)} µs CPU a key.`,
      machineNote(),
    ].join('\n'),
  );
}

if (isMain(import.meta.url)) console.log(await run(process.argv.slice(2)));
