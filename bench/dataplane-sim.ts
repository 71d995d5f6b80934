/**
 * Data-plane convergence in the simulator at sizes real sockets cannot reach here (issue 16,
 * "Benchmarks"): virtual ms from `services.advertise` on one node until every other member's
 * registry holds the instance (the `changed` effect `services.resolve` and `watch` draw from),
 * beside membership's dissemination in a cluster of the same N: virtual ms from a newcomer's
 * start (joining through node 0) until every member sees it alive. Both over the same SimNetwork
 * (1 ms links, no loss), LAN profiles, signatures checked, each cluster started converged
 * (lib-sim-dataplane.ts), medians of `--writes` and `--joins` trials one at a time.
 *
 * The two cores run in separate clusters (the registry with a fixed all-alive view, membership
 * alone): the comparison is of dissemination, each protocol on its own.
 *
 * Memory: every registry core keeps three maps over the members (partitions, view, live set),
 * N² entries per cluster; 2,000 members take a few GB. Membership at 10,000 needs the heap of
 * bench/sim-scale.ts:
 *
 *   node --max-old-space-size=19000 --import tsx bench/dataplane-sim.ts [--n 1000,2000]
 *     [--membership-n 1000,2000,10000] [--writes 5] [--joins 3]
 */
import os from 'node:os';
import { ServicesApi } from '../src/crdt/registry/api.js';
import {
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  fmtRange,
  fmtRatio,
  isMain,
  machineNote,
  median,
  parseFlags,
  table,
} from './lib-report.js';
import { runUntil, simMembershipCluster, simRegistryCluster } from './lib-sim-dataplane.js';

const LIMIT_MS = 120_000;
const GAP_MS = 2_000;

interface RegistryResult {
  n: number;
  setupS: number;
  /** Heap plus array buffers after a full GC right after setup (0 without --expose-gc). */
  heapMb: number;
  /** CPU seconds (user + system) of the setup and of the trials. */
  setupCpuS: number;
  cpuS: number;
  writeMs: number[];
  medianNodeMs: number[];
  wallS: number;
  rssMb: number;
}

