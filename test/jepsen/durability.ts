/**
 * Durability on real processes (issue 13, "Proof"): a 3-member Shoal raft cluster of agent
 * processes (bench/lib-shoal.ts) under a write load, and kill -9 of EVERY member in the middle
 * of it, `rounds` times: all three die at once, all three restart on their data dirs, the load
 * goes on.
 *
 * Two loads run through the whole test:
 * - the Jepsen workload (workload.ts: 5 etcd3 clients doing gets, puts of unique values and
 *   compare-and-swaps on 10 keys, through the etcd gRPC endpoint, every call recorded), whose
 *   history must pass the linearizability checker, kills included;
 * - a durability writer that puts unique keys `ack/<n>` through the HTTP API of each member in
 *   turn; after every restart a linearizable read of the `ack/` prefix must hold every key whose
 *   put was acknowledged (answered 200) before the kill: zero lost.
 *
 * `npm test` runs a few rounds (durability.test.ts); `npm run durability -- --rounds 20` the full
 * test (scripts/durability.ts). No root, no namespaces: loopback only.
 */
import { ShoalCluster } from '../../bench/lib-shoal.js';
import { Rng } from '../../src/base/rng.js';
import { checkKvHistory, type KvCheck } from '../../src/sim/linearizability/kv-check.js';
import type { KvInput, KvOutput } from '../../src/sim/linearizability/kv-model.js';
import type { Operation } from '../../src/sim/linearizability/model.js';
import { HistoryRecorder } from '../../src/sim/linearizability/recorder.js';
import { runWorkload, WORKLOAD_DEFAULTS, type WorkloadStats } from './workload.js';

export interface DurabilityOptions {
  readonly rounds: number;
  readonly seed: number;
  /** Load between two kills, ms: drawn in [min, max]. */
  readonly loadMsMin: number;
  readonly loadMsMax: number;
  readonly clients: number;
  /** Raft timings of the cluster. */
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly log: (line: string) => void;
}

export const DURABILITY_DEFAULTS: Omit<DurabilityOptions, 'rounds' | 'log'> = {
  seed: 1,
  loadMsMin: 1_000,
  loadMsMax: 3_000,
  clients: WORKLOAD_DEFAULTS.clients,
  heartbeatMs: 50,
  electionMs: 300,
};

export interface RoundRecord {
  readonly round: number;
  /** Acknowledged ack/ writes before this round's kill. */
  readonly acknowledged: number;
  /** Acknowledged writes missing after the restart (must be empty). */
  readonly lost: readonly string[];
  /** From the kill to every member serving again, ms. */
  readonly recoveryMs: number;
}

export interface DurabilityResult {
  readonly rounds: readonly RoundRecord[];
  readonly acknowledged: number;
  readonly lost: number;
  readonly operations: readonly Operation<KvInput, KvOutput>[];
  readonly workload: WorkloadStats;
  readonly check: KvCheck;
}

/** Bound on one HTTP call of the ack writer or the check, ms. */
const CALL_TIMEOUT_MS = 2_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Puts `ack/<n>` through member n mod 3 until `stopped()`; acknowledged keys go to `acked`. */
async function ackWriter(
  cluster: ShoalCluster,
  acked: Set<string>,
  stopped: () => boolean,
): Promise<void> {
  for (let n = 0; !stopped(); n++) {
    const key = `ack/${String(n).padStart(8, '0')}`;
    try {
      const response = await fetch(`http://${cluster.http(n % cluster.size)}/v1/kv/${key}`, {
        method: 'PUT',
        body: `v${n}`,
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      if (response.status === 200) acked.add(key);
    } catch {
      await sleep(20); // down or timed out: not acknowledged
    }
  }
}

/** The ack/ keys the cluster holds now (a linearizable read on any serving member). */
async function presentKeys(cluster: ShoalCluster): Promise<Set<string>> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const member = attempt % cluster.size;
    try {
      const response = await fetch(`http://${cluster.http(member)}/v1/kv/ack/?prefix`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status === 200) {
        const body = (await response.json()) as { kvs: { key: string }[]; more: boolean };
        return new Set(body.kvs.map((kv) => kv.key));
      }
    } catch {
      // try the next member
    }
    await sleep(200);
  }
  throw new Error('no member answered the read of ack/ after the restart');
}

export async function runDurability(options: DurabilityOptions): Promise<DurabilityResult> {
  const cluster = new ShoalCluster({
    members: 3,
    heartbeatMs: options.heartbeatMs,
    electionMs: options.electionMs,
    profile: 'local',
    clusterId: 'durability',
  });
  const rng = new Rng(options.seed);
  const recorder = new HistoryRecorder(() => performance.now());
  const acked = new Set<string>();
  let stopped = false;
  const rounds: RoundRecord[] = [];
  await cluster.start();
  try {
    const endpoints = Array.from({ length: cluster.size }, (_, i) =>
      cluster.endpoint(i).replace('http://', ''),
    );
    const workload = runWorkload(
      {
        endpoints,
        options: { ...WORKLOAD_DEFAULTS, clients: options.clients },
        rng: rng.fork('workload'),
        recorder,
        nowMs: () => performance.now(),
        sleep,
      },
      () => (stopped ? 0 : Number.POSITIVE_INFINITY),
    );
    const writer = ackWriter(cluster, acked, () => stopped);
    try {
      for (let round = 1; round <= options.rounds; round++) {
        await sleep(rng.range(options.loadMsMin, options.loadMsMax));
        const before = new Set(acked);
        const killedAt = performance.now();
        await Promise.all([0, 1, 2].map((i) => cluster.kill(i)));
        for (const i of [0, 1, 2]) await cluster.spawn(i);
        await cluster.waitServing([0, 1, 2]);
        const recoveryMs = performance.now() - killedAt;
        const present = await presentKeys(cluster);
        const lost = [...before].filter((key) => !present.has(key));
        rounds.push({ round, acknowledged: before.size, lost, recoveryMs });
        options.log(
          `round ${round}: ${before.size} acknowledged writes before the kill, ${lost.length} lost; serving again after ${Math.round(recoveryMs)} ms; ${recorder.answered()} operations answered`,
        );
      }
    } finally {
      stopped = true;
      await writer;
    }
    const stats = await workload;
    const operations = recorder.operations();
    return {
      rounds,
      acknowledged: acked.size,
      lost: rounds.reduce((n, r) => n + r.lost.length, 0),
      operations,
      workload: stats,
      check: checkKvHistory(operations),
    };
  } finally {
    stopped = true;
    await cluster.stop();
  }
}
