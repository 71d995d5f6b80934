/**
 * Leader failover under `kill -9` (etcd's A.2 in /work/shared/peers/RESULTS.md), for each
 * election mode: 3 and 5 real processes on 127.0.0.1 (bench/lib-election-child.ts), each
 * reporting its leader changes with wall-clock timestamps. Per trial: SIGKILL the leader's PID,
 * measure until a majority of the cluster (majorityOf(n), survivors only) reports one new leader
 * with one term, restart the killed process on its data dir and wait until all n agree again.
 *
 * Dual-leader intervals: from every process's reports, each stretch during which a process
 * reported ITSELF as leader (from that report to its next report, or to its kill) is a leadership
 * interval; two intervals of different processes that overlap in wall-clock time are one
 * dual-leader interval ("same term" when both were in one term). Report times are taken in each
 * child when its node emits the event, on one machine clock.
 *
 * Timings: raft-lite 150–300 ms election timeout, 50 ms heartbeats; static 400 ms failure
 * threshold, 100 ms heartbeats; swim LOCAL profile with 200 ms probes (about 1 s to declare a
 * member dead) and stabilization 2 probe intervals. Run alone:
 * `npx tsx bench/election-failover.ts [--trials N] [--modes raft-lite,static,swim] [--sizes 3,5]`.
 */
import { majorityOf } from '../src/election/quorum.js';
import {
  ElectionCluster,
  type ElectionChild,
  type ElectionModeKind,
} from './lib-election-child.js';
import {
  checkFlags,
  fmt,
  isMain,
  machineNote,
  median,
  parseFlags,
  flagNumbers,
  percentile,
  table,
} from './lib-report.js';
import { waitUntil } from './lib-cluster.js';
import { epochNowMs } from './lib-report.js';

/** Default trials per configuration: swim's failover takes seconds, so fewer. */
const DEFAULT_TRIALS: Record<ElectionModeKind, number> = { 'raft-lite': 50, static: 30, swim: 15 };
const FAST_SWIM = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  suspicionMult: 2,
  suspicionMaxTimeoutMult: 2,
  gossipIntervalMs: 50,
};
const AGREE_TIMEOUT_MS = 30_000;
/** etcd 3.4, 3 members, 100 ms heartbeat / 1 s election timeout: median and max over 25 kills. */
const ETCD_FAILOVER = { medianMs: 1199, maxMs: 2517 };

interface Incarnation {
  child: ElectionChild;
  killedAtMs: number | undefined;
}

interface ConfigResult {
  mode: ElectionModeKind;
  size: number;
  failoverMs: number[];
  failed: number;
  dual: { intervals: number; sameTerm: number };
}

/** Earliest time a majority of `n` reports one leader other than `oldLeader`, after `killAtMs`. */
export function majorityKnowsNewLeaderAtMs(
  survivors: readonly ElectionChild[],
  n: number,
  oldLeader: string,
  killAtMs: number,
): number | undefined {
  const firstSeen = new Map<string, number[]>();
  for (const child of survivors) {
    const seen = new Set<string>();
    for (const r of child.reports) {
      if (r.atMs < killAtMs || r.leader === undefined || r.leader === oldLeader) continue;
      const key = `${r.leader}@${r.term}`;
      if (seen.has(key)) continue;
      seen.add(key);
      firstSeen.set(key, [...(firstSeen.get(key) ?? []), r.atMs]);
    }
  }
  let best: number | undefined;
  for (const times of firstSeen.values()) {
    const sorted = [...times].sort((a, b) => a - b);
    const at = sorted[majorityOf(n) - 1];
    if (at !== undefined && (best === undefined || at < best)) best = at;
  }
  return best === undefined ? undefined : best - killAtMs;
}

/** Leadership intervals of every incarnation, then the overlapping pairs of different processes. */
export function dualLeaderIntervals(
  incarnations: readonly Incarnation[],
  endMs: number,
): { intervals: number; sameTerm: number } {
  const spans: { id: string; term: number; from: number; to: number }[] = [];
  for (const { child, killedAtMs } of incarnations) {
    child.reports.forEach((r, i) => {
      if (r.leader !== child.id) return;
      const to = child.reports[i + 1]?.atMs ?? killedAtMs ?? endMs;
      spans.push({ id: child.id, term: r.term, from: r.atMs, to });
    });
  }
  let intervals = 0;
  let sameTerm = 0;
  for (let i = 0; i < spans.length; i++)
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i] as (typeof spans)[number];
      const b = spans[j] as (typeof spans)[number];
      if (a.id === b.id || a.to <= b.from || b.to <= a.from) continue;
      intervals++;
      if (a.term === b.term) sameTerm++;
    }
  return { intervals, sameTerm };
}

