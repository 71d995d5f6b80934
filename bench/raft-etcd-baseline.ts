/**
 * Issue 13's side-by-side benchmarks, etcd's side: a fresh 3-member etcd 3.4 cluster on
 * loopback (lib-etcd.ts), driven by the etcd3 client through one closed loop (lib-load.ts):
 *
 * - put 256 B at concurrency 1, 16, 64, 256 (client pinned to the leader, distinct keys);
 * - linearizable get at concurrency 1 and 64 (random keys among those the c=64 puts wrote);
 * - failover: kill -9 the leader's PID, then the time until a majority of the cluster reports
 *   one new leader (status polled every LEADER_POLL_MS), and until the first acknowledged write
 *   of a retrying client (a put to each survivor every probe interval, each with its own
 *   deadline, as /work/shared/peers/etcd/bench.js probes), N trials at 100/1000 ms and
 *   50/250 ms heartbeat/election; the killed member is restarted and the cluster settles
 *   between trials.
 *
 * The report is one markdown table, a row per number, a column per system, plus etcd's figures
 * from /work/shared/peers/RESULTS.md (5 runs on this machine) to see whether this run is
 * typical. `measureSystem` takes any KvSystem: pass Shoal's beside etcd's and its column (and
 * its ratio to the first system) appears. Run alone:
 * `npx tsx bench/raft-etcd-baseline.ts [--ops 5000] [--trials 5] [--put-c 1,16,64,256] [--get-c 1,64]`.
 */
import { Rng } from '../src/base/rng.js';
import { etcdSystem, etcdVersion } from './lib-etcd.js';
import {
  runClosedLoop,
  type ClusterSettings,
  type KvClient,
  type KvSystem,
  type LoadResult,
} from './lib-load.js';
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
  sleep,
  table,
} from './lib-report.js';

export interface BaselineOptions {
  /** Counted operations per load measurement. */
  readonly operations: number;
  readonly warmupOperations: number;
  readonly putConcurrency: readonly number[];
  readonly getConcurrency: readonly number[];
  readonly valueBytes: number;
  /** Failover trials per timing setting. */
  readonly trials: number;
  readonly failoverSettings: readonly ClusterSettings[];
}

export const DEFAULT_BASELINE: BaselineOptions = {
  operations: 5_000,
  warmupOperations: 500,
  putConcurrency: [1, 16, 64, 256],
  getConcurrency: [1, 64],
  valueBytes: 256,
  trials: 5,
  failoverSettings: [
    { members: 3, heartbeatMs: 100, electionMs: 1000 },
    { members: 3, heartbeatMs: 50, electionMs: 250 },
  ],
};

/** Cluster for the load measurements: etcd's defaults, as in the peers harness. */
const LOAD_SETTINGS: ClusterSettings = { members: 3, heartbeatMs: 100, electionMs: 1000 };
const LEADER_POLL_MS = 5;
const PROBE_INTERVAL_MS = 10;
const PROBE_TIMEOUT_MS = 500;
/** Bound on one failover; a trial past it counts as failed. */
const FAILOVER_WAIT_MS = 20_000;
/** Quiet time after a restart before the next kill (the peers harness waits 2 s). */
const SETTLE_MS = 2_000;
const LEADER_WAIT_MS = 30_000;

/** etcd 3.4.23 in /work/shared/peers/RESULTS.md: medians of 5 runs (A.1, A.2, A.3). */
const PEERS_ETCD: Record<string, number> = {
  'put c=1 ops/s': 880,
  'put c=1 p50 ms': 1.07,
  'put c=1 p99 ms': 3.1,
  'put c=1 server CPU µs/op': 1159,
  'put c=16 ops/s': 2954,
  'put c=16 p50 ms': 4.81,
  'put c=16 p99 ms': 14.5,
  'put c=16 server CPU µs/op': 312,
  'put c=64 ops/s': 4432,
  'put c=64 p50 ms': 12.9,
  'put c=64 p99 ms': 40.4,
  'put c=64 server CPU µs/op': 165,
  'get c=1 ops/s': 1432,
  'get c=1 p50 ms': 0.63,
  'get c=1 p99 ms': 2.65,
  'get c=1 server CPU µs/op': 552,
  'get c=64 ops/s': 5430,
  'get c=64 p50 ms': 9.51,
  'get c=64 p99 ms': 40.1,
  'get c=64 server CPU µs/op': 104,
  'failover 100/1000 first write median ms': 1199,
  'failover 100/1000 first write max ms': 2517,
  'failover 100/1000 new leader median ms': 1196,
};

