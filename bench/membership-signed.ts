/**
 * Signed membership (issue 12) against the unsigned membership it replaced, in the same run: the
 * same script runs once on this tree and once on a copy of `--baseline-ref` (by default the
 * commit before issue 12), each as a child process, one after the other, and one table shows
 * both. Per N, real sockets, LAN profile, one process:
 *
 * - steady state: UDP and TCP payload bytes and packets per member per second over a window
 *   (the signature adds bytes only when a record changes: steady gossip carries none), CPU
 *   µs/s per member, and signatures checked per member per second (0 when nothing changes);
 * - crash detection: `--detect-runs` members (5) closed one after the other without leaving; ms
 *   until the first, median and last survivor holds each dead (the median over the runs), and
 *   from the first suspicion to the first dead (the protocol's part: when the first probe of the
 *   crashed member comes is chance);
 * - join storm (`--join N`): N nodes through one seed within 1 s; ms until every view is complete,
 *   CPU seconds of the storm, and signatures each node checked and made (what one node per
 *   process pays; in one process, successful verifications are shared by a cache).
 *
 * `npx tsx bench/membership-signed.ts [--n 10,50] [--window-s 20] [--detect-runs 5] [--join 100] [--baseline-ref REF|none]`
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ShoalNode } from '../src/node/node.js';
import {
  Cluster,
  aliveCount,
  sumTraffic,
  trafficRate,
  waitConverged,
  waitUntil,
} from './lib-cluster.js';
import {
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  isMain,
  machineNote,
  median,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';

/** The last commit before issue 12's signed records: what "unsigned" means here. */
export const UNSIGNED_BASELINE_REF = 'd88512d';
const CONVERGE_TIMEOUT_MS = 60_000;
const DETECT_TIMEOUT_MS = 60_000;
const CHILD_FLAG = '--child';

interface Measured {
  n: number;
  udpBytesPerS: number;
  tcpBytesPerS: number;
  packetsPerS: number;
  cpuUsPerS: number;
  checksPerS: number;
  detectFirstMs: number | undefined;
  detectMedianMs: number | undefined;
  detectLastMs: number | undefined;
  /** First dead minus first suspicion: the protocol's part, without the wait for the first probe. */
  suspectToDeadMs: number | undefined;
  detectRuns: number;
}

interface JoinMeasured {
  n: number;
  allCompleteMs: number | undefined;
  cpuS: number;
  checksPerNode: number;
  signedPerNode: number;
}

function counter(nodes: readonly ShoalNode[], name: string): number {
  return nodes.reduce((sum, node) => sum + (node.stats().protocol[name] ?? 0), 0);
}

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/**
 * Closes node `index` (without leaving) and returns, sorted, the ms until each running node held
 * it dead; throws when some did not within DETECT_TIMEOUT_MS.
 */
async function detectCrash(
  cluster: Cluster,
  index: number,
): Promise<{ dead: number[]; firstSuspectMs: number }> {
  const victim = cluster.nodes[index] as ShoalNode;
  const survivors = cluster.nodes.filter((node) => !node.isClosed && node !== victim);
  const deadAt = new Map<ShoalNode, number>();
  let firstSuspectAt = Number.POSITIVE_INFINITY;
  cluster.onEvent = (e) => {
    const observer = cluster.nodes[e.observer] as ShoalNode;
    if (e.targetId !== victim.id) return;
    if (e.type === 'suspect') firstSuspectAt = Math.min(firstSuspectAt, e.atMs);
    if (e.type === 'dead' && !deadAt.has(observer)) deadAt.set(observer, e.atMs);
  };
  const crashedAt = performance.now();
  await victim.close();
  const all = await waitUntil(
    () => survivors.every((node) => deadAt.has(node)),
    DETECT_TIMEOUT_MS,
    20,
  );
  if (!all) throw new Error(`${victim.name}'s crash not detected by every survivor in time`);
  return {
    dead: [...deadAt.values()].map((t) => t - crashedAt).sort((a, b) => a - b),
    firstSuspectMs: firstSuspectAt - crashedAt,
  };
}

async function steadyAndDetect(n: number, windowS: number, detectRuns: number): Promise<Measured> {
  const cluster = new Cluster();
  try {
    const seed = await cluster.add({ name: 'n0', seeds: [] });
    for (let i = 1; i < n; i++) await cluster.add({ name: `n${i}`, seeds: [seed.address] });
    if (!(await waitConverged(cluster.nodes, n, CONVERGE_TIMEOUT_MS)))
      throw new Error(`N=${n} did not converge`);
    await sleep(5000);
    const before = sumTraffic(cluster.nodes);
    const checksBefore = counter(cluster.nodes, 'signaturesChecked');
    const cpuBefore = cpuUs();
    const t0 = performance.now();
    await sleep(windowS * 1000);
    const seconds = (performance.now() - t0) / 1000;
    const rate = trafficRate(before, sumTraffic(cluster.nodes), n, seconds);
    const cpuUsPerS = (cpuUs() - cpuBefore) / n / seconds;
    const checksPerS = (counter(cluster.nodes, 'signaturesChecked') - checksBefore) / n / seconds;
    const runs: { dead: number[]; firstSuspectMs: number }[] = [];
    for (let run = 0; run < detectRuns; run++) {
      runs.push(await detectCrash(cluster, cluster.nodes.length - 1 - run));
      await sleep(2000);
    }
    const detections = runs.map((r) => r.dead);
    const firsts = detections.map((t) => t[0] as number);
    const lasts = detections.map((t) => t[t.length - 1] as number);
    return {
      n,
      udpBytesPerS: rate.packetBytesSent,
      tcpBytesPerS: rate.frameBytesSent,
      packetsPerS: rate.packetsSent,
      cpuUsPerS,
      checksPerS,
      detectFirstMs: median(firsts),
      detectMedianMs: median(detections.map((t) => median(t) as number)),
      detectLastMs: median(lasts),
      suspectToDeadMs: median(runs.map((r) => (r.dead[0] as number) - r.firstSuspectMs)),
      detectRuns: detections.length,
    };
  } finally {
    await cluster.close();
  }
}

