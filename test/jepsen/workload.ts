/**
 * The Jepsen clients (issue 14): `clients` closed-loop clients, client i pinned to member
 * i mod n through its own etcd3 client (the peers harness's library), doing gets, puts of unique
 * values and compare-and-swaps on `keys` keys, every call and answer recorded on one clock
 * (performance.now() of this process) by the checker's HistoryRecorder.
 *
 * Mix per operation: 40 % get, 30 % put, 30 % CAS; a CAS is one txn comparing the modRevision
 * or the value this client last saw for the key (absent when it saw none) and putting a new
 * unique value. Gets are linearizable, or serializable for the positive control (answered from
 * the member's own state, no ReadIndex: a member cut off from the leader serves stale values).
 *
 * What an error means: a call refused before it reached any server ("No connection
 * established", ECONNREFUSED: the member is down) cannot have taken effect and is dropped from
 * the history (`failed`). Every other error, a deadline included, is indeterminate: the call
 * stays open for ever (`timedOut`), and the client continues as a new process (a new client id,
 * Jepsen's convention), since the old one is still, as far as anyone knows, in that call.
 */
import type { Etcd3 } from 'etcd3';
import { callEtcd } from '../../bench/lib-etcd-history.js';
import { etcd3Client } from '../../bench/lib-etcd.js';
import type { Rng } from '../../src/base/rng.js';
import type { KvInput, KvOutput } from '../../src/sim/linearizability/kv-model.js';
import type { HistoryRecorder } from '../../src/sim/linearizability/recorder.js';

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  readonly reads: 'linearizable' | 'serializable';
  /** Deadline of one call; past it the call is recorded as indeterminate. */
  readonly opTimeoutMs: number;
}

/** The workload: 5 clients, 10 keys, linearizable reads. */
export const WORKLOAD_DEFAULTS: WorkloadOptions = {
  clients: 5,
  keys: 10,
  reads: 'linearizable',
  opTimeoutMs: 2_000,
};

/** A client waits this long after an error before its next call (a down member refuses at once). */
export const ERROR_BACKOFF_MS = 50;
/** Distinct error messages kept in the stats (the rest are counted under their class only). */
export const ERROR_MESSAGES_MAX = 20;

/** gRPC channel options: reconnect to a restarted member within a second (defaults grow to 120 s). */
const GRPC_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
};

export interface WorkloadStats {
  invoked: number;
  ok: number;
  /** Indeterminate: left open in the history. */
  indeterminate: number;
  /** Refused before reaching a server: dropped from the history. */
  failed: number;
  byKind: Record<'get' | 'put' | 'cas', number>;
  casSucceeded: number;
  /** Error class (errorClass) -> count, at most ERROR_MESSAGES_MAX classes. */
  errors: Record<string, number>;
}

export function emptyStats(): WorkloadStats {
  return {
    invoked: 0,
    ok: 0,
    indeterminate: 0,
    failed: 0,
    byKind: { get: 0, put: 0, cas: 0 },
    casSucceeded: 0,
    errors: {},
  };
}

/** True for an error that proves the call never reached a server (see the module comment). */
export function neverSent(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /No connection established|ECONNREFUSED|failed to connect to all addresses/i.test(message);
}

/** What a client last saw of a key: the value (null: absent) and its modRevision. */
interface Seen {
  readonly value: string | null;
  readonly modRevision: number;
}

/** The operations the workload issues (no deletes). */
export type WorkloadInput = Extract<KvInput, { kind: 'get' | 'put' | 'cas' }>;

/** One client's next operation. `value` must be unique in the run. */
export function nextInput(
  rng: Rng,
  keys: number,
  seen: ReadonlyMap<string, Seen>,
  value: string,
): WorkloadInput {
  const key = `k${rng.int(keys)}`;
  const roll = rng.int(10);
  if (roll < 4) return { kind: 'get', key };
  if (roll < 7) return { kind: 'put', key, value };
  const last = seen.get(key);
  return rng.chance(1, 2) || last === undefined
    ? {
        kind: 'cas',
        key,
        compare: { target: 'modRevision', modRevision: last?.modRevision ?? 0 },
        value,
      }
    : { kind: 'cas', key, compare: { target: 'value', value: last.value }, value };
}

