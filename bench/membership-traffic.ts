/**
 * Steady-state traffic per member per second (SWIM's constant per-member load, §3), LAN profile,
 * real sockets, N = 10, 50, 100: after convergence and a settle, UDP packets/bytes and TCP
 * frames/bytes sent per member are counted over a window (payload bytes, as memberlist's
 * harness counts them). The window defaults to one scaled push-pull interval for that N
 * (`pushPullIntervalScaledMs`: 30/60/90 s), so each member's periodic push-pull falls in it once
 * and TCP B/s is measured, not derived: with digest-first push-pull (membership.md) a round
 * between members that agree is two ~60-byte frames, and only rounds whose digests differ send
 * full views. The periodic exchange column is window frame bytes ÷ periodic rounds started.
 * For reference, one full exchange (a `join()` between two members, always full) is measured too.
 * Total = UDP B/s + TCP B/s measured.
 *
 * `npx tsx bench/membership-traffic.ts [--n 10,50,100] [--window-s <default: scaled interval>] [--settle-s 5]`
 */
import { PROFILES } from '../src/membership/config.js';
import { pushPullIntervalScaledMs } from '../src/membership/scaling.js';
import type { ShoalNode } from '../src/node/node.js';
import { Cluster, falsePositives, sumTraffic, trafficRate, waitConverged } from './lib-cluster.js';
import {
  machineNote,
  MEMBERLIST_LAN,
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  fmtRatio,
  isMain,
  median,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';

const CONVERGE_TIMEOUT_MS = 60_000;
const PUSH_PULL_SAMPLES = 3;

/** Frame bytes both sides send during one explicit push-pull (`a.join([b])`), median of a few. */
async function pushPullExchangeBytes(a: ShoalNode, b: ShoalNode): Promise<number | undefined> {
  const samples: number[] = [];
  for (let i = 0; i < PUSH_PULL_SAMPLES; i++) {
    const before = sumTraffic([a, b]).frameBytesSent;
    await a.join([b.address]);
    await sleep(200); // the reply is sent before join resolves; the pause covers a late frame count
    samples.push(sumTraffic([a, b]).frameBytesSent - before);
  }
  return median(samples);
}

/** Sum of one protocol counter over `nodes`. */
function counter(nodes: readonly ShoalNode[], name: string): number {
  return nodes.reduce((sum, node) => sum + (node.stats().protocol[name] ?? 0), 0);
}

const PERIODIC_COUNTERS = ['pushPullDigestsSent', 'pushPullsInSync', 'pushPullsSent'] as const;

function periodicCounters(nodes: readonly ShoalNode[]): number[] {
  return PERIODIC_COUNTERS.map((name) => counter(nodes, name));
}

async function measure(
  n: number,
  windowFlagSec: number | undefined,
  settleSec: number,
): Promise<string[]> {
  const cluster = new Cluster();
  try {
    const seed = await cluster.add({ name: 'n0', seeds: [] });
    for (let i = 1; i < n; i++) await cluster.add({ name: `n${i}`, seeds: [seed.address] });
    if (!(await waitConverged(cluster.nodes, n, CONVERGE_TIMEOUT_MS)))
      return [String(n), 'did not converge'];
    await sleep(settleSec * 1000);
    const intervalSec = pushPullIntervalScaledMs(PROFILES.LAN.pushPullIntervalMs, n) / 1000;
    const windowSec = windowFlagSec ?? intervalSec;
    const before = sumTraffic(cluster.nodes);
    const countersBefore = periodicCounters(cluster.nodes);
    const startMs = performance.now();
    await sleep(windowSec * 1000);
    const seconds = (performance.now() - startMs) / 1000;
    const after = sumTraffic(cluster.nodes);
    const [digestsSent, inSyncCounted, full] = periodicCounters(cluster.nodes).map(
      (v, i) => v - (countersBefore[i] ?? 0),
    ) as [number, number, number];
    // An in-sync round is counted by both sides and sends two digests (request, answer); a round
    // whose digests differ sends one digest, then full views.
    const inSync = inSyncCounted / 2;
    const rounds = digestsSent - inSync;
    const rate = trafficRate(before, after, n, seconds);
    const fp = falsePositives(
      cluster.events,
      new Set(cluster.nodes.map((node) => node.id)),
      startMs,
    );
    const [a, b] = [cluster.nodes[1], cluster.nodes[2]] as [ShoalNode, ShoalNode];
    const fullExchange = await pushPullExchangeBytes(a, b);
    const periodicExchange =
      rounds > 0 ? (after.frameBytesSent - before.frameBytesSent) / rounds : undefined;
    const total = rate.packetBytesSent + rate.frameBytesSent;
    const mlTotal = MEMBERLIST_LAN.totalBytesPerSec[n];
    return [
      String(n),
      fmt(seconds, 1),
      fmt(rate.packetsSent, 2),
      fmt(rate.packetBytesSent),
      fmt(rate.packetsSent > 0 ? rate.packetBytesSent / rate.packetsSent : undefined, 1),
      fmt(rate.framesSent, 3),
      fmt(rate.frameBytesSent, 1),
      fmt(intervalSec),
      `${fmt(rounds)} / ${fmt(inSync)} / ${full}`,
      fmt(periodicExchange),
      fmt(fullExchange),
      fmt(total),
      `${fmt(MEMBERLIST_LAN.udpPacketsPerSec, 1)} pkts / ${fmt(mlTotal)} B`,
      fmtRatio(rate.packetsSent, MEMBERLIST_LAN.udpPacketsPerSec),
      fmtRatio(total, mlTotal),
      `${fp.suspect} / ${fp.dead}`,
    ];
  } finally {
    await cluster.close();
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'window-s', 'settle-s']);
  const ns = flagNumbers(flags, 'n', [10, 50, 100]);
  const windowFlagSec = flags.has('window-s') ? flagNumber(flags, 'window-s', 0) : undefined;
  const settleSec = flagNumber(flags, 'settle-s', 5);
  const rows: string[][] = [];
  for (const n of ns) rows.push(await measure(n, windowFlagSec, settleSec));
  return [
    `Steady-state traffic sent per member per second, LAN profile, ${settleSec} s after convergence, one run per N, ` +
      `window = ${windowFlagSec === undefined ? 'one scaled push-pull interval' : `${windowFlagSec} s`}. TCP B/s is measured over the window; ` +
      'periodic rounds = rounds started / of them in sync / full push-pulls started; periodic exchange B = window frame bytes (both directions) ÷ rounds; ' +
      `full exchange B = one measured join exchange (both directions); total = UDP B/s + TCP B/s measured. ${machineNote()}`,
    '',
    table(
      [
        'N',
        'window s',
        'UDP pkts/s',
        'UDP B/s',
        'avg pkt B',
        'TCP frames/s',
        'TCP B/s measured',
        'push-pull every s',
        'periodic rounds / in sync / full',
        'periodic exchange B',
        'full exchange B',
        'total B/s',
        'memberlist (B.3)',
        'ratio pkts',
        'ratio total B',
        'false suspect / dead',
      ],
      rows,
    ),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
