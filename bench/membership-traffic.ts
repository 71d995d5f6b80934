/**
 * Steady-state traffic per member per second (SWIM's constant per-member load, §3), LAN profile,
 * real sockets, N = 10, 50, 100: after convergence and a settle, UDP packets/bytes and TCP
 * frames/bytes sent per member are counted over a window (payload bytes, as memberlist's
 * harness counts them). Like RESULTS.md B.3a, the periodic push-pull (which first fires up to a
 * scaled interval after start) is also derived: one exchange is measured directly (a `join()`
 * between two members runs exactly one push-pull) and divided by `pushPullIntervalScaledMs`.
 * Total = UDP measured + TCP derived. `--window-s` lengthens the window (e.g. to one full scaled
 * interval, 30/60/90 s) to see periodic push-pull in the measured TCP column too.
 *
 * `npx tsx bench/membership-traffic.ts [--n 10,50,100] [--window-s 10] [--settle-s 5]`
 */
import { PROFILES } from '../src/membership/config.js';
import { pushPullIntervalScaledMs } from '../src/membership/scaling.js';
import type { ShoalNode } from '../src/node/node.js';
import { Cluster, falsePositives, sumTraffic, trafficRate, waitConverged } from './lib-cluster.js';
import {
  LOADED_MACHINE_NOTE, MEMBERLIST_LAN, checkFlags, flagNumber, flagNumbers, fmt, fmtRatio, isMain, median, parseFlags, sleep, table,
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

async function measure(n: number, windowSec: number, settleSec: number): Promise<string[]> {
  const cluster = new Cluster();
  try {
    const seed = await cluster.add({ name: 'n0', seeds: [] });
    for (let i = 1; i < n; i++) await cluster.add({ name: `n${i}`, seeds: [seed.address] });
    if (!(await waitConverged(cluster.nodes, n, CONVERGE_TIMEOUT_MS))) return [String(n), 'did not converge'];
    await sleep(settleSec * 1000);
    const before = sumTraffic(cluster.nodes);
    const startMs = performance.now();
    await sleep(windowSec * 1000);
    const seconds = (performance.now() - startMs) / 1000;
    const rate = trafficRate(before, sumTraffic(cluster.nodes), n, seconds);
    const fp = falsePositives(cluster.events, new Set(cluster.nodes.map((node) => node.id)), startMs);
    const [a, b] = [cluster.nodes[1], cluster.nodes[2]] as [ShoalNode, ShoalNode];
    const exchange = await pushPullExchangeBytes(a, b);
    const intervalSec = pushPullIntervalScaledMs(PROFILES.LAN.pushPullIntervalMs, n) / 1000;
    const tcpDerived = exchange === undefined ? undefined : exchange / intervalSec;
    const total = rate.packetBytesSent + (tcpDerived ?? 0);
    const mlTotal = MEMBERLIST_LAN.totalBytesPerSec[n];
    return [
      String(n), fmt(seconds, 1), fmt(rate.packetsSent, 2), fmt(rate.packetBytesSent), fmt(rate.packetsSent > 0 ? rate.packetBytesSent / rate.packetsSent : undefined, 1),
      fmt(rate.framesSent, 3), fmt(rate.frameBytesSent, 1), fmt(exchange), fmt(intervalSec), fmt(tcpDerived, 1), fmt(total),
      `${fmt(MEMBERLIST_LAN.udpPacketsPerSec, 1)} pkts / ${fmt(mlTotal)} B`, fmtRatio(rate.packetsSent, MEMBERLIST_LAN.udpPacketsPerSec), fmtRatio(total, mlTotal),
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
  const windowSec = flagNumber(flags, 'window-s', 10);
  const settleSec = flagNumber(flags, 'settle-s', 5);
  const rows: string[][] = [];
  for (const n of ns) rows.push(await measure(n, windowSec, settleSec));
  return [
    `Steady-state traffic sent per member per second, LAN profile, ${settleSec} s after convergence, one run per N. ` +
      `TCP derived = one measured push-pull exchange (both directions) ÷ the scaled push-pull interval; total = UDP B/s + TCP derived. ${LOADED_MACHINE_NOTE}`,
    '',
    table(
      ['N', 'window s', 'UDP pkts/s', 'UDP B/s', 'avg pkt B', 'TCP frames/s', 'TCP B/s measured', 'push-pull exchange B', 'push-pull every s', 'TCP B/s derived', 'total B/s', 'memberlist (B.3)', 'ratio pkts', 'ratio total B', 'false suspect / dead'],
      rows,
    ),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
