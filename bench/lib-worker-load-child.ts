/**
 * One load-generator process of bench/worker-heartbeats.ts: it hosts a slice of the N workers
 * (each its own Ed25519 key, CSR, certificate and mTLS channel, as the issue requires) on its
 * own event loop. Run as a script it is the child:
 *
 * 1. before the storm it generates every worker's key and writes it to the worker's identity
 *    dir (KEYGENS_IN_FLIGHT at a time), then prints `{"prepared":K}`, so the storm measures the
 *    servers, not the generator's key generation;
 * 2. on the stdin line `go` it starts its workers PACED: at most `window` registrations in
 *    flight (started, not yet certified), the window adapted AIMD-style, +1 per window's worth
 *    of certified workers, halved (at most once per BACKOFF_HOLD_MS) when a registration call
 *    fails (busy, unavailable, deadline). A failed worker retries on its own backoff inside its
 *    slot, over the same channel: retries never add load beyond the window. The channels that
 *    carry no client certificate (bundle fetch, pinned registration) are shared by the
 *    process's workers (WorkerOptions.sharedChannels), so a worker's storm costs one TLS
 *    handshake of its own (its mTLS channel) instead of three;
 * 3. each stdin line `stats` gets one JSON line (started, registered, failures by reason, the
 *    window, its own CPU and RSS); when stdin closes it closes its workers and exits.
 *
 * Imported, `spawnWorkerLoad` starts one and is the parent's handle; the parent signals only
 * the PIDs it spawned.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import { Rng } from '../src/base/rng.js';
import { SystemClock } from '../src/base/system-clock.js';
import { FsStorage } from '../src/node/fs-storage.js';
import { exportPrivateKeyPem, generateKeyPair } from '../src/worker/ca.js';
import { workerClientConfig } from '../src/worker/core/config.js';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../src/worker/files.js';
import { KEY_FILE, Worker } from '../src/worker/worker.js';
import { isMain } from './lib-report.js';
import { cpuProfArgs } from './lib-worker-raft-child.js';

/** Key generations in flight at once in one load process, before the storm. */
const KEYGENS_IN_FLIGHT = 50;
/** How often the pacer looks at its workers in flight, ms. */
const PACE_TICK_MS = 20;
/** After a halving, failures within this long do not halve again (they belong to the same burst), ms. */
const BACKOFF_HOLD_MS = 1_000;
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
  /** First and largest registration window of this process (registrations in flight). */
  windowStart: number;
  windowMax: number;
  /** Workers keep a warm standby channel to their next server (WorkerOptions.standbyChannel). */
  standby: boolean;
}

export interface LoadStats {
  started: number;
  registered: number;
  failures: Record<string, number>;
  /** Failures of registering workers only (what the window reacts to), by kind. */
  registerFailures: Record<string, number>;
  /** The registration window now, its smallest so far, and how often it was halved. */
  window: number;
  windowMin: number;
  halvings: number;
  /** ms from `go` until this process's last worker was certified (undefined while some are not). */
  doneMs: number | undefined;
  /** This process's own CPU (user + system) since it started, ms. */
  cpuMs: number;
  rssBytes: number;
  /** Moves to another server after a failure, and how many found the standby channel ready. */
  standbyMoves: number;
  standbyMovesWarm: number;
}

export interface WorkerLoadChild {
  readonly pid: number;
  /** Starts the paced storm (returns at once). */
  go(): void;
  stats(): Promise<LoadStats>;
  stop(): Promise<void>;
}

