/**
 * The etcd gRPC endpoint's cost per request (issue 14): puts of 256-byte values from the etcd3
 * client at c=64 against the endpoint over the KvService test double (one KvState, every put
 * encoded and applied as a log entry), with the endpoint alone in a child process so its CPU
 * (procfs utime + stime) is the server's only. The same puts called on the double directly, in
 * process, give the store's share; the difference is the gRPC layer's (HTTP/2, protobuf,
 * conversion). A single-member etcd 3.4 under the same client, when installed, gives a whole
 * etcd server's figure for scale (its CPU includes Raft, the WAL fsync and bbolt).
 *
 *   npx tsx bench/etcd-grpc.ts [--ops 20000] [--c 64]
 */
import { EtcdCluster, etcd3Client, etcdVersion } from './lib-etcd.js';
import { spawnEndpointChild } from './lib-etcd-grpc-child.js';
import { runClosedLoop, type LoadResult } from './lib-load.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  parseFlags,
  table,
} from './lib-report.js';
import { KvDouble } from '../test/etcd/kv-double.js';

const VALUE_BYTES = 256;
/** Distinct keys the puts cycle over (the store keeps every revision: no compaction here). */
const KEYS = 1000;

interface Options {
  readonly operations: number;
  readonly concurrency: number;
}

const DEFAULTS: Options = { operations: 20_000, concurrency: 64 };

const value = Buffer.alloc(VALUE_BYTES, 'v');
const key = (i: number): string => `bench/grpc/${i % KEYS}`;

async function overGrpc(url: string, pids: number[], options: Options): Promise<LoadResult> {
  const client = etcd3Client([url]);
  try {
    return await runClosedLoop({
      concurrency: options.concurrency,
      operations: options.operations,
      warmupOperations: Math.min(2_000, options.operations),
      op: (i) => client.put(key(i)).value(value).exec(),
      serverPids: pids,
    });
  } finally {
    client.close();
  }
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
  checkFlags(flags, ['ops', 'c']);
  const options: Options = {
    operations: flagNumber(flags, 'ops', DEFAULTS.operations),
    concurrency: flagNumber(flags, 'c', DEFAULTS.concurrency),
  };
  const rows: string[][] = [];
  const child = await spawnEndpointChild();
  let shoal: LoadResult;
  try {
    shoal = await overGrpc(child.url, [child.pid], options);
  } finally {
    await child.stop();
  }
  rows.push(row('Shoal endpoint over the KvDouble', shoal));
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
  const serverUs = shoal.serverCpuUsPerOp;
  const share =
    serverUs === undefined ? undefined : (100 * (serverUs - store.cpuUsPerOp)) / serverUs;
  return [
    table(
      ['system', 'puts/s', 'p50 ms', 'p99 ms', 'server CPU µs/put', 'client CPU µs/put', 'errors'],
      rows,
    ),
    '',
    `gRPC layer's share of the endpoint's server CPU per put: ${fmt(share)} % ` +
      `(${fmt(serverUs)} µs over gRPC, ${fmt(store.cpuUsPerOp)} µs in the store).`,
    '',
    `${options.operations} counted puts per row (2,000 warm-up), ${VALUE_BYTES}-byte values over ${KEYS} keys, ` +
      `c=${options.concurrency} on one etcd3 client (one HTTP/2 channel) in this process. Server CPU is utime+stime of the server PIDs from procfs.`,
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
