/**
 * What one unary call through the etcd endpoint's HTTP/2 server (src/etcd/h2-server.ts) costs the
 * server and a gRPC client, without Raft or the store behind it: the server runs in a child
 * process with one method whose handler answers at once with fixed bytes (a PutResponse's size);
 * the client is @grpc/grpc-js (what etcd3 uses), in this process, keeping `--c` calls in flight.
 * Prints the server's and the client's CPU µs per call (procfs; process.cpuUsage). `--root DIR`
 * takes h2-server.ts from another checkout (to compare two versions in alternation on the same
 * machine: the server's own work is a few µs per call, which load on a shared machine hides in
 * the whole-cluster bench).
 *
 *   npx tsx bench/etcd-h2-call.ts [--calls 40000] [--c 64] [--root DIR] [--prof DIR]
 *
 * `--prof DIR` runs the server under `node --cpu-prof` (its profile lands in DIR on exit).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type * as H2Api from '../src/etcd/h2-server.js';
import { processCpuMs } from './lib-procfs.js';
import { checkFlags, flagNumber, fmt, isMain, parseFlags } from './lib-report.js';

const PATH = '/etcdserverpb.KV/Put';
/** A PutResponse with a header (cluster id, member id, revision, term): about what Shoal sends. */
const RESPONSE_BYTES = 38;
const REQUEST_BYTES = 300;

/** The child: listens with the h2 server of `root`, prints its port. */
async function serve(root: string): Promise<void> {
  const url = pathToFileURL(resolve(root, 'src/etcd/h2-server.ts')).href;
  const { listenH2 } = (await import(url)) as typeof H2Api;
  const answer = Buffer.alloc(RESPONSE_BYTES, 1);
  const routes = new Map([
    [
      PATH,
      {
        method: {
          path: PATH,
          requestStream: false,
          responseStream: false,
          requestDeserialize: (bytes: Buffer) => bytes,
          responseSerialize: () => answer,
        },
        handler: (_call: unknown, callback?: unknown) =>
          (callback as (err: null, value: Uint8Array) => void)(null, answer),
      },
    ],
  ]);
  const server = await listenH2('127.0.0.1', 0, routes, {
    receiveMessageBytesMax: 4 << 20,
    streamsPerConnectionMax: 1024,
    keepaliveMs: 7_200_000,
    keepaliveTimeoutMs: 20_000,
  });
  // Exits on SIGTERM through process.exit, so that --cpu-prof writes its profile.
  process.on('SIGTERM', () => process.exit(0));
  process.send?.({ port: server.port });
}

async function measure(port: number, child: ChildProcess, calls: number, c: number) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const request = Buffer.alloc(REQUEST_BYTES, 2);
  const call = (): Promise<void> =>
    new Promise((done, fail) =>
      client.makeUnaryRequest(
        PATH,
        (b: Buffer) => b,
        (b: Buffer) => b,
        request,
        (err) => (err === null ? done() : fail(err)),
      ),
    );
  const run = async (n: number): Promise<void> => {
    let next = 0;
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (next++ < n) await call();
      }),
    );
  };
  await run(Math.min(calls, 5_000));
  const pid = child.pid as number;
  const serverBefore = processCpuMs(pid) ?? 0;
  const clientBefore = process.cpuUsage();
  const start = performance.now();
  await run(calls);
  const wallMs = performance.now() - start;
  const clientCpu = process.cpuUsage(clientBefore);
  const serverMs = (processCpuMs(pid) ?? 0) - serverBefore;
  client.close();
  return {
    callsPerSec: (calls * 1000) / wallMs,
    serverUs: (serverMs * 1000) / calls,
    clientUs: (clientCpu.user + clientCpu.system) / calls,
  };
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['calls', 'c', 'root', 'prof']);
  const prof = flags.get('prof');
  const root = resolve(flags.get('root') ?? fileURLToPath(new URL('../', import.meta.url)));
  const load = loadavg()[0] ?? 0;
  const child = fork(fileURLToPath(import.meta.url), ['--serve', root], {
    execArgv: [
      '--import',
      'tsx',
      ...(prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]),
    ],
    stdio: 'inherit',
  });
  try {
    const port = await new Promise<number>((done) =>
      child.once('message', (m) => done((m as { port: number }).port)),
    );
    const r = await measure(
      port,
      child,
      flagNumber(flags, 'calls', 40_000),
      flagNumber(flags, 'c', 64),
    );
    return `${root}: ${fmt(r.callsPerSec)} calls/s, server ${fmt(r.serverUs, 1)} µs/call, client ${fmt(r.clientUs, 1)} µs/call (load ${load.toFixed(1)})`;
  } finally {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
}

if (process.argv[2] === '--serve') await serve(process.argv[3] as string);
else if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
