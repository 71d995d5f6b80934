/**
 * The load generator core of the key-value benches and the `KvSystem` interface every system
 * under test implements (etcd now, Shoal's raft mode later), so one loop and one report compare
 * them on the same machine.
 *
 * runClosedLoop: `concurrency` workers, each issuing its next operation when the previous one
 * finished (a closed loop, as /work/shared/peers/etcd/bench.js measures etcd), first a warm-up
 * that is not counted, then either `operations` operations or as many as fit in `durationMs`.
 * Latency per operation goes to an HDR histogram; errors are counted (the first is kept), never
 * retried, so a system that fails requests cannot look fast. Server CPU comes from procfs over
 * the system's PIDs, client CPU from process.cpuUsage().
 */
import { LatencyHistogram } from './lib-histogram.js';
import { CpuSample } from './lib-procfs.js';

/** Settings a KvSystem starts its cluster with. */
export interface ClusterSettings {
  readonly members: number;
  /** Leader heartbeat interval. */
  readonly heartbeatMs: number;
  /** Election timeout (etcd: the base; followers wait a random time in [1x, 2x)). */
  readonly electionMs: number;
}

/** A client pinned to some members of a running system. */
export interface KvClient {
  /** Writes `value` under `key`; rejects on an error or after `timeoutMs`. */
  put(key: string, value: Uint8Array, timeoutMs?: number): Promise<{ revision: number }>;
  /** A linearizable read; undefined when the key is absent. */
  get(
    key: string,
    timeoutMs?: number,
  ): Promise<{ value: Uint8Array; modRevision: number } | undefined>;
  close(): void;
}

/** A replicated key-value system the benches can start, load, hurt and stop. */
export interface KvSystem {
  /** Column header, with the version (`etcd 3.4.23`). */
  readonly name: string;
  /** Starts a fresh cluster (new data dirs, free loopback ports) and waits until it serves. */
  start(settings: ClusterSettings): Promise<void>;
  /** Stops every process it started and removes their data; safe to call twice. */
  stop(): Promise<void>;
  /** Server process PIDs now (for CPU per operation). */
  pids(): number[];
  /** Each member's view of the leader (member index), undefined for a member that is down or has none. */
  leaderViews(): Promise<(number | undefined)[]>;
  /** kill -9 of member `index`; resolves when the process is gone. */
  kill(index: number): Promise<void>;
  /** Restarts member `index` on its data and waits until it serves. */
  restart(index: number): Promise<void>;
  /** A client of the given members. */
  client(members: readonly number[]): Promise<KvClient>;
}

export interface LoadOptions {
  readonly concurrency: number;
  /** Operations counted; ignored when `durationMs` is given. */
  readonly operations: number;
  /** Run for this long instead of a count (the last operations in flight still count). */
  readonly durationMs?: number;
  /** Operations run first and not counted. */
  readonly warmupOperations: number;
  /** The operation: `i` counts from 0 (warm-up has its own count). */
  readonly op: (i: number) => Promise<unknown>;
  /** Server PIDs for CPU per operation. */
  readonly serverPids: readonly number[];
  /** Stop issuing counted operations once this returns true (checked before each one). */
  readonly stopWhen?: () => boolean;
}

export interface LoadResult {
  readonly operations: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly wallMs: number;
  readonly opsPerSec: number;
  readonly latency: LatencyHistogram;
  /** Client process CPU µs per counted operation. */
  readonly clientCpuUsPerOp: number;
  /** Server CPU µs per counted operation (all PIDs), undefined if a server died meanwhile. */
  readonly serverCpuUsPerOp: number | undefined;
}

/** Runs `total` (or until `untilMs`) operations on `concurrency` workers. */
async function loop(
  concurrency: number,
  total: number,
  untilMs: number,
  op: (i: number) => Promise<unknown>,
  onDone: (latencyMs: number, error: unknown) => void,
  stopWhen: () => boolean = () => false,
): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (next >= total || performance.now() >= untilMs || stopWhen()) return;
      const i = next++;
      const startMs = performance.now();
      let error: unknown;
      try {
        await op(i);
      } catch (err) {
        error = err ?? 'error';
      }
      onDone(performance.now() - startMs, error);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return next;
}

export async function runClosedLoop(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, op } = options;
  if (options.warmupOperations > 0)
    await loop(concurrency, options.warmupOperations, Infinity, op, () => undefined);
  const latency = new LatencyHistogram();
  let errors = 0;
  let firstError: string | undefined;
  const server = new CpuSample(options.serverPids);
  const client = process.cpuUsage();
  const startMs = performance.now();
  const total = options.durationMs === undefined ? options.operations : Number.MAX_SAFE_INTEGER;
  const untilMs = options.durationMs === undefined ? Infinity : startMs + options.durationMs;
  const done = await loop(
    concurrency,
    total,
    untilMs,
    (i) => op(i),
    (ms, error) => {
      latency.recordMs(ms);
      if (error === undefined) return;
      errors++;
      firstError ??= error instanceof Error ? error.message : String(error);
    },
    options.stopWhen,
  );
  const wallMs = performance.now() - startMs;
  const cpu = process.cpuUsage(client);
  const serverMs = server.usedMs();
  return {
    operations: done,
    errors,
    firstError,
    wallMs,
    opsPerSec: (done * 1000) / wallMs,
    latency,
    clientCpuUsPerOp: (cpu.user + cpu.system) / done,
    serverCpuUsPerOp: serverMs === undefined ? undefined : (serverMs * 1000) / done,
  };
}