export interface FailoverTrial {
  /** ms from the kill until a majority reported one new leader. */
  readonly leaderMs: number | undefined;
  /** ms from the kill until the first acknowledged write. */
  readonly writeMs: number | undefined;
}

export interface SystemResult {
  readonly system: string;
  /** Row label -> value. */
  readonly rows: Map<string, string>;
  /** Row label -> number, for ratios between systems. */
  readonly values: Map<string, number>;
}

const key = (prefix: string, i: number): string => `${prefix}/${String(i).padStart(8, '0')}`;

/** The leader a majority reports, waiting up to LEADER_WAIT_MS. */
async function waitLeader(system: KvSystem, members: number): Promise<number> {
  const deadline = performance.now() + LEADER_WAIT_MS;
  while (performance.now() < deadline) {
    const views = await system.leaderViews();
    const agreed = majorityLeader(views, members);
    if (agreed !== undefined) return agreed;
    await sleep(50);
  }
  throw new Error(`${system.name}: no leader agreed by a majority after ${LEADER_WAIT_MS} ms`);
}

/** The leader at least a majority of `members` report, or undefined. */
export function majorityLeader(
  views: readonly (number | undefined)[],
  members: number,
  not?: number,
): number | undefined {
  const majority = Math.floor(members / 2) + 1;
  for (const candidate of new Set(views)) {
    if (candidate === undefined || candidate === not) continue;
    if (views.filter((v) => v === candidate).length >= majority) return candidate;
  }
  return undefined;
}

function recordLoad(result: SystemResult, label: string, load: LoadResult): void {
  const put = (name: string, value: number | undefined, digits: number): void => {
    result.rows.set(`${label} ${name}`, fmt(value, digits));
    if (value !== undefined) result.values.set(`${label} ${name}`, value);
  };
  put('ops/s', load.opsPerSec, 0);
  put('p50 ms', load.latency.p50Ms(), 2);
  put('p99 ms', load.latency.p99Ms(), 2);
  put('max ms', load.latency.maxMs(), 1);
  put('server CPU µs/op', load.serverCpuUsPerOp, 0);
  put('client CPU µs/op', load.clientCpuUsPerOp, 0);
  result.rows.set(`${label} errors`, String(load.errors));
}

async function measureLoads(
  system: KvSystem,
  options: BaselineOptions,
  result: SystemResult,
): Promise<void> {
  await system.start(LOAD_SETTINGS);
  let client: KvClient | undefined;
  try {
    const leader = await waitLeader(system, LOAD_SETTINGS.members);
    client = await system.client([leader]);
    const rng = new Rng(13);
    const value = Uint8Array.from({ length: options.valueBytes }, () => rng.int(256));
    const pinned = client;
    for (const c of options.putConcurrency) {
      const load = await runClosedLoop({
        concurrency: c,
        operations: options.operations,
        warmupOperations: options.warmupOperations,
        op: (i) => pinned.put(key(`bench/put-c${c}`, i), value),
        serverPids: system.pids(),
      });
      recordLoad(result, `put c=${c}`, load);
    }
    // Reads hit keys written above (the largest put run wrote `operations` of them).
    const prefix = `bench/put-c${options.putConcurrency.at(-1) ?? 1}`;
    for (const c of options.getConcurrency) {
      const load = await runClosedLoop({
        concurrency: c,
        operations: options.operations,
        warmupOperations: options.warmupOperations,
        op: async () => {
          if ((await pinned.get(key(prefix, rng.int(options.operations)))) === undefined)
            throw new Error('missing key');
        },
        serverPids: system.pids(),
      });
      recordLoad(result, `get c=${c}`, load);
    }
  } finally {
    client?.close();
    await system.stop();
  }
}

/** Kills the leader once and times the new leader and the first acknowledged write. */
export async function failoverTrial(
  system: KvSystem,
  settings: ClusterSettings,
  value: Uint8Array,
): Promise<FailoverTrial> {
  const leader = await waitLeader(system, settings.members);
  const survivors = Array.from({ length: settings.members }, (_, i) => i).filter(
    (i) => i !== leader,
  );
  const clients = await Promise.all(survivors.map((i) => system.client([i])));
  try {
    for (const c of clients) await c.put('bench/failover/ready', value, 5_000);
    await sleep(300);
    const killedAtMs = performance.now();
    await system.kill(leader);
    let writeMs: number | undefined;
    let leaderMs: number | undefined;
    const probes = setInterval(() => {
      for (const c of clients)
        c.put('bench/failover/probe', value, PROBE_TIMEOUT_MS).then(
          () => (writeMs ??= performance.now() - killedAtMs),
          () => undefined,
        );
    }, PROBE_INTERVAL_MS);
    try {
      while (performance.now() - killedAtMs < FAILOVER_WAIT_MS) {
        if (leaderMs === undefined) {
          const views = await system.leaderViews();
          if (majorityLeader(views, settings.members, leader) !== undefined)
            leaderMs = performance.now() - killedAtMs;
        }
        if (leaderMs !== undefined && writeMs !== undefined) break;
        await sleep(LEADER_POLL_MS);
      }
    } finally {
      clearInterval(probes);
    }
    await system.restart(leader);
    await sleep(SETTLE_MS);
    return { leaderMs, writeMs };
  } finally {
    for (const c of clients) c.close();
  }
}