/** What the client now knows of the key after `output` answered `input`. */
function learn(seen: Map<string, Seen>, input: KvInput, output: KvOutput): void {
  if (input.kind === 'get')
    seen.set(input.key, { value: output.value ?? null, modRevision: output.modRevision ?? 0 });
  else if (input.kind === 'put' || (input.kind === 'cas' && output.succeeded === true))
    if (output.revision !== undefined)
      seen.set(input.key, { value: input.value, modRevision: output.revision });
}

/**
 * An error message without what varies from call to call (gRPC's timing notes after the first
 * comma, durations, addresses), so equal causes count together.
 */
export function errorClass(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split(',')[0] ?? '')
    .replace(/\d+\.\d+\.\d+\.\d+(:\d+)?/g, 'ADDR')
    .replace(/after [\d.]+m?s/g, 'after Ns')
    .replace(/\. Resolution note:.*$/, '')
    .slice(0, 200);
}

function countError(stats: WorkloadStats, err: unknown): void {
  const message = errorClass(err);
  if (message in stats.errors || Object.keys(stats.errors).length < ERROR_MESSAGES_MAX)
    stats.errors[message] = (stats.errors[message] ?? 0) + 1;
}

interface Client {
  readonly index: number;
  readonly etcd: Etcd3;
  readonly rng: Rng;
  readonly seen: Map<string, Seen>;
  process: number;
}

export interface WorkloadContext {
  readonly endpoints: readonly string[];
  readonly options: WorkloadOptions;
  readonly rng: Rng;
  readonly recorder: HistoryRecorder;
  /** The history's clock. */
  readonly nowMs: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

async function runClient(
  ctx: WorkloadContext,
  client: Client,
  untilMs: () => number,
  stats: WorkloadStats,
): Promise<void> {
  const serializable = ctx.options.reads === 'serializable';
  for (let seq = 0; ctx.nowMs() < untilMs(); seq++) {
    const value = `${client.process}-${seq}`;
    const input = nextInput(client.rng, ctx.options.keys, client.seen, value);
    const handle = ctx.recorder.invoke(client.process, input);
    stats.invoked++;
    stats.byKind[input.kind]++;
    try {
      const output = await callEtcd(client.etcd, input, serializable, ctx.options.opTimeoutMs);
      ctx.recorder.ok(handle, output);
      stats.ok++;
      if (output.succeeded === true) stats.casSucceeded++;
      learn(client.seen, input, output);
    } catch (err) {
      countError(stats, err);
      if (neverSent(err)) {
        ctx.recorder.failed(handle);
        stats.failed++;
      } else {
        ctx.recorder.timedOut(handle);
        stats.indeterminate++;
        client.process += ctx.options.clients;
      }
      await ctx.sleep(ERROR_BACKOFF_MS);
    }
  }
}

/**
 * Runs every client until `untilMs()` (read before each call, so the run can be cut short; a
 * call in flight then ends by its deadline).
 */
export async function runWorkload(
  ctx: WorkloadContext,
  untilMs: () => number,
): Promise<WorkloadStats> {
  const stats = emptyStats();
  const clients: Client[] = Array.from({ length: ctx.options.clients }, (_, index) => ({
    index,
    etcd: etcd3Client([ctx.endpoints[index % ctx.endpoints.length] as string], GRPC_OPTIONS),
    rng: ctx.rng.fork(`client-${index}`),
    seen: new Map(),
    process: index,
  }));
  try {
    await Promise.all(clients.map((client) => runClient(ctx, client, untilMs, stats)));
  } finally {
    for (const client of clients) client.etcd.close();
  }
  return stats;
}