/** Starts one load process; resolves once all its workers' keys exist (none started yet); `go` starts the storm. */
export async function spawnWorkerLoad(args: LoadSliceArgs): Promise<WorkerLoadChild> {
  const child = spawn(
    process.execPath,
    [...cpuProfArgs(), '--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(args)],
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
    go: () => void child.stdin?.write('go\n'),
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
  const sharedChannels = new Map<string, grpc.Client>();
  const names = Array.from({ length: args.count }, (_, i) => `w${args.first + i}`);
  const workers: Worker[] = [];
  const inFlight = new Set<Worker>();
  let stopping = false;
  let window = args.windowStart;
  let windowMin = window;
  let halvings = 0;
  let lastHalvingMs = -Infinity;
  let goMs: number | undefined;
  let doneMs: number | undefined;
  let certified = 0;
  /** Failures counted so far by the workers in flight (a worker's counter only grows). */
  const failuresSeen = new Map<Worker, number>();
  const registerFailures: Record<string, number> = {};
  const kindsSeen = new Map<Worker, Record<string, number>>();
  /** A worker's client state, undefined until start() has read its identity and built its driver. */
  const stateOf = (w: Worker): Worker['clientState'] | undefined => {
    try {
      return w.clientState;
    } catch {
      return undefined;
    }
  };
  const failuresOf = (w: Worker): number =>
    Object.values(stateOf(w)?.counters.failures ?? {}).reduce((a, n) => a + n, 0);
  const answer = (): void => {
    const failures: Record<string, number> = {};
    for (const w of workers)
      for (const [reason, count] of Object.entries(stateOf(w)?.counters.failures ?? {}))
        failures[reason] = (failures[reason] ?? 0) + count;
    const cpu = process.cpuUsage();
    const stats: LoadStats = {
      started: workers.length,
      registered: workers.filter((w) => stateOf(w)?.phase === 'registered').length,
      failures,
      registerFailures,
      window: Math.floor(window),
      windowMin: Math.floor(windowMin),
      halvings,
      doneMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssBytes: process.memoryUsage().rss,
      standbyMoves: workers.reduce((x, w) => x + w.standbyCounters.moves, 0),
      standbyMovesWarm: workers.reduce((x, w) => x + w.standbyCounters.movesWarm, 0),
    };
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  };
  const startOne = (index: number): void => {
    const name = names[index] as string;
    // The client core starts at its list's first server: each worker's list is rotated by its
    // index, as a deployment spreads its workers, so the servers share the storm and the streams.
    const k = (args.first + index) % args.servers.length;
    const w = new Worker({
      servers: [...args.servers.slice(k), ...args.servers.slice(0, k)],
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
      sharedChannels,
      standbyChannel: args.standby,
    });
    workers.push(w);
    inFlight.add(w);
    w.start().catch((err: unknown) => {
      process.stderr.write(`worker ${name} did not start: ${(err as Error).message}\n`);
      inFlight.delete(w);
    });
  };
  /** One pacing step: retire the certified, adapt the window, start workers into free slots. */
  const pace = (): void => {
    if (stopping || goMs === undefined) return;
    let failed = false;
    for (const w of inFlight) {
      const phase = stateOf(w)?.phase;
      if (phase === undefined) continue;
      const f = failuresOf(w);
      if (f > (failuresSeen.get(w) ?? 0)) {
        failed = true;
        const seen = kindsSeen.get(w) ?? {};
        for (const [kind, count] of Object.entries(stateOf(w)?.counters.failures ?? {})) {
          registerFailures[kind] = (registerFailures[kind] ?? 0) + count - (seen[kind] ?? 0);
          seen[kind] = count;
        }
        kindsSeen.set(w, seen);
      }
      failuresSeen.set(w, f);
      if (phase !== 'registered') continue;
      inFlight.delete(w);
      failuresSeen.delete(w);
      kindsSeen.delete(w);
      certified++;
      window = Math.min(args.windowMax, window + 1 / Math.max(1, window));
    }
    const now = Date.now();
    if (failed && now - lastHalvingMs >= BACKOFF_HOLD_MS) {
      window = Math.max(1, window / 2);
      windowMin = Math.min(windowMin, window);
      halvings++;
      lastHalvingMs = now;
    }
    while (workers.length < names.length && inFlight.size < Math.floor(window))
      startOne(workers.length);
    if (doneMs === undefined && certified === names.length) doneMs = now - goMs;
  };
  const pacer = setInterval(pace, PACE_TICK_MS);
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'go') {
      goMs ??= Date.now();
      pace();
    } else answer();
  });
  process.stdin.once('end', () => {
    stopping = true;
    clearInterval(pacer);
    void Promise.all(workers.map((w) => w.close())).then(() => {
      for (const c of sharedChannels.values()) c.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  // Before the storm: every worker's key, where its Worker will find it.
  for (let i = 0; i < names.length && !stopping; i += KEYGENS_IN_FLIGHT)
    await Promise.all(
      names.slice(i, i + KEYGENS_IN_FLIGHT).map(async (name) => {
        const keyPem = await exportPrivateKeyPem((await generateKeyPair()).privateKey);
        writeFileAtomic(join(dir, name, KEY_FILE), keyPem, PRIVATE_FILE_MODE, false);
      }),
    );
  process.stdout.write(`${JSON.stringify({ prepared: names.length })}\n`);
}
