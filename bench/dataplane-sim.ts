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
 * Memory: each registry core's partitions, view and live set are OverlayMaps over bases every
 * simulated member shares (every owner's first version, the view all were given): a replica
 * pays only for what differs, ~13 KB per member whatever N (it was 98 KB at 1,000 and 177 KB at
 * 2,000 with a Map of every member in each: N², ~15 GB at 10,000); docs/design/data-plane.md,
 * "Compact replica state". Membership at 10,000 holds ~6 GB (bench/sim-scale.ts). Run with a
 * large heap, and `--expose-gc` for the heap columns (live data after a full GC, per member):
 *
 *   node --expose-gc --max-old-space-size=19000 --max-semi-space-size=64 --import tsx \
 *     bench/dataplane-sim.ts [--n 1000,2000,10000] [--membership-n 1000,2000,10000]
 *     [--writes 5] [--joins 3]
 *
 * CPU and wall seconds of each phase are reported beside the load average: they depend on the
 * machine's load; the virtual times do not.
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
  /** The JS heap the cluster added, after a full GC right after setup (0 without --expose-gc). */
  heapMb: number;
  /** The same after the trials, the cluster still held (its overlays hold the writes). */
  heapEndMb: number;
  /** CPU seconds (user + system) of the setup and of the trials. */
  setupCpuS: number;
  cpuS: number;
  load: string;
  writeMs: number[];
  medianNodeMs: number[];
  wallS: number;
  rssMb: number;
}

function loadNow(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

function cpuS(since?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

/**
 * The JS heap after a full GC, MB (0 when the process runs without --expose-gc). Array buffers
 * are left out: the registry keeps none, and those of a cluster measured before (membership's
 * typed columns) are released lazily, after the GC that found them dead.
 */
function liveMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return 0;
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
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
  const trialsCpuS = cpuS(cpu1);
  const wallS = (performance.now() - run0) / 1000;
  const heapEndMb = liveMb() - heap0;
  return {
    n,
    setupS,
    heapMb,
    heapEndMb,
    setupCpuS,
    cpuS: trialsCpuS,
    load: loadNow(),
    writeMs,
    medianNodeMs,
    wallS,
    rssMb: process.memoryUsage().rss / 2 ** 20,
  };
}

interface MembershipResult {
  n: number;
  setupS: number;
  setupCpuS: number;
  joinMs: number[];
  wallS: number;
  cpuS: number;
  load: string;
}

function measureMembership(n: number, joins: number): MembershipResult {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const cluster = simMembershipCluster(n);
  const setupS = (performance.now() - t0) / 1000;
  const setupCpuS = cpuS(cpu0);
  const cpu1 = process.cpuUsage();
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
  return {
    n,
    setupS,
    setupCpuS,
    joinMs,
    wallS: (performance.now() - run0) / 1000,
    cpuS: cpuS(cpu1),
    load: loadNow(),
  };
}

/** KB per member of a cluster's heap, or — without --expose-gc. */
function perMember(mb: number, n: number): string {
  return mb === 0 ? '—' : fmt((mb * 1024) / n, 1);
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
        `registry N=${n}: ${fmtRange(r.writeMs)} ms (median member ${fmtRange(r.medianNodeMs)}), setup ${fmt(r.setupS, 1)} s (CPU ${fmt(r.setupCpuS, 1)}), trials ${fmt(r.wallS, 1)} s (CPU ${fmt(r.cpuS, 1)}), heap per member ${perMember(r.heapMb, n)} / ${perMember(r.heapEndMb, n)} KB, RSS ${fmt(r.rssMb)} MB, load ${r.load}\n`,
      );
    }
    if (membershipSizes.includes(n)) {
      const m = measureMembership(n, joins);
      membership.set(n, m);
      process.stderr.write(
        `membership N=${n}: ${fmtRange(m.joinMs)} ms, setup ${fmt(m.setupS, 1)} s (CPU ${fmt(m.setupCpuS, 1)}), trials ${fmt(m.wallS, 1)} s (CPU ${fmt(m.cpuS, 1)}), load ${m.load}\n`,
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
          ];
        }),
      ),
      '',
      '### Cost of the run (CPU s of this process, wall s, load average at the end of each phase)',
      '',
      table(
        [
          'N',
          'registry setup, CPU / wall s',
          'registry trials, CPU / wall s',
          'registry heap per member after setup / after the trials, KB',
          'registry RSS at the end, MB',
          'load (registry)',
          'membership setup, CPU / wall s',
          'membership trials, CPU / wall s',
          'load (membership)',
        ],
        all.map((n) => {
          const r = registry.get(n);
          const m = membership.get(n);
          return [
            String(n),
            `${fmt(r?.setupCpuS, 1)} / ${fmt(r?.setupS, 1)}`,
            `${fmt(r?.cpuS, 1)} / ${fmt(r?.wallS, 1)}`,
            r === undefined ? '—' : `${perMember(r.heapMb, n)} / ${perMember(r.heapEndMb, n)}`,
            fmt(r?.rssMb),
            r?.load ?? '—',
            `${fmt(m?.setupCpuS, 1)} / ${fmt(m?.setupS, 1)}`,
            `${fmt(m?.cpuS, 1)} / ${fmt(m?.wallS, 1)}`,
            m?.load ?? '—',
          ];
        }),
      ),
      '',
      machineNote(),
    ].join('\n'),
  );
}

if (isMain(import.meta.url)) console.log(await run(process.argv.slice(2)));
