/**
 * The worker tier's own memory per worker, apart from sockets (issue 15's "leader heap per worker
 * ≤ 2 KB"): N synthetic workers registered in a KvService double through the real registration
 * txn (3 keys each: token use, per-worker use, record), then a StoreView (every server's decoded
 * view) loaded from it, then the leader's liveness tracker fed the N records, made leader and
 * given one heartbeat per worker. The heap is read after a forced GC before and after each, so
 * each part is reported on its own: the store (the replicated MVCC state, on every server, Raft's
 * and not the tier's), the view and the tracker (the tier's own state). No gRPC, no TLS: what a
 * connected worker's HTTP/2 session and socket cost is in the end-to-end run.
 *
 * Run as a script (it needs `--expose-gc`; `measureStateHeap` spawns it) it prints one JSON line.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/base/rng.js';
import { ms } from '../src/base/time.js';
import { workerServerConfig } from '../src/worker/core/config.js';
import { initLiveness, step } from '../src/worker/core/liveness/step.js';
import type { RecordChange } from '../src/worker/core/liveness/types.js';
import { registrationTxn } from '../src/worker/core/txns.js';
import { StoreView } from '../src/worker/view.js';
import { KvDouble } from '../test/worker/kv-double.js';
import { isMain } from './lib-report.js';

/** Bound on the child's run (N = 10,000 takes seconds; a loaded machine, minutes). */
const CHILD_TIMEOUT_MS = 600_000;

export interface StateHeap {
  workers: number;
  /** Heap after GC per worker, bytes. */
  storeBytesPerWorker: number;
  viewBytesPerWorker: number;
  trackerBytesPerWorker: number;
  /** Checks that the structures hold what was measured (not collected or empty). */
  viewWorkers: number;
  trackedWorkers: number;
  heartbeats: number;
}

/** Spawns the measuring child for `n` workers and resolves to its answer. */
export function measureStateHeap(n: number): Promise<StateHeap> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), String(n)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`state-heap child exited with ${code}`));
      resolve(JSON.parse(out) as StateHeap);
    });
  });
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const hex32 = (i: number, salt: string): string =>
  `${salt}${i.toString(16)}`.padStart(32, '0').slice(-32);

async function main(n: number): Promise<StateHeap> {
  const config = workerServerConfig({});
  const kv = new KvDouble();
  const tokenId = hex32(0, 'f');
  const now = Date.now();
  const base = heapAfterGc();
  for (let i = 0; i < n; i++) {
    const id = hex32(i, 'a');
    await kv.txn(
      registrationTxn(
        { tokenId, maxUses: n, expiresAtMs: now + 86_400_000 },
        {
          id,
          name: `w${i}`,
          labels: {},
          status: 'registered',
          reason: 'registered',
          certSerial: hex32(i, 'c'),
          certNotAfterMs: now + 30 * 86_400_000,
          tokenId,
          registeredAtMs: now,
          changedAtMs: now,
        },
        now,
      ),
    );
  }
  const stored = heapAfterGc();
  const view = new StoreView(kv);
  await view.start();
  const viewed = heapAfterGc();
  const rng = new Rng(7);
  let state = initLiveness({ config }, 0);
  const changes: RecordChange[] = [...view.workers.values()].map((w) => ({
    id: w.id,
    status: w.status,
    modRevision: w.modRevision,
  }));
  state = step(state, { kind: 'records', now: ms(1), changes }, { rng }).state;
  state = step(state, { kind: 'lead', now: ms(2), term: 1 }, { rng }).state;
  let requestId = 0;
  for (const id of view.workers.keys())
    state = step(
      state,
      { kind: 'heartbeat', now: ms(3), id, requestId: requestId++ },
      { rng },
    ).state;
  const tracked = heapAfterGc();
  view.close();
  return {
    workers: n,
    storeBytesPerWorker: (stored - base) / n,
    viewBytesPerWorker: (viewed - stored) / n,
    trackerBytesPerWorker: (tracked - viewed) / n,
    viewWorkers: view.workers.size,
    trackedWorkers: state.workers.size,
    heartbeats: state.counters.heartbeats,
  };
}

if (isMain(import.meta.url)) {
  const n = Number(process.argv[2] ?? 10_000);
  process.stdout.write(`${JSON.stringify(await main(n))}\n`);
  process.exit(0);
}
