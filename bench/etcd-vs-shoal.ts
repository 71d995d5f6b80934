/**
 * Issue 14's "same benchmark for both" (and issue 13's put and get rows): etcd 3.4, then Shoal's
 * `raft` mode, each on a fresh 3-member cluster of real processes on loopback (100 ms heartbeat,
 * 1,000 ms election, as etcd's defaults), driven by the same `etcd3` client and the same closed
 * loop (lib-load.ts), the client pinned to the leader as /work/shared/peers/etcd/bench.js pins it:
 *
 * - put, 256 B values to distinct keys, c = 1, 16, 64, 256;
 * - linearizable and serializable get of random keys among those the largest put row wrote,
 *   c = 1 and 64;
 * - txn compare-and-swap, c = 16, on 16 keys: `if value == last then put next`, the last value
 *   kept per key by the load process; a CAS that loses (two in flight on one key) is counted
 *   apart, not as an error;
 * - watch fan-out: 100 watchers of one key spread over the 3 members (one etcd3 client, so one
 *   watch stream, per member), one writer putting to it at c = 1; each value carries its send
 *   time, so every delivery's latency is measured; deliveries missing after the last put are
 *   counted.
 *
 * Per row: ops/s, p50/p99/max latency, server CPU µs per operation (utime + stime of all 3
 * server PIDs from procfs), client CPU µs per op, entries per fsync on the leader for the write
 * rows (lib-raft-systems.ts says where each system reports it), errors, and the 1-min load
 * average when the row started; under each workload a `shoal ÷ etcd` row. With `--runs N` the
 * systems alternate (etcd, shoal, etcd, ...) on fresh clusters and each cell is the median of
 * the N runs. Run alone:
 *
 *   npx tsx bench/etcd-vs-shoal.ts [--ops 5000] [--runs 1] [--put-c 1,16,64,256] [--get-c 1,64]
 *     [--txn-c 16] [--watchers 100] [--watch-puts 500] [--systems etcd,shoal]
 */
import { loadavg } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { Rng } from '../src/base/rng.js';
import { LatencyHistogram } from './lib-histogram.js';
import { etcd3Client, etcdVersion } from './lib-etcd.js';
import { runClosedLoop, type ClusterSettings, type LoadResult } from './lib-load.js';
import { CpuSample } from './lib-procfs.js';
import { raftSystems, type DiskCounters, type RaftSystem } from './lib-raft-systems.js';
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

export interface CompareOptions {
  readonly operations: number;
  readonly warmupOperations: number;
  readonly runs: number;
  readonly putConcurrency: readonly number[];
  readonly getConcurrency: readonly number[];
  readonly txnConcurrency: number;
  readonly watchers: number;
  readonly watchPuts: number;
  readonly valueBytes: number;
  readonly systems: readonly string[];
}

export const DEFAULT_COMPARE: CompareOptions = {
  operations: 5_000,
  warmupOperations: 500,
  runs: 1,
  putConcurrency: [1, 16, 64, 256],
  getConcurrency: [1, 64],
  txnConcurrency: 16,
  watchers: 100,
  watchPuts: 500,
  valueBytes: 256,
  systems: ['etcd', 'shoal'],
};

/** etcd's defaults, as the peers harness ran it. */
export const LOAD_SETTINGS: ClusterSettings = { members: 3, heartbeatMs: 100, electionMs: 1000 };
/** Bound on the last watch deliveries arriving after the writer stopped. */
const WATCH_DRAIN_MS = 10_000;
/** Bound on a leader being agreed after start. */
const LEADER_WAIT_MS = 30_000;
/** Keys the CAS rows cycle over. */
const CAS_KEYS = 16;

/** One measured row of one system in one run. */
export interface Row {
  readonly opsPerSec: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly maxMs: number | undefined;
  readonly serverCpuUsPerOp: number | undefined;
  readonly clientCpuUsPerOp: number | undefined;
  readonly entriesPerFsync: number | undefined;
  readonly errors: number;
  readonly load1: number;
  /** Anything else worth a footnote (CAS lost, deliveries missing, first error). */
  readonly note: string;
}

export type Rows = Map<string, Row>;

const key = (prefix: string, i: number): string => `${prefix}/${String(i).padStart(8, '0')}`;

