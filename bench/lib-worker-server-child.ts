/**
 * One worker-server over the KvService test double (test/worker/kv-double.ts), alone in a child
 * process so a bench reads its CPU from procfs and its heap without the load generator's. Run as
 * a script it is the child: it prints `{"address", "token"}` once serving (it leads from the
 * start), answers each stdin line `stats` with one JSON line, and exits when stdin closes.
 * Imported, `spawnWorkerServer` is the parent's handle; the parent kills only that PID.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/base/rng.js';
import { SystemClock } from '../src/base/system-clock.js';
import {
  generateRawKeyPair,
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  signWith,
} from '../src/identity/keys.js';
import { FsStorage } from '../src/node/fs-storage.js';
import { workerServerConfig, type WorkerServerSettings } from '../src/worker/core/config.js';
import { WorkerServer } from '../src/worker/server.js';
import type { KvOp } from '../src/kv/types.js';
import { KvDouble } from '../test/worker/kv-double.js';
import { isMain } from './lib-report.js';

const READY_TIMEOUT_MS = 60_000;

export interface ServerStats {
  /** Heap used after a forced GC, bytes. */
  heapUsedBytes: number;
  rssBytes: number;
  /** CPU (user + system) of the server process since it started, ms. */
  cpuMs: number;
  storeWrites: number;
  /** Store writes by the first key's kind under the reserved prefix (worker, token, status, ...). */
  writesByKind: Record<string, number>;
  stats: Record<string, number>;
}

export interface WorkerServerChild {
  readonly pid: number;
  readonly address: string;
  readonly token: string;
  stats(): Promise<ServerStats>;
  stop(): Promise<void>;
}

export async function spawnWorkerServer(
  settings: WorkerServerSettings,
  maxUses: number,
  cpuProfDir?: string,
): Promise<WorkerServerChild> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      ...(cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir]),
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      JSON.stringify({ settings, maxUses }),
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the worker-server child');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`worker-server child (pid ${pid}) silent for ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  const ready = JSON.parse(await next()) as { address: string; token: string };
  return {
    pid,
    address: ready.address,
    token: ready.token,
    async stats() {
      child.stdin?.write('stats\n');
      return JSON.parse(await next()) as ServerStats;
    },
    async stop() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function firstKey(op: KvOp): Uint8Array | undefined {
  if (op.kind === 'put') return op.request.key;
  if (op.kind !== 'txn') return undefined;
  for (const branch of [op.request.success, op.request.failure])
    for (const inner of branch) {
      const key = firstKey(inner as KvOp);
      if (key !== undefined) return key;
    }
  return undefined;
}

function writeKinds(ops: readonly KvOp[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of ops) {
    const key = firstKey(op);
    const text = key === undefined ? '' : new TextDecoder().decode(key);
    const kind =
      /^\0shoal\/worker\/([^/]+)/.exec(text)?.[1] ?? (op.kind === 'txn' ? 'txn' : op.kind);
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

if (isMain(import.meta.url)) {
  const { settings, maxUses } = JSON.parse(process.argv[2] ?? '{}') as {
    settings: WorkerServerSettings;
    maxUses: number;
  };
  const dir = mkdtempSync(join(tmpdir(), 'shoal-worker-bench-'));
  const kv = new KvDouble();
  const pair = generateRawKeyPair();
  const key = privateKeyFromSeed(pair.privateSeed);
  const selfId = nodeIdFromPublicKey(pair.publicKey);
  const leader = { id: selfId, term: 1 };
  const server = new WorkerServer(
    {
      kv,
      selfId,
      name: 'bench-server',
      clusterId: 'bench',
      signer: { publicKey: pair.publicKey, sign: (data) => signWith(key, data) },
      leader: () => leader,
      onLeader: () => () => undefined,
      clock: new SystemClock(),
      rng: new Rng(1),
      storage: new FsStorage(dir),
      wallNowMs: () => Date.now(),
    },
    { listen: '127.0.0.1:0', caDir: join(dir, 'ca'), config: workerServerConfig(settings) },
  );
  await server.start();
  // The CA is published before tokens pin it.
  while (server.view.caPems.size === 0) await new Promise((r) => setTimeout(r, 20));
  const { token } = server.createToken({ maxUses, ttlMs: 24 * 3_600_000 });
  process.stdout.write(`${JSON.stringify({ address: server.address, token })}\n`);
  const gc = (globalThis as { gc?: () => void }).gc;
  createInterface({ input: process.stdin }).on('line', () => {
    gc?.();
    const memory = process.memoryUsage();
    const stats: ServerStats = {
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      storeWrites: kv.applied.length,
      writesByKind: writeKinds(kv.applied),
      stats: server.stats(),
    };
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  });
  process.stdin.once('end', () => {
    void server.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}
