/**
 * Crash detection (SWIM §3 + Lifeguard §IV-B suspicion), LAN profile, real UDP/TCP on 127.0.0.1:
 * N-1 nodes in this process plus one victim in a child process that is SIGKILLed (a true
 * `kill -9`; `--victim close` instead closes an in-process node without leaving). Measures the
 * time from the kill to the `dead` event at the first, median and last survivor, the survivors'
 * traffic during detection (packets and payload bytes sent, from node.stats().transport) and any
 * false suspect/dead about a live node. Compared with memberlist's B.2 LAN figures.
 *
 * `npx tsx bench/membership-detect.ts [--n 10,50] [--runs 1] [--victim kill|close] [--memberlist]`
 */
import type { ShoalNode } from '../src/node/node.js';
import { spawnChildNode, type ChildNode } from './lib-child-node.js';
import {
  Cluster,
  falsePositives,
  sumTraffic,
  trafficRate,
  waitConverged,
  waitUntil,
} from './lib-cluster.js';
import { memberlistAvailable, runMemberlist } from './lib-memberlist.js';
import {
  machineNote,
  MEMBERLIST_LAN,
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  fmtRange,
  fmtRatio,
  isMain,
  median,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';

const CONVERGE_TIMEOUT_MS = 60_000;
const DETECT_TIMEOUT_MS = 90_000;
/** After convergence: lets the join gossip drain so the traffic window sees detection only. */
const SETTLE_MS = 3000;

interface DetectRun {
  n: number;
  firstMs: number | undefined;
  medianMs: number | undefined;
  lastMs: number | undefined;
  detected: number;
  survivors: number;
  pktsPerNodeSec: number;
  bytesPerNodeSec: number;
  framesPerNodeSec: number;
  falseSuspect: number;
  falseDead: number;
  memberlist?: { firstMs: number; medianMs: number; allMs: number } | undefined;
}

interface Victim {
  id: string;
  /** Crashes the victim (SIGKILL, or close without leave). */
  kill(): Promise<void>;
  /** Releases what the victim holds (child process, data dir) after the run. */
  cleanup(): Promise<void>;
}

async function makeVictim(kind: string, cluster: Cluster, seed: string): Promise<Victim> {
  if (kind === 'close') {
    const node = await cluster.add({ name: 'victim', seeds: [seed] });
    return { id: node.id, kill: () => node.close(), cleanup: () => Promise.resolve() };
  }
  const child: ChildNode = await spawnChildNode({ name: 'victim', seeds: [seed] });
  return { id: child.id, kill: () => child.kill(), cleanup: () => child.close() };
}

async function runOnce(n: number, victimKind: string): Promise<DetectRun> {
  const cluster = new Cluster();
  let victim: Victim | undefined;
  try {
    const seed = await cluster.add({ name: 'n0', seeds: [] });
    const survivorsCount = n - 1;
    // The victim joins at a random position among the non-seed nodes.
    const victimAt = 1 + Math.floor(Math.random() * (n - 1));
    for (let i = 1; i < n; i++) {
      if (i === victimAt) victim = await makeVictim(victimKind, cluster, seed.address);
      else await cluster.add({ name: `n${i}`, seeds: [seed.address] });
    }
    if (victim === undefined) throw new Error('no victim was started');
    const victimId = victim.id;
    const survivors: ShoalNode[] = cluster.nodes.filter((node) => node.id !== victimId);
    if (!(await waitConverged(cluster.nodes, n, CONVERGE_TIMEOUT_MS)))
      throw new Error(`N=${n}: did not converge in ${CONVERGE_TIMEOUT_MS} ms`);
    await sleep(SETTLE_MS);

    const before = sumTraffic(survivors);
    const killedAtMs = performance.now();
    await victim.kill();
    const deadAt = new Map<number, number>();
    cluster.onEvent = (e) => {
      if (e.type === 'dead' && e.targetId === victimId && !deadAt.has(e.observer))
        deadAt.set(e.observer, e.atMs - killedAtMs);
    };
    await waitUntil(() => deadAt.size >= survivorsCount, DETECT_TIMEOUT_MS, 20);
    const elapsedSec = (performance.now() - killedAtMs) / 1000;
    const rate = trafficRate(before, sumTraffic(survivors), survivors.length, elapsedSec);
    const times = [...deadAt.values()].sort((a, b) => a - b);
    const fp = falsePositives(
      cluster.events,
      new Set(survivors.map((s) => s.id)),
      killedAtMs - SETTLE_MS,
    );
    return {
      n,
      firstMs: times[0],
      medianMs: median(times),
      lastMs: times.length === survivorsCount ? times[times.length - 1] : undefined,
      detected: times.length,
      survivors: survivorsCount,
      pktsPerNodeSec: rate.packetsSent,
      bytesPerNodeSec: rate.packetBytesSent + rate.frameBytesSent,
      framesPerNodeSec: rate.framesSent,
      falseSuspect: fp.suspect,
      falseDead: fp.dead,
    };
  } finally {
    await cluster.close();
    await victim?.cleanup();
  }
}

function row(n: number, runs: DetectRun[]): string[] {
  const pick = (f: (r: DetectRun) => number | undefined): number[] =>
    runs.map(f).filter((v): v is number => v !== undefined);
  const ml = runs.map((r) => r.memberlist).filter((m) => m !== undefined);
  const mlAll = ml.length > 0 ? median(ml.map((m) => m.allMs)) : MEMBERLIST_LAN.detectAllMs[n];
  const source = ml.length > 0 ? `${fmt(mlAll)} (this run)` : `${fmt(mlAll)} (RESULTS.md)`;
  return [
    String(n),
    String(runs.length),
    fmtRange(pick((r) => r.firstMs)),
    fmtRange(pick((r) => r.medianMs)),
    fmtRange(pick((r) => r.lastMs)),
    `${runs.reduce((s, r) => s + r.detected, 0)}/${runs.reduce((s, r) => s + r.survivors, 0)}`,
    source,
    fmtRatio(median(pick((r) => r.lastMs)), mlAll),
    fmtRange(
      pick((r) => r.pktsPerNodeSec),
      2,
    ),
    fmtRange(pick((r) => r.bytesPerNodeSec)),
    fmtRange(
      pick((r) => r.framesPerNodeSec),
      3,
    ),
    `${runs.reduce((s, r) => s + r.falseSuspect, 0)} / ${runs.reduce((s, r) => s + r.falseDead, 0)}`,
  ];
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'runs', 'victim', 'memberlist']);
  const ns = flagNumbers(flags, 'n', [10, 50]);
  const runs = flagNumber(flags, 'runs', 1);
  const victimKind = flags.get('victim') ?? 'kill';
  if (victimKind !== 'kill' && victimKind !== 'close')
    throw new Error(`--victim ${victimKind}: expected kill or close`);
  const withMemberlist = flags.has('memberlist') && memberlistAvailable();
  const rows: string[][] = [];
  for (const n of ns) {
    const results: DetectRun[] = [];
    for (let r = 0; r < runs; r++) {
      const result = await runOnce(n, victimKind);
      if (withMemberlist) {
        const ml = await runMemberlist([
          '-config',
          'lan',
          '-n',
          String(n),
          '-window',
          '0s',
          '-pushpull-samples',
          '0',
        ]);
        const fd = ml?.failure_detection as
          { first_ms?: number; median_ms?: number; all_ms?: number } | undefined;
        if (fd?.all_ms !== undefined)
          result.memberlist = {
            firstMs: fd.first_ms ?? 0,
            medianMs: fd.median_ms ?? 0,
            allMs: fd.all_ms,
          };
      }
      results.push(result);
    }
    rows.push(row(n, results));
  }
  return [
    `Crash detection, LAN profile, victim ${victimKind === 'kill' ? 'SIGKILLed child process' : 'closed in-process (no leave)'}; ms from kill to \`dead\`, median [min–max] over runs. ` +
      'Traffic = payload sent per survivor per second from the kill until the last survivor saw `dead` (UDP packets, UDP+TCP bytes, TCP frames). ' +
      `Measured at ${new Date().toISOString()}. ${machineNote()}`,
    '',
    table(
      [
        'N',
        'runs',
        'first ms',
        'median ms',
        'last ms',
        'detected',
        'memberlist last ms',
        'ratio (last)',
        'pkts/s/node',
        'B/s/node',
        'TCP frames/s/node',
        'false suspect / dead',
      ],
      rows,
    ),
    '',
    `memberlist reference (LAN, same machine): ${MEMBERLIST_LAN.udpPacketsPerSec} UDP pkts/s and ≈${MEMBERLIST_LAN.totalBytesPerSec[10] ?? 0} B/s per node in steady state (RESULTS.md B.3).`,
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
