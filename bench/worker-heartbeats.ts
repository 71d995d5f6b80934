/**
 * The worker tier at scale (issue 15), FIRST MEASURE: one worker-server process backed by the
 * KvService test double (no Raft yet: raft mode does not serve KvService), and N workers, each
 * with its own Ed25519 key and certificate and its own gRPC channel over mTLS, in this process.
 * What it measures is the gRPC, TLS and heartbeat path of a server, not Raft:
 *
 * - registration storm: N workers register at once with one token (N uses) and a CSR each;
 *   time until all hold a certificate, registrations/s;
 * - steady state: heartbeats/s at the server over 1-minute windows, after a warm-up of
 *   2·base + grace (every worker on its own staggered phase), at the defaults of the issue;
 * - the server's CPU (% of one core) over the same windows, from procfs;
 * - the server's heap per worker after a forced GC (sockets' native memory is in RSS, reported
 *   apart), and store writes per heartbeat (the goal is 0).
 *
 * `npx tsx bench/worker-heartbeats.ts --workers 10000 --windows 3` (defaults: 10,000 workers,
 * 3 windows; about 12 minutes). `--rate` sets maxHeartbeatsPerSecond.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/base/rng.js';
import { SystemClock } from '../src/base/system-clock.js';
import { FsStorage } from '../src/node/fs-storage.js';
import {
  heartbeatTtlBaseMsFor,
  workerClientConfig,
  workerServerConfig,
} from '../src/worker/core/config.js';
import { Worker } from '../src/worker/worker.js';
import { processCpuMs } from './lib-procfs.js';
import { fmt, isMain, parseFlags, table } from './lib-report.js';
import { spawnWorkerServer } from './lib-worker-server-child.js';

const STARTS_IN_FLIGHT = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  const n = Number(flags.get('workers') ?? 10_000);
  const windows = Number(flags.get('windows') ?? 3);
  const rate = Number(flags.get('rate') ?? 50);
  const windowMs = Number(flags.get('window-s') ?? 60) * 1000;
  const settings = { maxHeartbeatsPerSecond: rate };
  const config = workerServerConfig(settings);
  const server = await spawnWorkerServer(settings, n);
  const dir = mkdtempSync(join(tmpdir(), 'shoal-workers-'));
  const clock = new SystemClock();
  const rng = new Rng(2);
  const workers: Worker[] = [];
  const rows: string[][] = [];
  try {
    // Registration storm: every worker starts at once (STARTS_IN_FLIGHT key generations at a time).
    const storm0 = Date.now();
    for (let i = 0; i < n; i += STARTS_IN_FLIGHT) {
      const batch = Array.from({ length: Math.min(STARTS_IN_FLIGHT, n - i) }, (_, j) => {
        const w = new Worker({
          servers: [server.address],
          token: server.token,
          identityDir: join(dir, `w${i + j}`),
          name: `w${i + j}`,
          labels: {},
          config: workerClientConfig({ callTimeoutMs: 60_000 }),
          mode: 'stream',
          clock,
          rng: rng.fork(`w${i + j}`),
          storage: new FsStorage(join(dir, `w${i + j}`)),
          wallNowMs: () => Date.now(),
          // Thousands of workers share this process's one event loop: no fsync per identity file.
          identityFsync: false,
        });
        workers.push(w);
        return w.start();
      });
      await Promise.all(batch);
    }
    const registered = () => workers.filter((w) => w.clientState.phase === 'registered').length;
    while (registered() < n && Date.now() - storm0 < 600_000) await sleep(200);
    const stormS = (Date.now() - storm0) / 1000;
    rows.push([
      'registration storm',
      `${registered()} of ${n} certified in ${fmt(stormS, 1)} s (${fmt(registered() / stormS)}/s)`,
    ]);
    const base = heartbeatTtlBaseMsFor(n, config);
    const warmupMs = 2 * base + config.heartbeatGraceMs;
    rows.push([
      'TTL base at N',
      `${base / 1000} s (TTLs in [${base / 1000}, ${(2 * base) / 1000}) s); warm-up ${warmupMs / 1000} s`,
    ]);
    await sleep(warmupMs);
    for (let i = 0; i < windows; i++) {
      const before = await server.stats();
      const cpu0 = processCpuMs(server.pid) ?? 0;
      const t0 = Date.now();
      await sleep(windowMs);
      const after = await server.stats();
      const cpuMs = (processCpuMs(server.pid) ?? 0) - cpu0;
      const seconds = (Date.now() - t0) / 1000;
      const beats = (after.stats['heartbeats'] ?? 0) - (before.stats['heartbeats'] ?? 0);
      const writes = after.storeWrites - before.storeWrites;
      rows.push([
        `window ${i + 1} (${windowMs / 1000} s)`,
        `${fmt(beats / seconds, 1)} heartbeats/s, server CPU ${fmt((cpuMs / (seconds * 1000)) * 100, 2)} % of a core (${fmt((cpuMs * 1000) / Math.max(1, beats))} µs per heartbeat), store writes ${writes}, down ${after.stats['workers_down'] ?? 0}`,
      ]);
    }
    const final = await server.stats();
    rows.push([
      'server memory after GC',
      `heap ${fmt(final.heapUsedBytes / n)} B per worker (${fmt(final.heapUsedBytes / 1e6, 1)} MB), RSS ${fmt(final.rssBytes / 1e6, 1)} MB (sockets and TLS sessions included)`,
    ]);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return table(
    ['measure', `${n} workers, one server over the KvService double, gRPC + mTLS on loopback`],
    rows,
  );
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
