/**
 * One load-generator process of bench/worker-heartbeats.ts: it hosts a slice of the N workers
 * (each its own Ed25519 key, CSR, certificate and mTLS channel, as the issue requires, so no
 * socket is shared between workers) on its own event loop, so one starved loop no longer sets
 * the pace of the whole storm. Run as a script it is the child: it starts its workers
 * (STARTS_IN_FLIGHT key generations at a time), prints `{"started":K}` once all are started,
 * answers each stdin line `stats` with one JSON line (registered, call failures by reason, its
 * own CPU), and closes its workers and exits when stdin closes. Imported, `spawnWorkerLoad`
 * starts one and is the parent's handle; the parent signals only the PIDs it spawned.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/base/rng.js';
import { SystemClock } from '../src/base/system-clock.js';
import { FsStorage } from '../src/node/fs-storage.js';
import { workerClientConfig } from '../src/worker/core/config.js';
import { Worker } from '../src/worker/worker.js';
import { isMain } from './lib-report.js';

/** Key generations and first files in flight at once in one load process. */
const STARTS_IN_FLIGHT = 50;
/** Bound on one answer from a load process (starting 1,250 workers on a loaded machine). */
const ANSWER_TIMEOUT_MS = 300_000;
/** Time a load process has to close its workers after stdin closes, before SIGKILL. */
const STOP_GRACE_MS = 30_000;

export interface LoadSliceArgs {
  servers: string[];
  token: string;
  /** Index of the first worker (names are `w<index>`) and how many this process hosts. */
  first: number;
  count: number;
  callTimeoutMs: number;
  seed: number;
}

export interface LoadStats {
  started: number;
  registered: number;
  failures: Record<string, number>;
  /** This process's own CPU (user + system) since it started, ms. */
  cpuMs: number;
  rssBytes: number;
}

export interface WorkerLoadChild {
  readonly pid: number;
  stats(): Promise<LoadStats>;
  stop(): Promise<void>;
}

/** Starts one load process; resolves once all its workers are started (not yet registered). */
export async function spawnWorkerLoad(args: LoadSliceArgs): Promise<WorkerLoadChild> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(args)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn a worker load child');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker load child ${pid} silent for ${ANSWER_TIMEOUT_MS} ms`)),
        ANSWER_TIMEOUT_MS,
      );
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  const stop = async (): Promise<void> => {
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await next();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid,
    async stats() {
      const answer = next();
      child.stdin?.write('stats\n');
      return JSON.parse(await answer) as LoadStats;
    },
    stop,
  };
}

if (isMain(import.meta.url)) {
  const args = JSON.parse(process.argv[2] ?? '{}') as LoadSliceArgs;
  const dir = mkdtempSync(join(tmpdir(), 'shoal-worker-load-'));
  const clock = new SystemClock();
  const rng = new Rng(args.seed);
  const workers: Worker[] = [];
  let stopping = false;
  const answer = (): void => {
    const failures: Record<string, number> = {};
    for (const w of workers)
      for (const [reason, count] of Object.entries(w.clientState.counters.failures))
        failures[reason] = (failures[reason] ?? 0) + count;
    const cpu = process.cpuUsage();
    const stats: LoadStats = {
      started: workers.length,
      registered: workers.filter((w) => w.clientState.phase === 'registered').length,
      failures,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssBytes: process.memoryUsage().rss,
    };
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  };
  createInterface({ input: process.stdin }).on('line', answer);
  process.stdin.once('end', () => {
    stopping = true;
    void Promise.all(workers.map((w) => w.close())).then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  for (let i = 0; i < args.count && !stopping; i += STARTS_IN_FLIGHT) {
    const batch = Array.from({ length: Math.min(STARTS_IN_FLIGHT, args.count - i) }, (_, j) => {
      const name = `w${args.first + i + j}`;
      const w = new Worker({
        servers: args.servers,
        token: args.token,
        identityDir: join(dir, name),
        name,
        labels: {},
        config: workerClientConfig({ callTimeoutMs: args.callTimeoutMs }),
        mode: 'stream',
        clock,
        rng: rng.fork(name),
        storage: new FsStorage(join(dir, name)),
        wallNowMs: () => Date.now(),
        // Many workers share this process's event loop: no fsync per identity file.
        identityFsync: false,
      });
      workers.push(w);
      return w.start();
    });
    await Promise.all(batch);
  }
  process.stdout.write(`${JSON.stringify({ started: workers.length })}\n`);
}
