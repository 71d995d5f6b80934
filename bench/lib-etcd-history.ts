/**
 * Histories from real processes for the linearizability checker: clients of a fresh 3-member
 * etcd (lib-etcd.ts) record every call and answer (src/sim/linearizability/recorder.ts, one
 * performance.now() clock), the history is saved as a JSON history file and checked.
 *
 * Two modes:
 * - `linearizable`: closed-loop clients of all three members doing gets, puts (unique values)
 *   and CAS on modRevision over a few keys, while the leader is killed with kill -9 and
 *   restarted; etcd's linearizable reads and writes must pass.
 * - `stale-follower`: writers on the leader, and readers using serializable reads (answered
 *   from the member's own state, no ReadIndex) on a follower that is stopped (SIGSTOP) and
 *   resumed over and over, so it lags behind writes that were already acknowledged: the
 *   checker's positive control on real processes, which must find a stale read.
 *
 * Any error is recorded as a timeout (the call may have taken effect): etcd does not say which
 * failures are harmless. Run: `npx tsx bench/lib-etcd-history.ts [--mode linearizable|stale-follower]
 * [--duration-ms 10000] [--clients 4] [--out FILE]`, then `npm run lincheck -- FILE`.
 */
import { writeFileSync } from 'node:fs';
import type { Etcd3 } from 'etcd3';
import { checkKvHistory } from '../src/sim/linearizability/kv-check.js';
import { formatHistoryFile } from '../src/sim/linearizability/history-file.js';
import type { KvInput, KvOutput } from '../src/sim/linearizability/kv-model.js';
import { HistoryRecorder } from '../src/sim/linearizability/recorder.js';
import { EtcdCluster, etcd3Client, etcdVersion } from './lib-etcd.js';
import { checkFlags, flagNumber, isMain, parseFlags, sleep } from './lib-report.js';

export type HistoryMode = 'linearizable' | 'stale-follower';

export interface EtcdHistoryOptions {
  readonly mode: HistoryMode;
  readonly durationMs: number;
  readonly clients: number;
  readonly keys: readonly string[];
}

/** Deadline of one call; past it the call is recorded as timed out. */
const CALL_TIMEOUT_MS = 1_000;
/** stale-follower: how long the follower stays stopped, and runs, per cycle. */
const FOLLOWER_STOP_MS = 300;
const FOLLOWER_RUN_MS = 200;

/**
 * Runs one call through `etcd` and says what it answered, in the kv model's terms (also the
 * Jepsen harness's client, test/jepsen/workload.ts). A CAS is one txn: compare the modRevision,
 * or the value (absent: version 0), then put its value (or delete when it is null).
 */
export async function callEtcd(
  etcd: Etcd3,
  input: KvInput,
  serializable: boolean,
  timeoutMs = CALL_TIMEOUT_MS,
): Promise<KvOutput> {
  const options = (): { deadline: number } => ({ deadline: Date.now() + timeoutMs });
  switch (input.kind) {
    case 'get': {
      const response = await etcd
        .get(input.key)
        .serializable(serializable)
        .options(options())
        .exec();
      const kv = response.kvs[0];
      return kv === undefined
        ? { value: null }
        : { value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) };
    }
    case 'put': {
      const response = await etcd.put(input.key).value(input.value).options(options()).exec();
      return { revision: Number(response.header.revision) };
    }
    case 'cas': {
      const { compare, key, value } = input;
      const txn =
        compare.target === 'modRevision'
          ? etcd.if(key, 'Mod', '==', compare.modRevision)
          : compare.value === null
            ? etcd.if(key, 'Version', '==', 0)
            : etcd.if(key, 'Value', '==', compare.value);
      const response = await txn
        .then(value === null ? etcd.delete().key(key) : etcd.put(key).value(value))
        .options(options())
        .commit();
      return response.succeeded
        ? { succeeded: true, revision: Number(response.header.revision) }
        : { succeeded: false };
    }
    case 'delete':
      throw new Error('this recorder issues no deletes');
  }
}

interface Worker {
  readonly id: number;
  readonly etcd: Etcd3;
  readonly reads: 'linearizable' | 'serializable' | 'none';
  /** The last modRevision this worker saw per key, for its next CAS. */
  readonly seen: Map<string, number>;
}

function nextInput(worker: Worker, seq: number, keys: readonly string[]): KvInput {
  const key = keys[(seq * 7 + worker.id) % keys.length] as string;
  const value = `c${worker.id}-${seq}`;
  if (worker.reads === 'serializable') return { kind: 'get', key };
  const choice = (seq + worker.id) % 5;
  if (worker.reads === 'linearizable' && choice < 2) return { kind: 'get', key };
  if (choice === 4)
    return {
      kind: 'cas',
      key,
      compare: { target: 'modRevision', modRevision: worker.seen.get(key) ?? 0 },
      value,
    };
  return { kind: 'put', key, value };
}