export async function waitLeader(system: RaftSystem): Promise<number> {
  const deadline = performance.now() + LEADER_WAIT_MS;
  while (performance.now() < deadline) {
    const leader = await system.leader();
    if (leader !== undefined) return leader;
    await sleep(50);
  }
  throw new Error(`${system.name}: no leader agreed by a majority after ${LEADER_WAIT_MS} ms`);
}

/** entries / fsyncs between two samples of one member, or undefined. */
export function perFsync(
  before: DiskCounters | undefined,
  after: DiskCounters | undefined,
): number | undefined {
  if (before === undefined || after === undefined) return undefined;
  const fsyncs = after.fsyncs - before.fsyncs;
  return fsyncs <= 0 ? undefined : (after.entries - before.entries) / fsyncs;
}

export function loadRow(load: LoadResult, entriesPerFsync: number | undefined, load1: number): Row {
  return {
    opsPerSec: load.opsPerSec,
    p50Ms: load.latency.p50Ms(),
    p99Ms: load.latency.p99Ms(),
    maxMs: load.latency.maxMs(),
    serverCpuUsPerOp: load.serverCpuUsPerOp,
    clientCpuUsPerOp: load.clientCpuUsPerOp,
    entriesPerFsync,
    errors: load.errors,
    load1,
    note: load.firstError === undefined ? '' : `first error: ${load.firstError}`,
  };
}

/** Measures a write load with entries per fsync on `leader`. */
export async function measureWrites(
  system: RaftSystem,
  leader: number,
  run: () => Promise<LoadResult>,
): Promise<{ load: LoadResult; entriesPerFsync: number | undefined; load1: number }> {
  const load1 = loadavg()[0] ?? 0;
  const before = await system.disk(leader);
  const load = await run();
  const after = await system.disk(leader);
  return { load, entriesPerFsync: perFsync(before, after), load1 };
}