async function joinStorm(n: number): Promise<JoinMeasured> {
  const cluster = new Cluster({ loggedTypes: [] });
  try {
    const seed = await cluster.add({ name: 'seed', seeds: [] });
    const cpuBefore = cpuUs();
    const t0 = performance.now();
    const starts: Promise<ShoalNode>[] = [];
    for (let i = 1; i < n; i++) {
      await sleep(1000 / n);
      starts.push(cluster.add({ name: `j${i}`, seeds: [seed.address] }));
    }
    await Promise.all(starts);
    const done = await waitUntil(
      () => cluster.nodes.every((node) => aliveCount(node) === n),
      CONVERGE_TIMEOUT_MS,
      20,
    );
    const allCompleteMs = done ? performance.now() - t0 : undefined;
    return {
      n,
      allCompleteMs,
      cpuS: (cpuUs() - cpuBefore) / 1e6,
      checksPerNode: counter(cluster.nodes, 'signaturesChecked') / n,
      signedPerNode: counter(cluster.nodes, 'recordsSigned') / n,
    };
  } finally {
    await cluster.close();
  }
}

/** The child: measures this tree and prints one JSON line. */
async function child(flags: Map<string, string>): Promise<void> {
  const windowS = flagNumber(flags, 'window-s', 20);
  const steady: Measured[] = [];
  const detectRuns = flagNumber(flags, 'detect-runs', 5);
  for (const n of flagNumbers(flags, 'n', [10, 50]))
    steady.push(await steadyAndDetect(n, windowS, detectRuns));
  const joinN = flagNumber(flags, 'join', 100);
  const storm = joinN > 0 ? await joinStorm(joinN) : undefined;
  process.stdout.write(`${JSON.stringify({ steady, storm })}\n`);
}

/** A copy of `ref`'s tree (git archive), sharing this tree's node_modules; reused if present. */
export function baselineTree(root: string, ref: string): string {
  const dir = join(tmpdir(), `shoal-baseline-${ref}`);
  if (!existsSync(join(dir, 'package.json'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const archive = execFileSync('git', ['-C', root, 'archive', ref], {
      maxBuffer: 256 * 1024 * 1024,
    });
    spawnSync('tar', ['-x', '-C', dir], { input: archive });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  }
  // This script measures both trees with the same code (it uses only APIs both have).
  cpSync(join(root, 'bench', 'membership-signed.ts'), join(dir, 'bench', 'membership-signed.ts'));
  return dir;
}

function runChild(
  cwd: string,
  argv: readonly string[],
): { steady: Measured[]; storm?: JoinMeasured } {
  const out = execFileSync('npx', ['tsx', 'bench/membership-signed.ts', CHILD_FLAG, ...argv], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    timeout: 1_800_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = out.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as { steady: Measured[]; storm?: JoinMeasured };
}

export async function run(
  argv: readonly string[] = isMain(import.meta.url) ? process.argv.slice(2) : [],
): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'window-s', 'join', 'baseline-ref', 'detect-runs', 'child']);
  if (flags.has('child')) {
    await child(flags);
    return '';
  }
  const root = resolve(import.meta.dirname, '..');
  const ref = flags.get('baseline-ref') ?? UNSIGNED_BASELINE_REF;
  const passOn = argv.filter((a) => a !== '--baseline-ref' && a !== ref);
  const builds: [string, string][] = [['signed (this tree)', root]];
  if (ref !== 'none') builds.push([`unsigned (${ref})`, baselineTree(root, ref)]);
  const results = builds.map(([label, cwd]) => [label, runChild(cwd, passOn)] as const);
  const steadyRows = results.flatMap(([label, r]) =>
    r.steady.map((m) => [
      String(m.n),
      label,
      fmt(m.udpBytesPerS),
      fmt(m.tcpBytesPerS, 1),
      fmt(m.udpBytesPerS + m.tcpBytesPerS),
      fmt(m.packetsPerS, 2),
      fmt(m.cpuUsPerS),
      fmt(m.checksPerS, 2),
      `${fmt(m.detectFirstMs)} / ${fmt(m.detectMedianMs)} / ${fmt(m.detectLastMs)}`,
      fmt(m.suspectToDeadMs),
    ]),
  );
  const stormRows = results.flatMap(([label, r]) =>
    r.storm === undefined
      ? []
      : [
          [
            String(r.storm.n),
            label,
            fmt(r.storm.allCompleteMs),
            fmt(r.storm.cpuS, 2),
            fmt(r.storm.checksPerNode, 1),
            fmt(r.storm.signedPerNode, 1),
          ],
        ],
  );
  return [
    '### Signed vs unsigned membership — `npx tsx bench/membership-signed.ts`',
    '',
    table(
      [
        'N',
        'build',
        'UDP B/s/member',
        'TCP B/s/member',
        'total B/s/member',
        'pkts/s/member',
        'CPU µs/s/member',
        'signatures checked/s/member',
        'crash detection first / median / last ms (median of runs)',
        'first suspicion to first dead ms',
      ],
      steadyRows,
    ),
    '',
    stormRows.length === 0
      ? ''
      : table(
          [
            'join storm N',
            'build',
            'all views complete ms',
            'CPU s',
            'signatures checked per node',
            'signed per node',
          ],
          stormRows,
        ),
    '',
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const out = await run();
  if (out !== '') process.stdout.write(`${out}\n`);
}
