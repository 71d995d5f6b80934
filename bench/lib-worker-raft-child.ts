/**
 * One `worker-server` node (createNode: a Raft voter of the replicated store plus the workers'
 * gRPC listener) alone in a child process, so a bench reads the leader's CPU from procfs and its
 * heap without the load generator's. Run as a script it is the child: it prints
 * `{"address","id"}` once serving, answers each stdin line with one JSON line (`stats`: heap
 * after GC (`peek`: without the GC), the tier's counters, Raft's commit index, whether it leads; `token N`: a token for N
 * uses), and exits when stdin closes. Imported, `spawnWorkerRaftCluster` starts three and is the
 * parent's handle; the parent kills only those PIDs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNode } from '../src/node/node.js';
import type { WorkerServerSettings } from '../src/worker/core/config.js';
import { freeClusterAddresses } from '../src/transport/free-port.js';
import { isMain } from './lib-report.js';

const ANSWER_TIMEOUT_MS = 120_000;

/** `SHOAL_BENCH_CPU_PROF=DIR`: the bench's children write V8 CPU profiles there (node refuses --cpu-prof in NODE_OPTIONS). */
export function cpuProfArgs(): string[] {
  const dir = process.env['SHOAL_BENCH_CPU_PROF'];
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', dir];
}

export interface RaftServerStats {
  heapUsedBytes: number;
  rssBytes: number;
  cpuMs: number;
  commitIndex: number;
  leading: boolean;
  /** Servers whose CA and address this one has seen in the store. */
  servers: number;
  /** This server's WAL: batches fdatasynced and the Raft entries they held. */
  walSyncs: number;
  walEntries: number;
  stats: Record<string, number>;
}

export interface RaftServerChild {
  readonly pid: number;
  readonly address: string;
  request(line: string): Promise<string>;
  stats(): Promise<RaftServerStats>;
  /** The same without a forced GC first. */
  peek(): Promise<RaftServerStats>;
  stop(): Promise<void>;
  /** SIGKILLs this server (a crash: no goodbye to its peers or workers). */
  kill(): Promise<void>;
}

function spawnOne(args: object): Promise<RaftServerChild> {
  const child = spawn(
    process.execPath,
    [
      ...cpuProfArgs(),
      '--expose-gc',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      JSON.stringify(args),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn a worker-server child');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker-server child ${pid} silent for ${ANSWER_TIMEOUT_MS} ms`)),
        ANSWER_TIMEOUT_MS,
      );
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  return next().then((readyLine) => {
    const ready = JSON.parse(readyLine) as { address: string };
    const request = (line: string): Promise<string> => {
      const answer = next();
      child.stdin?.write(`${line}\n`);
      return answer;
    };
    return {
      pid,
      address: ready.address,
      request,
      stats: async () => JSON.parse(await request('stats')) as RaftServerStats,
      peek: async () => JSON.parse(await request('peek')) as RaftServerStats,
      async kill() {
        child.kill('SIGKILL');
        await exited;
      },
      async stop() {
        child.stdin?.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      },
    };
  });
}

/** Three worker-server processes forming one Raft cluster on loopback. */
export async function spawnWorkerRaftCluster(
  settings: WorkerServerSettings,
): Promise<RaftServerChild[]> {
  const peers = await freeClusterAddresses(3);
  return Promise.all(peers.map((bind, i) => spawnOne({ settings, peers, bind, name: `s${i}` })));
}

if (isMain(import.meta.url)) {
  const { settings, peers, bind, name } = JSON.parse(process.argv[2] ?? '{}') as {
    settings: WorkerServerSettings;
    peers: string[];
    bind: string;
    name: string;
  };
  const dir = mkdtempSync(join(tmpdir(), 'shoal-worker-raft-'));
  const node = await createNode({
    name,
    dataDir: dir,
    bind,
    profile: 'local',
    clusterId: 'bench',
    mode: { kind: 'worker-server', peers, workerListen: '127.0.0.1:0', ...settings },
  });
  const tier = node.workers;
  if (tier === undefined) throw new Error('not a worker-server');
  process.stdout.write(`${JSON.stringify({ address: tier.address })}\n`);
  const gc = (globalThis as { gc?: () => void }).gc;
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, arg] = line.trim().split(' ');
    if (command === 'token') {
      try {
        const { token } = tier.createToken({ maxUses: Number(arg), ttlMs: 24 * 3_600_000 });
        process.stdout.write(`${JSON.stringify({ token })}\n`);
      } catch (err) {
        process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
      }
      return;
    }
    // `peek`: the same without the forced GC (cheap enough to poll during a failover).
    if (command === 'stats') gc?.();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    let walSyncs = 0;
    let walEntries = 0;
    for (const d of Object.values(node.stats().drivers)) {
      walSyncs += d.log?.['syncs'] ?? 0;
      walEntries += d.log?.['entries'] ?? 0;
    }
    const stats: RaftServerStats = {
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      cpuMs: (cpu.user + cpu.system) / 1000,
      commitIndex: node.raft.status().commitIndex,
      leading: tier.leading,
      servers: tier.view.servers.size,
      walSyncs,
      walEntries,
      stats: tier.stats(),
    };
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  });
  process.stdin.once('end', () => {
    void node.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}