async function measureFailover(
  system: KvSystem,
  settings: ClusterSettings,
  trials: number,
  result: SystemResult,
): Promise<FailoverTrial[]> {
  const done: FailoverTrial[] = [];
  await system.start(settings);
  try {
    for (let t = 0; t < trials; t++)
      done.push(await failoverTrial(system, settings, new Uint8Array(256)));
  } finally {
    await system.stop();
  }
  const label = `failover ${settings.heartbeatMs}/${settings.electionMs}`;
  const leaders = done.flatMap((t) => (t.leaderMs === undefined ? [] : [t.leaderMs]));
  const writes = done.flatMap((t) => (t.writeMs === undefined ? [] : [t.writeMs]));
  const put = (name: string, values: number[]): void => {
    result.rows.set(`${label} ${name} median ms`, fmtRange(values));
    const m = median(values);
    if (m !== undefined) result.values.set(`${label} ${name} median ms`, m);
    if (values.length > 0) {
      result.rows.set(`${label} ${name} max ms`, fmt(Math.max(...values)));
      result.values.set(`${label} ${name} max ms`, Math.max(...values));
    }
  };
  put('new leader', leaders);
  put('first write', writes);
  result.rows.set(
    `${label} failed trials`,
    String(done.filter((t) => t.writeMs === undefined || t.leaderMs === undefined).length),
  );
  return done;
}

/** Every measurement on one system. */
export async function measureSystem(
  system: KvSystem,
  options: BaselineOptions = DEFAULT_BASELINE,
): Promise<SystemResult> {
  const result: SystemResult = { system: system.name, rows: new Map(), values: new Map() };
  await measureLoads(system, options, result);
  for (const settings of options.failoverSettings)
    await measureFailover(system, settings, options.trials, result);
  return result;
}

/** One table: a row per number, a column per system, etcd's RESULTS.md figure, and ratios to the first system. */
export function renderBaseline(results: readonly SystemResult[], options: BaselineOptions): string {
  const first = results[0];
  const labels = [...new Set(results.flatMap((r) => [...r.rows.keys()]))];
  const headers = [
    'measurement',
    ...results.map((r) => r.system),
    'etcd, peers RESULTS.md',
    ...results.slice(1).map((r) => `${r.system} ÷ ${first?.system ?? ''}`),
  ];
  const rows = labels.map((label) => [
    label,
    ...results.map((r) => r.rows.get(label) ?? '—'),
    PEERS_ETCD[label] === undefined ? '—' : String(PEERS_ETCD[label]),
    ...results.slice(1).map((r) => fmtRatio(r.values.get(label), first?.values.get(label))),
  ]);
  return [
    table(headers, rows),
    '',
    `${options.operations} counted operations per load row (${options.warmupOperations} warm-up), ${options.valueBytes}-byte values, client pinned to the leader, one client (one HTTP/2 channel) in this process; ` +
      `failover: ${options.trials} kills per setting, "median ms" is median [min–max]. Server CPU is utime+stime of the server PIDs from procfs.`,
    machineNote(),
  ].join('\n');
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['ops', 'trials', 'put-c', 'get-c']);
  if (etcdVersion() === undefined) return 'etcd is not installed (Debian: etcd-server): skipped.';
  const options: BaselineOptions = {
    ...DEFAULT_BASELINE,
    operations: flagNumber(flags, 'ops', DEFAULT_BASELINE.operations),
    trials: flagNumber(flags, 'trials', DEFAULT_BASELINE.trials),
    putConcurrency: flagNumbers(flags, 'put-c', DEFAULT_BASELINE.putConcurrency),
    getConcurrency: flagNumbers(flags, 'get-c', DEFAULT_BASELINE.getConcurrency),
  };
  const results = [await measureSystem(etcdSystem(), options)];
  return renderBaseline(results, options);
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