async function runWorker(
  worker: Worker,
  recorder: HistoryRecorder,
  keys: readonly string[],
  untilMs: number,
): Promise<void> {
  for (let seq = 0; performance.now() < untilMs; seq++) {
    const input = nextInput(worker, seq, keys);
    const handle = recorder.invoke(worker.id, input);
    try {
      const output = await callEtcd(worker.etcd, input, worker.reads === 'serializable');
      recorder.ok(handle, output);
      if (output.modRevision !== undefined) worker.seen.set(input.key, output.modRevision);
      if (output.revision !== undefined && input.kind !== 'get')
        worker.seen.set(input.key, output.revision);
    } catch {
      recorder.timedOut(handle);
      await sleep(10);
    }
  }
}

/** Kills the leader a third of the way in and restarts it two seconds later. */
async function killLeaderOnce(cluster: EtcdCluster, durationMs: number): Promise<void> {
  await sleep(durationMs / 3);
  const leader = await cluster.leader();
  if (leader === undefined) return;
  await cluster.kill(leader);
  await sleep(2_000);
  await cluster.restart(leader);
}

/** Stops and resumes `index` until `untilMs`, leaving it running. */
async function stutter(cluster: EtcdCluster, index: number, untilMs: number): Promise<void> {
  while (performance.now() + FOLLOWER_STOP_MS < untilMs) {
    cluster.signal(index, 'SIGSTOP');
    await sleep(FOLLOWER_STOP_MS);
    cluster.signal(index, 'SIGCONT');
    await sleep(FOLLOWER_RUN_MS);
  }
}

/** Records a history against a fresh etcd cluster, then stops it. */
export async function recordEtcdHistory(opts: EtcdHistoryOptions): Promise<HistoryRecorder> {
  const cluster = new EtcdCluster({ members: 3, heartbeatMs: 100, electionMs: 1000 });
  const recorder = new HistoryRecorder(() => performance.now());
  const workers: Worker[] = [];
  try {
    await cluster.start();
    const leader = (await cluster.leader()) ?? 0;
    const follower = (leader + 1) % 3;
    const all = [0, 1, 2].map((i) => cluster.endpoint(i));
    for (let id = 0; id < opts.clients; id++) {
      const stale = opts.mode === 'stale-follower' && id % 2 === 1;
      const hosts =
        opts.mode === 'linearizable' ? all : [cluster.endpoint(stale ? follower : leader)];
      workers.push({
        id,
        etcd: etcd3Client(hosts),
        reads: stale ? 'serializable' : opts.mode === 'linearizable' ? 'linearizable' : 'none',
        seen: new Map(),
      });
    }
    const untilMs = performance.now() + opts.durationMs;
    const fault =
      opts.mode === 'linearizable'
        ? killLeaderOnce(cluster, opts.durationMs)
        : stutter(cluster, follower, untilMs);
    await Promise.all([fault, ...workers.map((w) => runWorker(w, recorder, opts.keys, untilMs))]);
  } finally {
    for (const w of workers) w.etcd.close();
    await cluster.stop();
  }
  return recorder;
}

export async function main(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['mode', 'duration-ms', 'clients', 'out']);
  const mode = (flags.get('mode') ?? 'linearizable') as HistoryMode;
  if (mode !== 'linearizable' && mode !== 'stale-follower')
    throw new Error(`--mode ${mode}: expected linearizable or stale-follower`);
  const version = etcdVersion();
  if (version === undefined) throw new Error('etcd is not installed (Debian: etcd-server)');
  const opts: EtcdHistoryOptions = {
    mode,
    durationMs: flagNumber(flags, 'duration-ms', 10_000),
    clients: flagNumber(flags, 'clients', 4),
    keys: ['k0', 'k1', 'k2', 'k3'],
  };
  const recorder = await recordEtcdHistory(opts);
  const source = `etcd ${version}, 3 members, ${mode}, ${opts.clients} clients, ${opts.durationMs} ms`;
  const out = flags.get('out') ?? `/tmp/shoal-etcd-history-${mode}.json`;
  writeFileSync(out, formatHistoryFile(recorder.toHistory(source)));
  const started = performance.now();
  const { result, text } = checkKvHistory(recorder.operations());
  const lines = text.split('\n');
  process.stdout.write(
    `${source}: ${recorder.operations().length} operations (${recorder.answered()} answered) saved to ${out}\n` +
      `checked in ${(performance.now() - started).toFixed(0)} ms:\n${lines.slice(0, 40).join('\n')}\n` +
      (lines.length > 40
        ? `… (${lines.length - 40} more lines: npm run lincheck -- ${out})\n`
        : ''),
  );
  return result.verdict === 'ok' ? 0 : result.verdict === 'illegal' ? 1 : 3;
}

if (isMain(import.meta.url)) process.exit(await main(process.argv.slice(2)));