function cpuS(since?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

/** Heap plus array buffers after a full GC, MB (0 when the process runs without --expose-gc). */
function liveMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return 0;
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

function measureRegistry(n: number, writes: number): RegistryResult {
  const heap0 = liveMb();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const cluster = simRegistryCluster(n);
  const setupS = (performance.now() - t0) / 1000;
  const setupCpuS = cpuS(cpu0);
  const heapMb = liveMb() - heap0;
  const cpu1 = process.cpuUsage();
  const { clock, drivers } = cluster;
  clock.runUntil(clock.now() + GAP_MS, { eventsMax: Number.MAX_SAFE_INTEGER });
  const writeMs: number[] = [];
  const medianNodeMs: number[] = [];
  const run0 = performance.now();
  for (let w = 0; w < writes; w++) {
    const writer = (w * 7919) % n;
    const driver = drivers[writer];
    if (driver === undefined) continue;
    const name = `one-${w}`;
    const seen = new Set<number>();
    const at: number[] = [];
    const start = clock.now();
    cluster.onChange = (i, change) => {
      if (change.table !== 'service' || change.key !== name || change.after === undefined) return;
      if (i === writer || seen.has(i)) return;
      seen.add(i);
      at.push(clock.now() - start);
    };
    const api = new ServicesApi({
      get state() {
        return driver.state;
      },
      write: (op) => void driver.input({ kind: 'local', now: clock.now(), write: op }),
    });
    api.advertise({ name, address: `10.9.9.${w}:80` });
    const took = runUntil(clock, () => seen.size === n - 1, LIMIT_MS);
    cluster.onChange = undefined;
    if (took !== undefined) {
      writeMs.push(took);
      medianNodeMs.push(median(at) as number);
    }
    clock.runUntil(clock.now() + GAP_MS, { eventsMax: Number.MAX_SAFE_INTEGER });
  }
  return {
    n,
    setupS,
    heapMb,
    setupCpuS,
    cpuS: cpuS(cpu1),
    writeMs,
    medianNodeMs,
    wallS: (performance.now() - run0) / 1000,
    rssMb: process.memoryUsage().rss / 2 ** 20,
  };
}

interface MembershipResult {
  n: number;
  setupS: number;
  joinMs: number[];
  wallS: number;
}

function measureMembership(n: number, joins: number): MembershipResult {
  const t0 = performance.now();
  const cluster = simMembershipCluster(n);
  const setupS = (performance.now() - t0) / 1000;
  const { clock } = cluster;
  clock.runUntil(clock.now() + GAP_MS, { eventsMax: Number.MAX_SAFE_INTEGER });
  const joinMs: number[] = [];
  const run0 = performance.now();
  for (let k = 0; k < joins; k++) {
    const seen = new Set<number>();
    const members = n + k;
    const name = `n${members + 1}`;
    cluster.onEvent = (i, event) => {
      if (event.type !== 'joined' && event.type !== 'alive') return;
      if (event.member.name !== name || i >= members) return;
      seen.add(i);
    };
    cluster.join(k);
    const took = runUntil(clock, () => seen.size === members, LIMIT_MS);
    cluster.onEvent = undefined;
    if (took !== undefined) joinMs.push(took);
    clock.runUntil(clock.now() + GAP_MS, { eventsMax: Number.MAX_SAFE_INTEGER });
  }
  return { n, setupS, joinMs, wallS: (performance.now() - run0) / 1000 };
}

export function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'membership-n', 'writes', 'joins']);
  const sizes = flagNumbers(flags, 'n', [1000]);
  const membershipSizes = flagNumbers(flags, 'membership-n', sizes);
  const writes = flagNumber(flags, 'writes', 5);
  const joins = flagNumber(flags, 'joins', 3);
  const registry = new Map<number, RegistryResult>();
  const membership = new Map<number, MembershipResult>();
  const all = [...new Set([...sizes, ...membershipSizes])].sort((a, b) => a - b);
  // Smallest N first, each result on stderr as it comes: a large N may take long on a busy machine.
  for (const n of all) {
    if (sizes.includes(n)) {
      const r = measureRegistry(n, writes);
      registry.set(n, r);
      process.stderr.write(
        `registry N=${n}: ${fmtRange(r.writeMs)} ms (median member ${fmtRange(r.medianNodeMs)}), setup ${fmt(r.setupS, 1)} s (CPU ${fmt(r.setupCpuS, 1)} s), trials ${fmt(r.wallS, 1)} s (CPU ${fmt(r.cpuS, 1)} s), heap ${fmt(r.heapMb)} MB (${fmt((r.heapMb * 2 ** 20) / r.n)} B per node), RSS ${fmt(r.rssMb)} MB, load ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}\n`,
      );
    }
    if (membershipSizes.includes(n)) {
      const m = measureMembership(n, joins);
      membership.set(n, m);
      process.stderr.write(
        `membership N=${n}: ${fmtRange(m.joinMs)} ms, setup ${fmt(m.setupS, 1)} s, trials ${fmt(m.wallS, 1)} s\n`,
      );
    }
  }
  return Promise.resolve(
    [
      '### Data plane vs membership dissemination in the simulator (virtual ms, LAN profiles, 1 ms links)',
      '',
      table(
        [
          'N',
          'advertise → every member holds it, ms, median [min–max]',
          'median member, ms',
          'a join → every member sees it alive, ms, median [min–max]',
          'data plane ÷ membership (goal ≤ 2×)',
          'setup s (registry / membership)',
          'wall s of the trials (registry / membership)',
          'RSS after the registry trials, MB',
        ],
        all.map((n) => {
          const r = registry.get(n);
          const m = membership.get(n);
          return [
            String(n),
            r === undefined ? 'not run' : fmtRange(r.writeMs),
            r === undefined ? '—' : fmtRange(r.medianNodeMs),
            m === undefined ? 'not run' : fmtRange(m.joinMs),
            fmtRatio(
              r === undefined ? undefined : median(r.writeMs),
              m === undefined ? undefined : median(m.joinMs),
            ),
            `${fmt(r?.setupS, 1)} / ${fmt(m?.setupS, 1)}`,
            `${fmt(r?.wallS, 1)} / ${fmt(m?.wallS, 1)}`,
            fmt(r?.rssMb),
          ];
        }),
      ),
      '',
      machineNote(),
    ].join('\n'),
  );
}

if (isMain(import.meta.url)) console.log(await run(process.argv.slice(2)));
