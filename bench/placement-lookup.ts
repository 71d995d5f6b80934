/**
 * Placement lookups per second (issue 16): owners of a key for 3 replicas by ring (128 virtual
 * nodes a member), rendezvous and jump, at 10, 100 and 1,000 members; and the pinned XXH64 on a
 * short key, pure TS (src/placement/xxh64.ts) beside xxhash-wasm, the reference package.
 *
 * `npx tsx bench/placement-lookup.ts` prints a markdown table; `run()` returns it for bench/run.ts.
 * Also exports `opsPerSec`, the timing loop the data-plane benches share.
 */
import xxhash from 'xxhash-wasm';
import type { NodeId } from '../src/identity/node-id.js';
import { placementConfig, type PlacementStrategy } from '../src/placement/config.js';
import { PlacementTable } from '../src/placement/table.js';
import { xxh64StringInto } from '../src/placement/xxh64.js';
import { fmt, isMain, machineNote, table } from './lib-report.js';

const RUNS = 5;
const RUN_TARGET_MS = 100;

/** Median calls per second of `fn` over RUNS runs of about RUN_TARGET_MS each, after a warm-up. */
export function opsPerSec(fn: (i: number) => unknown): number {
  let calls = 0;
  const warmStart = performance.now();
  while (performance.now() - warmStart < 40) {
    for (let i = 0; i < 50; i++) fn(calls + i);
    calls += 50;
  }
  const perRun = Math.max(1, Math.round((calls * RUN_TARGET_MS) / (performance.now() - warmStart)));
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    for (let i = 0; i < perRun; i++) fn(i);
    rates.push(perRun / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(RUNS / 2)] as number;
}

export function benchIds(n: number, salt = 0): NodeId[] {
  return Array.from({ length: n }, (_, i) => {
    let h = (i + 1) * 0x9e3779b1 + salt * 0x85ebca6b;
    let hex = '';
    for (let k = 0; k < 4; k++) {
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
      hex += h.toString(16).padStart(8, '0');
    }
    return hex as NodeId;
  });
}

const KEYS = Array.from({ length: 4096 }, (_, i) => `user:${i * 7919}`);

export async function run(): Promise<string> {
  const rows: string[][] = [];
  for (const n of [10, 100, 1000]) {
    const t = new PlacementTable(placementConfig());
    t.setMembers(benchIds(n));
    const build = performance.now();
    t.owners('warm', { strategy: 'ring' });
    const buildMs = performance.now() - build;
    // A view change: the points of the members that stay are cached, the ring is rebuilt.
    t.setMembers(benchIds(n).slice(1));
    const rebuild = performance.now();
    t.owners('warm', { strategy: 'ring' });
    const rebuildMs = performance.now() - rebuild;
    t.setMembers(benchIds(n));
    for (const strategy of ['ring', 'rendezvous', 'jump'] as PlacementStrategy[]) {
      const rate = opsPerSec((i) => t.owners(KEYS[i & 4095] as string, { replicas: 3, strategy }));
      rows.push([
        String(n),
        strategy,
        fmt(rate / 1e6, 2),
        strategy === 'ring' ? fmt(buildMs, 1) : '—',
        strategy === 'ring' ? fmt(rebuildMs, 1) : '—',
      ]);
    }
  }
  const wasm = await xxhash();
  const key = 'user:123456';
  const pure = opsPerSec((i) => xxh64StringInto(KEYS[i & 4095] as string));
  const reference = opsPerSec((i) => wasm.h64(KEYS[i & 4095] as string));
  const long = 'k'.repeat(1024);
  const pureLong = opsPerSec(() => xxh64StringInto(long));
  const referenceLong = opsPerSec(() => wasm.h64(long));
  return [
    table(
      [
        'members',
        'strategy',
        'lookups/s (millions), 3 replicas',
        'ring build (hashing every point), ms',
        'ring rebuild after one leaves, ms',
      ],
      rows,
    ),
    '',
    table(
      ['XXH64 of', 'pure TS (ours), M hashes/s', 'xxhash-wasm h64, M hashes/s'],
      [
        [`a ${key.length}-byte key`, fmt(pure / 1e6, 2), fmt(reference / 1e6, 2)],
        ['1 KiB', fmt(pureLong / 1e6, 2), fmt(referenceLong / 1e6, 2)],
      ],
    ),
    '',
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(await run());
