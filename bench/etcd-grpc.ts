/**
 * The etcd gRPC endpoint's cost per request (issue 14): puts of 256-byte values from the etcd3
 * client at c=64 against the endpoint over the KvService test double (one KvState, every put
 * encoded and applied as a log entry), with the endpoint alone in a child process so its CPU
 * (procfs utime + stime) is the server's only. The same puts called on the double directly, in
 * process, give the store's share; the difference is the gRPC layer's (HTTP/2, protobuf,
 * conversion). A single-member etcd 3.4 under the same client, when installed, gives a whole
 * etcd server's figure for scale (its CPU includes Raft, the WAL fsync and bbolt).
 * Then serializable gets of those keys, and a watch fan-out (`--watchers` watches of one key on
 * one etcd3 client's stream, `--watch-puts` puts to it at c = 1 from another client): server CPU
 * per delivered event. Each of the endpoint's gRPC stacks (`--stacks`: Shoal's
 * http2 server, grpc-js) serves the same puts and gets in a fresh child, alternating, `--rounds`
 * times; each cell is the median over the rounds.
 *
 *   npx tsx bench/etcd-grpc.ts [--ops 20000] [--c 64] [--stacks http2,grpc-js] [--rounds 1]
 *     [--watchers 100] [--watch-puts 300]
 */
import { EtcdCluster, etcd3Client, etcdVersion } from './lib-etcd.js';
import { CpuSample } from './lib-procfs.js';
import { spawnEndpointChild } from './lib-etcd-grpc-child.js';
import { runClosedLoop, type LoadResult } from './lib-load.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  median,
  parseFlags,
  table,
} from './lib-report.js';
import { KvDouble } from '../test/etcd/kv-double.js';

const VALUE_BYTES = 256;
/** Distinct keys the puts cycle over (the store keeps every revision: no compaction here). */
const KEYS = 1000;

type Stack = 'http2' | 'grpc-js';

interface Options {
  readonly operations: number;
  readonly concurrency: number;
  readonly stacks: readonly Stack[];
  readonly rounds: number;
  readonly watchers: number;
  readonly watchPuts: number;
}

/** Bound on the last deliveries of the watch row arriving after its last put. */
const WATCH_DRAIN_MS = 10_000;

const DEFAULTS: Options = {
  operations: 20_000,
  concurrency: 64,
  stacks: ['http2', 'grpc-js'],
  rounds: 1,
  watchers: 100,
  watchPuts: 300,
};

const value = Buffer.alloc(VALUE_BYTES, 'v');
const key = (i: number): string => `bench/grpc/${i % KEYS}`;

async function overGrpc(
  url: string,
  pids: number[],
  options: Options,
  what: 'put' | 'get' = 'put',
): Promise<LoadResult> {
  const client = etcd3Client([url]);
  try {
    return await runClosedLoop({
      concurrency: options.concurrency,
      operations: options.operations,
      warmupOperations: Math.min(2_000, options.operations),
      op: (i) =>
        what === 'put'
          ? client.put(key(i)).value(value).exec()
          : client.get(key(i)).serializable(true).exec(),
      serverPids: pids,
    });
  } finally {
    client.close();
  }
}

/** Server CPU µs per delivered event of a watch fan-out on one stream (undefined: pid died). */
async function watchFanOut(
  url: string,
  pid: number,
  options: Options,
): Promise<number | undefined> {
  const watching = etcd3Client([url]);
  const writer = etcd3Client([url]);
  let delivered = 0;
  try {
    for (let w = 0; w < options.watchers; w++)
      (await watching.watch().key('bench/grpc-watch').create()).on('put', () => delivered++);
    await writer.put('bench/grpc-watch').value(value).exec();
    const expected = (options.watchPuts + 1) * options.watchers;
    const sample = new CpuSample([pid]);
    for (let i = 0; i < options.watchPuts; i++)
      await writer.put('bench/grpc-watch').value(value).exec();
    const until = Date.now() + WATCH_DRAIN_MS;
    while (delivered < expected && Date.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 5));
    const usedMs = sample.usedMs();
    if (delivered < expected) throw new Error(`${expected - delivered} deliveries missing`);
    return usedMs === undefined
      ? undefined
      : (usedMs * 1000) / (options.watchPuts * options.watchers);
  } finally {
    watching.close();
    writer.close();
  }
}

/** The median over rounds of one figure (undefined when no round has it). */
function medianOf(
  loads: readonly LoadResult[],
  f: (l: LoadResult) => number | undefined,
): number | undefined {
  const values = loads.map(f).filter((v): v is number => v !== undefined);
  return values.length === 0 ? undefined : median(values);
}

/** The median of each cell of `loads` (one LoadResult per round), as a row. */
function medianRow(name: string, loads: LoadResult[]): string[] {
  const med = (f: (l: LoadResult) => number | undefined) => medianOf(loads, f);
  return [
    name,
    fmt(med((l) => l.opsPerSec)),
    fmt(
      med((l) => l.latency.p50Ms()),
      2,
    ),
    fmt(
      med((l) => l.latency.p99Ms()),
      2,
    ),
    fmt(med((l) => l.serverCpuUsPerOp)),
    fmt(med((l) => l.clientCpuUsPerOp)),
    String(loads.reduce((n, l) => n + l.errors, 0)),
  ];
}

