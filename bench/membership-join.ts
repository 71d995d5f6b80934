/**
 * Join storm (SWIM §4 dissemination + push-pull join), LAN profile, real sockets: a seed, then
 * N-1 nodes started at evenly spread instants within `--spread-ms` (1 s), all through that one
 * seed. Per node: ms from its own createNode() call until it sees all N members alive (p50, p99,
 * max); cluster: ms from the first joiner's start until every view is complete. Goal: per-node
 * p50 < 1 s, p99 < 2.5 s. memberlist's B.1 (parallel joins, all at once) is shown for reference;
 * with `--spread-ms 0` our storm matches its shape.
 *
 * `npx tsx bench/membership-join.ts [--n 50,100] [--runs 1] [--spread-ms 1000]`
 */
import type { ShoalNode } from '../src/node/node.js';
import { Cluster, aliveCount, waitUntil } from './lib-cluster.js';
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
  percentile,
  sleep,
  table,
} from './lib-report.js';

const COMPLETE_TIMEOUT_MS = 60_000;

interface JoinRun {
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  maxMs: number | undefined;
  allCompleteMs: number | undefined;
  complete: number;
  startSpanMs: number;
}

/** Stamps `doneAtMs` for a node the first time an event leaves it with all N members alive. */
function trackCompletion(cluster: Cluster, n: number, doneAtMs: Map<number, number>): void {
  cluster.onEvent = (e) => {
    if (doneAtMs.has(e.observer) || (e.type !== 'joined' && e.type !== 'alive')) return;
    const node = cluster.nodes[e.observer];
    if (node !== undefined && aliveCount(node) === n) doneAtMs.set(e.observer, e.atMs);
  };
}

async function runOnce(n: number, spreadMs: number): Promise<JoinRun> {
  const cluster = new Cluster();
  try {
    const seed = await cluster.add({ name: 'seed', seeds: [] });
    const doneAtMs = new Map<number, number>();
    const startedAtMs = new Map<number, number>();
    trackCompletion(cluster, n, doneAtMs);
    const t0 = performance.now();
    const starts: Promise<ShoalNode>[] = [];
    for (let i = 1; i < n; i++) {
      const atMs = n > 2 ? ((i - 1) * spreadMs) / (n - 2) : 0;
      const wait = t0 + atMs - performance.now();
      if (wait > 0) await sleep(wait);
      // Index in cluster.nodes is assigned when createNode resolves; record the start by name.
      const startMs = performance.now();
      starts.push(
        cluster.add({ name: `n${i}`, seeds: [seed.address] }).then((node) => {
          startedAtMs.set(cluster.nodes.indexOf(node), startMs);
          return node;
        }),
      );
    }
    await Promise.all(starts);
    const startSpanMs = Math.max(...startedAtMs.values()) - t0;
    // A node complete before its index was known is caught by this final check.
    await waitUntil(
      () => {
        cluster.nodes.forEach((node, i) => {
          if (!doneAtMs.has(i) && aliveCount(node) === n) doneAtMs.set(i, performance.now());
        });
        return doneAtMs.size >= n;
      },
      COMPLETE_TIMEOUT_MS,
      20,
    );
    const perNode: number[] = [];
    for (const [i, start] of startedAtMs) {
      const done = doneAtMs.get(i);
      if (done !== undefined) perNode.push(done - start);
    }
    const joinersDone = [...startedAtMs.keys()].map((i) => doneAtMs.get(i));
    const allDone = joinersDone.every((d) => d !== undefined) && doneAtMs.has(0);
    return {
      p50Ms: percentile(perNode, 50),
      p99Ms: percentile(perNode, 99),
      maxMs: percentile(perNode, 100),
      allCompleteMs: allDone ? Math.max(...doneAtMs.values()) - t0 : undefined,
      complete: doneAtMs.size,
      startSpanMs,
    };
  } finally {
    await cluster.close();
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'runs', 'spread-ms']);
  const ns = flagNumbers(flags, 'n', [50, 100]);
  const runs = flagNumber(flags, 'runs', 1);
  const spreadMs = flagNumber(flags, 'spread-ms', 1000);
  const rows: string[][] = [];
  for (const n of ns) {
    const results: JoinRun[] = [];
    for (let r = 0; r < runs; r++) results.push(await runOnce(n, spreadMs));
    const pick = (f: (r: JoinRun) => number | undefined): number[] =>
      results.map(f).filter((v): v is number => v !== undefined);
    const all = pick((r) => r.allCompleteMs);
    rows.push([
      String(n),
      String(runs),
      fmtRange(pick((r) => r.startSpanMs)),
      fmtRange(pick((r) => r.p50Ms)),
      fmtRange(pick((r) => r.p99Ms)),
      fmtRange(pick((r) => r.maxMs)),
      fmtRange(all),
      `${results.filter((r) => r.allCompleteMs !== undefined).length}/${runs}`,
      `${fmt(MEMBERLIST_LAN.joinMedianNodeMs[n])} / ${fmt(MEMBERLIST_LAN.joinAllMs[n])}`,
      fmtRatio(median(all), MEMBERLIST_LAN.joinAllMs[n]),
    ]);
  }
  return [
    `Join storm, LAN profile: seed first, then N-1 nodes started within ${spreadMs} ms through the seed. ` +
      "Per node = ms from its createNode() call to seeing all N alive; all complete = ms from the first joiner's start until every node does (median [min–max] over runs). " +
      `Goal: per-node p50 < 1000, p99 < 2500. ${machineNote()}`,
    '',
    table(
      [
        'N',
        'runs',
        'starts span ms',
        'per-node p50 ms',
        'per-node p99 ms',
        'per-node max ms',
        'all complete ms',
        'all complete',
        'memberlist median node / all ms (B.1, joins at once)',
        'ratio (all)',
      ],
      rows,
    ),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