async function watchFanOut(
  system: RaftSystem,
  leader: number,
  writer: Etcd3,
  options: CompareOptions,
): Promise<Row> {
  const clients = Array.from({ length: system.size }, (_, i) => etcd3Client([system.endpoint(i)]));
  const watchKey = 'bench/watch/k';
  const latency = new LatencyHistogram();
  let delivered = 0;
  try {
    const watchers = [];
    for (let w = 0; w < options.watchers; w++) {
      const client = clients[w % clients.length] as Etcd3;
      const watcher = await client.watch().key(watchKey).create();
      watcher.on('put', (kv) => {
        const sentMs = Buffer.from(kv.value).readDoubleLE(0);
        latency.recordMs(performance.now() - sentMs);
        delivered++;
      });
      watchers.push(watcher);
    }
    const value = Buffer.alloc(options.valueBytes);
    const load1 = loadavg()[0] ?? 0;
    const before = await system.disk(leader);
    const server = new CpuSample(system.pids());
    const client = process.cpuUsage();
    const startMs = performance.now();
    let errors = 0;
    let firstError: string | undefined;
    for (let i = 0; i < options.watchPuts; i++) {
      value.writeDoubleLE(performance.now(), 0);
      try {
        await writer.put(watchKey).value(value).exec();
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
    const wallMs = performance.now() - startMs;
    const expected = (options.watchPuts - errors) * options.watchers;
    const drainUntil = performance.now() + WATCH_DRAIN_MS;
    while (delivered < expected && performance.now() < drainUntil) await sleep(10);
    const serverMs = server.usedMs();
    const cpu = process.cpuUsage(client);
    const after = await system.disk(leader);
    await Promise.all(watchers.map((w) => w.cancel()));
    const missing = expected - delivered;
    return {
      opsPerSec: (options.watchPuts * 1000) / wallMs,
      p50Ms: latency.p50Ms(),
      p99Ms: latency.p99Ms(),
      maxMs: latency.maxMs(),
      serverCpuUsPerOp: serverMs === undefined ? undefined : (serverMs * 1000) / options.watchPuts,
      clientCpuUsPerOp: (cpu.user + cpu.system) / options.watchPuts,
      entriesPerFsync: perFsync(before, after),
      errors,
      load1,
      note: [
        `${delivered} deliveries, ${missing} missing`,
        ...(firstError === undefined ? [] : [`first error: ${firstError}`]),
      ].join('; '),
    };
  } finally {
    for (const c of clients) c.close();
  }
}

/** Every workload on one fresh cluster of `system`. */
export async function measureSystem(system: RaftSystem, options: CompareOptions): Promise<Rows> {
  const rows: Rows = new Map();
  await system.start(LOAD_SETTINGS);
  let client: Etcd3 | undefined;
  try {
    const leader = await waitLeader(system);
    const pinned = etcd3Client([system.endpoint(leader)]);
    client = pinned;
    const rng = new Rng(14);
    const value = Buffer.from(Uint8Array.from({ length: options.valueBytes }, () => rng.int(256)));
    const loop = (concurrency: number, op: (i: number) => Promise<unknown>) => () =>
      runClosedLoop({
        concurrency,
        operations: options.operations,
        warmupOperations: options.warmupOperations,
        op,
        serverPids: system.pids(),
      });
    for (const c of options.putConcurrency) {
      const m = await measureWrites(
        system,
        leader,
        loop(c, (i) =>
          pinned
            .put(key(`bench/put-c${c}`, i))
            .value(value)
            .exec(),
        ),
      );
      rows.set(`put c=${c}`, loadRow(m.load, m.entriesPerFsync, m.load1));
    }
    // The largest put row wrote keys 0..operations-1 (its warm-up wrote a prefix of them again).
    const prefix = `bench/put-c${options.putConcurrency.at(-1) ?? 1}`;
    const keys = Math.max(1, options.operations);
    for (const serializable of [false, true]) {
      for (const c of options.getConcurrency) {
        const load1 = loadavg()[0] ?? 0;
        const load = await loop(c, async () => {
          const got = await pinned
            .get(key(prefix, rng.int(keys)))
            .serializable(serializable)
            .buffer();
          if (got === null) throw new Error('missing key');
        })();
        rows.set(
          `${serializable ? 'serializable' : 'linearizable'} get c=${c}`,
          loadRow(load, undefined, load1),
        );
      }
    }
    const last = Array.from({ length: CAS_KEYS }, () => '0');
    for (let k = 0; k < CAS_KEYS; k++) await pinned.put(key('bench/cas', k)).value('0').exec();
    let lost = 0;
    let swapped = 0;
    const c = options.txnConcurrency;
    const cas = await measureWrites(
      system,
      leader,
      loop(c, async (i) => {
        const k = i % CAS_KEYS;
        const expected = last[k] as string;
        const next = String(i + 1);
        const result = await pinned
          .if(key('bench/cas', k), 'Value', '==', expected)
          .then(pinned.put(key('bench/cas', k)).value(next))
          .commit();
        if (result.succeeded) {
          last[k] = next;
          swapped++;
        } else lost++;
      }),
    );
    const casRow = loadRow(cas.load, cas.entriesPerFsync, cas.load1);
    rows.set(`txn CAS c=${c}`, {
      ...casRow,
      note: [`${swapped} swapped, ${lost} lost the race`, casRow.note].filter(Boolean).join('; '),
    });
    rows.set(
      `watch fan-out ${options.watchers} watchers (delivery latency)`,
      await watchFanOut(system, leader, pinned, options),
    );
  } finally {
    client?.close();
    await system.stop();
  }
  return rows;
}

function medianOf(values: readonly (number | undefined)[]): number | undefined {
  return median(values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
}

/** The median row over runs (each field its own median; errors summed; notes of the first run). */
export function medianRow(rows: readonly Row[]): Row | undefined {
  if (rows.length === 0) return undefined;
  return {
    opsPerSec: medianOf(rows.map((r) => r.opsPerSec)) ?? 0,
    p50Ms: medianOf(rows.map((r) => r.p50Ms)),
    p99Ms: medianOf(rows.map((r) => r.p99Ms)),
    maxMs: medianOf(rows.map((r) => r.maxMs)),
    serverCpuUsPerOp: medianOf(rows.map((r) => r.serverCpuUsPerOp)),
    clientCpuUsPerOp: medianOf(rows.map((r) => r.clientCpuUsPerOp)),
    entriesPerFsync: medianOf(rows.map((r) => r.entriesPerFsync)),
    errors: rows.reduce((sum, r) => sum + r.errors, 0),
    load1: medianOf(rows.map((r) => r.load1)) ?? 0,
    note: rows.map((r) => r.note).find((n) => n !== '') ?? '',
  };
}

const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? '—' : `${(a / b).toFixed(2)}×`;

export const HEADERS = [
  'workload',
  'system',
  'ops/s',
  'p50 ms',
  'p99 ms',
  'max ms',
  'server CPU µs/op',
  'client CPU µs/op',
  'entries/fsync',
  'errors',
  'load',
  'notes',
];

/** A workload's rows: one per system, then each later system ÷ the first. */
export function renderRows(
  workload: string,
  systems: readonly { name: string; row: Row | undefined }[],
): string[][] {
  const out: string[][] = [];
  for (const { name, row } of systems) {
    if (row === undefined) continue;
    out.push([
      workload,
      name,
      fmt(row.opsPerSec),
      fmt(row.p50Ms, 2),
      fmt(row.p99Ms, 2),
      fmt(row.maxMs, 1),
      fmt(row.serverCpuUsPerOp),
      fmt(row.clientCpuUsPerOp),
      fmt(row.entriesPerFsync, 1),
      String(row.errors),
      row.load1.toFixed(1),
      row.note,
    ]);
  }
  const first = systems[0];
  for (const other of systems.slice(1)) {
    const a = other.row;
    const b = first?.row;
    if (a === undefined || b === undefined) continue;
    out.push([
      workload,
      `**${other.name} ÷ ${first?.name ?? ''}**`,
      ratio(a.opsPerSec, b.opsPerSec),
      ratio(a.p50Ms, b.p50Ms),
      ratio(a.p99Ms, b.p99Ms),
      ratio(a.maxMs, b.maxMs),
      ratio(a.serverCpuUsPerOp, b.serverCpuUsPerOp),
      ratio(a.clientCpuUsPerOp, b.clientCpuUsPerOp),
      ratio(a.entriesPerFsync, b.entriesPerFsync),
      '',
      '',
      '',
    ]);
  }
  return out;
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, [
    'ops',
    'runs',
    'put-c',
    'get-c',
    'txn-c',
    'watchers',
    'watch-puts',
    'systems',
  ]);
  if (etcdVersion() === undefined) return 'etcd is not installed (Debian: etcd-server): skipped.';
  const options: CompareOptions = {
    ...DEFAULT_COMPARE,
    operations: flagNumber(flags, 'ops', DEFAULT_COMPARE.operations),
    warmupOperations: Math.min(
      DEFAULT_COMPARE.warmupOperations,
      flagNumber(flags, 'ops', DEFAULT_COMPARE.operations),
    ),
    runs: Math.max(1, flagNumber(flags, 'runs', DEFAULT_COMPARE.runs)),
    putConcurrency: flagNumbers(flags, 'put-c', DEFAULT_COMPARE.putConcurrency),
    getConcurrency: flagNumbers(flags, 'get-c', DEFAULT_COMPARE.getConcurrency),
    txnConcurrency: flagNumber(flags, 'txn-c', DEFAULT_COMPARE.txnConcurrency),
    watchers: flagNumber(flags, 'watchers', DEFAULT_COMPARE.watchers),
    watchPuts: flagNumber(flags, 'watch-puts', DEFAULT_COMPARE.watchPuts),
    systems: flags.get('systems')?.split(',') ?? DEFAULT_COMPARE.systems,
  };
  const systems = raftSystems(options.systems);
  const runs = systems.map(() => [] as Rows[]);
  for (let r = 0; r < options.runs; r++)
    for (const [i, system] of systems.entries())
      runs[i]?.push(await measureSystem(system, options));
  const workloads = [...new Set(runs.flatMap((rs) => rs.flatMap((r) => [...r.keys()])))];
  const rows = workloads.flatMap((w) =>
    renderRows(
      w,
      systems.map((s, i) => ({
        name: s.name,
        row: medianRow((runs[i] ?? []).flatMap((r) => r.get(w) ?? [])),
      })),
    ),
  );
  return [
    table(HEADERS, rows),
    '',
    `${options.operations} counted operations per row (${options.warmupOperations} warm-up), ${options.valueBytes}-byte values, ` +
      `one etcd3 client (one HTTP/2 channel) in this process pinned to the leader; ${options.runs} run(s) per system on fresh 3-member clusters ` +
      `(heartbeat ${LOAD_SETTINGS.heartbeatMs} ms, election ${LOAD_SETTINGS.electionMs} ms), each cell the median over runs. ` +
      `Server CPU: utime+stime of the 3 server PIDs (procfs) per operation. Entries/fsync: on the leader (etcd: proposals committed ÷ WAL fsyncs; ` +
      `Shoal: commit index ÷ WAL batches). Watch: ${options.watchPuts} puts at c=1, latency is put start to each watcher's event; ops/s and CPU per put. ` +
      `Load: 1-min load average when the row started.`,
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