async function waitAgreed(
  group: readonly ElectionChild[],
): Promise<{ leader: string; term: number } | undefined> {
  const ok = await waitUntil(
    () => ElectionCluster.agreed(group) !== undefined,
    AGREE_TIMEOUT_MS,
    10,
  );
  return ok ? ElectionCluster.agreed(group) : undefined;
}

async function measure(
  mode: ElectionModeKind,
  size: number,
  trials: number,
): Promise<ConfigResult> {
  const cluster = new ElectionCluster(mode, mode === 'swim' ? FAST_SWIM : undefined);
  const result: ConfigResult = {
    mode,
    size,
    failoverMs: [],
    failed: 0,
    dual: { intervals: 0, sameTerm: 0 },
  };
  const incarnations: Incarnation[] = [];
  try {
    await cluster.start(size);
    incarnations.push(...cluster.children.map((child) => ({ child, killedAtMs: undefined })));
    for (let trial = 0; trial < trials; trial++) {
      const before = await waitAgreed(cluster.children);
      const victim = cluster.children.find((c) => c.id === before?.leader);
      if (before === undefined || victim === undefined)
        throw new Error(`${mode} n=${size}: no agreed leader before trial ${trial + 1}`);
      const killAtMs = epochNowMs();
      await cluster.kill(victim);
      (incarnations.find((x) => x.child === victim) as Incarnation).killedAtMs = killAtMs;
      const survivors = cluster.alive();
      await waitUntil(
        () => majorityKnowsNewLeaderAtMs(survivors, size, before.leader, killAtMs) !== undefined,
        AGREE_TIMEOUT_MS,
        5,
      );
      const failoverMs = majorityKnowsNewLeaderAtMs(survivors, size, before.leader, killAtMs);
      if (failoverMs === undefined) result.failed++;
      else result.failoverMs.push(failoverMs);
      incarnations.push({ child: await cluster.restart(victim), killedAtMs: undefined });
    }
    result.dual = dualLeaderIntervals(incarnations, epochNowMs());
  } finally {
    await cluster.close();
  }
  return result;
}

function render(results: readonly ConfigResult[]): string {
  const rows = results.map((r) => [
    r.mode,
    String(r.size),
    String(r.failoverMs.length + r.failed),
    fmt(median(r.failoverMs)),
    fmt(percentile(r.failoverMs, 99)),
    fmt(r.failoverMs.length === 0 ? undefined : Math.max(...r.failoverMs)),
    String(r.failed),
    `${r.dual.intervals} (${r.dual.sameTerm} same term)`,
    r.mode === 'raft-lite' && r.size === 3
      ? `${fmt(median(r.failoverMs) === undefined ? undefined : (median(r.failoverMs) as number) / ETCD_FAILOVER.medianMs, 2)}× of etcd's ${ETCD_FAILOVER.medianMs} ms`
      : '—',
  ]);
  return [
    table(
      [
        'mode',
        'nodes',
        'kills',
        'median ms',
        'p99 ms',
        'max ms',
        'no new leader',
        'dual-leader intervals',
        'vs etcd median',
      ],
      rows,
    ),
    '',
    `Failover = SIGKILL of the leader's process until a majority of the cluster reports one new leader and term. etcd 3.4 (100 ms heartbeat, 1 s election timeout, 3 members): median ${ETCD_FAILOVER.medianMs} ms, max ${ETCD_FAILOVER.maxMs} ms (/work/shared/peers/RESULTS.md A.2, time to the first successful write).`,
    'Goal for raft-lite: median < 300 ms, p99 < 600 ms, zero dual-leader intervals. p99 is nearest-rank: with fewer than 100 kills it is the maximum.',
    machineNote(),
  ].join('\n');
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['trials', 'modes', 'sizes']);
  const modes = (flags.get('modes') ?? 'raft-lite,static,swim').split(',') as ElectionModeKind[];
  for (const m of modes)
    if (!(m in DEFAULT_TRIALS))
      throw new Error(
        `--modes: unknown mode ${m}; known: ${Object.keys(DEFAULT_TRIALS).join(',')}`,
      );
  const sizes = flagNumbers(flags, 'sizes', [3, 5]);
  const results: ConfigResult[] = [];
  for (const mode of modes)
    for (const size of sizes) {
      const trials = flags.has('trials')
        ? (flagNumbers(flags, 'trials', [])[0] ?? DEFAULT_TRIALS[mode])
        : DEFAULT_TRIALS[mode];
      results.push(await measure(mode, size, trials));
    }
  return render(results);
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