/** CPU µs per put of the double alone (same puts, no gRPC), and puts/s. */
async function direct(options: Options): Promise<{ cpuUsPerOp: number; opsPerSec: number }> {
  const double = new KvDouble();
  const kv = double.service(0);
  const bytes = new Uint8Array(value);
  const load = await runClosedLoop({
    concurrency: options.concurrency,
    operations: options.operations,
    warmupOperations: Math.min(2_000, options.operations),
    op: (i) => kv.put({ key: new TextEncoder().encode(key(i)), value: bytes }),
    serverPids: [],
  });
  double.close();
  return { cpuUsPerOp: load.clientCpuUsPerOp, opsPerSec: load.opsPerSec };
}

function row(name: string, load: LoadResult): string[] {
  return [
    name,
    fmt(load.opsPerSec),
    fmt(load.latency.p50Ms(), 2),
    fmt(load.latency.p99Ms(), 2),
    fmt(load.serverCpuUsPerOp),
    fmt(load.clientCpuUsPerOp),
    String(load.errors),
  ];
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['ops', 'c', 'stacks', 'rounds', 'watchers', 'watch-puts']);
  const stacks = (flags.get('stacks') ?? DEFAULTS.stacks.join(',')).split(',');
  for (const stack of stacks)
    if (stack !== 'http2' && stack !== 'grpc-js')
      throw new Error(`--stacks ${stack}: http2 and/or grpc-js`);
  const options: Options = {
    operations: flagNumber(flags, 'ops', DEFAULTS.operations),
    concurrency: flagNumber(flags, 'c', DEFAULTS.concurrency),
    stacks: stacks as Stack[],
    rounds: flagNumber(flags, 'rounds', DEFAULTS.rounds),
    watchers: flagNumber(flags, 'watchers', DEFAULTS.watchers),
    watchPuts: flagNumber(flags, 'watch-puts', DEFAULTS.watchPuts),
  };
  const perEvent = new Map<Stack, number[]>();
  const rows: string[][] = [];
  const puts = new Map<Stack, LoadResult[]>();
  const gets = new Map<Stack, LoadResult[]>();
  for (let round = 0; round < options.rounds; round++)
    for (const stack of options.stacks) {
      const child = await spawnEndpointChild(stack);
      try {
        puts.set(stack, [
          ...(puts.get(stack) ?? []),
          await overGrpc(child.url, [child.pid], options),
        ]);
        gets.set(stack, [
          ...(gets.get(stack) ?? []),
          await overGrpc(child.url, [child.pid], options, 'get'),
        ]);
        const us = await watchFanOut(child.url, child.pid, options);
        if (us !== undefined) perEvent.set(stack, [...(perEvent.get(stack) ?? []), us]);
      } finally {
        await child.stop();
      }
    }
  for (const stack of options.stacks)
    rows.push(medianRow(`Shoal endpoint (${stack}) over the KvDouble, put`, puts.get(stack) ?? []));
  for (const stack of options.stacks)
    rows.push(
      medianRow(
        `Shoal endpoint (${stack}) over the KvDouble, serializable get`,
        gets.get(stack) ?? [],
      ),
    );
  const first = options.stacks[0] ?? 'http2';
  const watchRows = options.stacks.map((stack) => {
    const values = perEvent.get(stack) ?? [];
    return [
      `Shoal endpoint (${stack}) over the KvDouble`,
      values.length === 0 ? '—' : fmt(median(values), 1),
      values.map((v) => fmt(v, 1)).join(', '),
    ];
  });
  const store = await direct(options);
  rows.push([
    'the KvDouble alone (no gRPC, in process)',
    fmt(store.opsPerSec),
    '—',
    '—',
    fmt(store.cpuUsPerOp),
    '—',
    '0',
  ]);
  if (etcdVersion() !== undefined) {
    const etcd = new EtcdCluster({ members: 1, heartbeatMs: 100, electionMs: 1000 });
    try {
      await etcd.start();
      rows.push(
        row(
          `etcd ${etcdVersion() ?? ''} (1 member)`,
          await overGrpc(etcd.endpoint(0), etcd.pids(), options),
        ),
      );
    } finally {
      await etcd.stop();
    }
  }
  const serverUs = medianOf(puts.get(first) ?? [], (l) => l.serverCpuUsPerOp);
  const share =
    serverUs === undefined ? undefined : (100 * (serverUs - store.cpuUsPerOp)) / serverUs;
  return [
    table(
      ['system', 'ops/s', 'p50 ms', 'p99 ms', 'server CPU µs/op', 'client CPU µs/op', 'errors'],
      rows,
    ),
    '',
    `Watch fan-out: ${options.watchers} watches of one key on one stream, ${options.watchPuts} puts at c=1 from another client:`,
    table(['system', 'server CPU µs per delivered event (median)', 'each round'], watchRows),
    '',
    `gRPC layer's share of the ${first} endpoint's server CPU per put: ${fmt(share)} % ` +
      `(${fmt(serverUs)} µs over gRPC, ${fmt(store.cpuUsPerOp)} µs in the store).`,
    '',
    `${options.operations} counted puts (or gets) per row (2,000 warm-up), ${VALUE_BYTES}-byte values over ${KEYS} keys, ` +
      `${options.rounds} round(s) per stack, alternating, medians; ` +
      `c=${options.concurrency} on one etcd3 client (one HTTP/2 channel) in this process. Server CPU is utime+stime of the server PIDs from procfs.`,
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
