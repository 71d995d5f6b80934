/**
 * Catch-up of a follower that was down (issue 13): in a 3-member cluster (100 ms heartbeat,
 * 1,000 ms election), kill -9 a follower, write 100,000 entries (256 B puts to distinct keys,
 * c = 64, client pinned to the leader), then restart the follower on its data dir while a put
 * load (c = 16) keeps running on the leader, and measure:
 *
 * - the time from the restart (spawn) until the follower has applied everything the leader had
 *   committed when it was restarted (applied index polled every 50 ms: etcd's
 *   `etcd_server_proposals_applied_total`, Shoal's /v1/raft), and how much of it the process
 *   took to start serving;
 * - the leader's put p50/p99/max during the catch-up, beside the same load for the same time
 *   just before the restart (the follower down);
 * - whether a snapshot was sent: both systems compact their log long before 100,000 entries
 *   behind (Shoal every snapshotEntries, 100,000 by default; etcd 3.4 at --snapshot-count
 *   100,000, keeping 5,000), so the follower must install one (etcd: `etcd_network_snapshot_receive_success` on the
 *   follower; Shoal: `snapshotsInstalled` in its /v1/stats).
 *
 *   npx tsx bench/raft-catchup.ts [--entries 100000] [--systems etcd,shoal]
 */
import { loadavg } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { etcd3Client, etcdVersion } from './lib-etcd.js';
import { runClosedLoop, type LoadResult } from './lib-load.js';
import { raftSystems, withAgentNote, type RaftSystem } from './lib-raft-systems.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';
import { LOAD_SETTINGS, waitLeader } from './etcd-vs-shoal.js';

export const DEFAULT_ENTRIES = 100_000;
const WRITE_CONCURRENCY = 64;
const LOAD_CONCURRENCY = 16;
const POLL_MS = 50;
/** Bound on the catch-up (the load runs at most this long). */
const CATCHUP_WAIT_MS = 300_000;
/** The reference load before the restart runs this long, ms. */
const REFERENCE_MS = 5_000;
const VALUE = Buffer.alloc(256, 'c');

export interface CatchupResult {
  readonly system: string;
  readonly entries: number;
  readonly writeOpsPerSec: number;
  readonly writeErrors: number;
  /** p99 and longest put while the entries were written (the longest stall: snapshots). */
  readonly writeP99Ms: number | undefined;
  readonly writeMaxMs: number | undefined;
  /** ms from the restart until the follower applied the leader's commit index at restart. */
  readonly caughtUpMs: number | undefined;
  /** ms from the restart until the restarted member served (its `restart` resolved). */
  readonly servingMs: number | undefined;
  readonly target: number | undefined;
  readonly snapshotsReceived: number | undefined;
  readonly reference: LoadResult;
  readonly during: LoadResult;
  readonly load1: number;
}

export async function measureCatchup(system: RaftSystem, entries: number): Promise<CatchupResult> {
  const load1 = loadavg()[0] ?? 0;
  await system.start(LOAD_SETTINGS);
  let client: Etcd3 | undefined;
  try {
    const leader = await waitLeader(system);
    const follower = leader === 0 ? 1 : 0;
    const pinned = etcd3Client([system.endpoint(leader)]);
    client = pinned;
    await system.kill(follower);
    const write = await runClosedLoop({
      concurrency: WRITE_CONCURRENCY,
      operations: entries,
      warmupOperations: 0,
      op: (i) => pinned.put(`bench/catchup/${i}`).value(VALUE).exec(),
      serverPids: system.pids(),
    });
    let n = 0;
    const put = (): Promise<unknown> => pinned.put(`bench/catchup-load/${n++}`).value(VALUE).exec();
    const reference = await runClosedLoop({
      concurrency: LOAD_CONCURRENCY,
      operations: Number.MAX_SAFE_INTEGER,
      durationMs: REFERENCE_MS,
      warmupOperations: 0,
      op: put,
      serverPids: system.pids(),
    });
    const target = await system.appliedIndex(leader);
    let caughtUpMs: number | undefined;
    let servingMs: number | undefined;
    const restartedAtMs = performance.now();
    const restarting = system.restart(follower).then(
      () => (servingMs = performance.now() - restartedAtMs),
      (err: unknown) => process.stderr.write(`${system.name}: restart failed: ${String(err)}\n`),
    );
    const watch = (async () => {
      while (performance.now() - restartedAtMs < CATCHUP_WAIT_MS) {
        const applied = await system.appliedIndex(follower);
        if (target !== undefined && applied !== undefined && applied >= target) {
          caughtUpMs = performance.now() - restartedAtMs;
          return;
        }
        await sleep(POLL_MS);
      }
    })();
    const during = await runClosedLoop({
      concurrency: LOAD_CONCURRENCY,
      operations: Number.MAX_SAFE_INTEGER,
      durationMs: CATCHUP_WAIT_MS,
      warmupOperations: 0,
      op: put,
      serverPids: [],
      stopWhen: () => caughtUpMs !== undefined,
    });
    await watch;
    await restarting;
    return {
      system: system.name,
      entries,
      writeOpsPerSec: write.opsPerSec,
      writeErrors: write.errors,
      writeP99Ms: write.latency.p99Ms(),
      writeMaxMs: write.latency.maxMs(),
      caughtUpMs,
      servingMs,
      target,
      snapshotsReceived: await system.snapshotsReceived(follower),
      reference,
      during,
      load1,
    };
  } finally {
    client?.close();
    await system.stop();
  }
}

export function renderCatchup(results: readonly CatchupResult[]): string {
  const rows = results.map((r) => [
    r.system,
    String(r.entries),
    `${fmt(r.writeOpsPerSec)} (${r.writeErrors} errors)`,
    `${fmt(r.writeP99Ms, 1)} / ${fmt(r.writeMaxMs, 1)}`,
    fmt(r.caughtUpMs),
    fmt(r.servingMs),
    fmt(r.target),
    fmt(r.snapshotsReceived),
    `${fmt(r.reference.latency.p50Ms(), 2)} / ${fmt(r.reference.latency.p99Ms(), 2)} / ${fmt(r.reference.latency.maxMs(), 1)}`,
    `${fmt(r.during.latency.p50Ms(), 2)} / ${fmt(r.during.latency.p99Ms(), 2)} / ${fmt(r.during.latency.maxMs(), 1)}`,
    `${fmt(r.reference.opsPerSec)} → ${fmt(r.during.opsPerSec)}`,
    String(r.reference.errors + r.during.errors),
    r.load1.toFixed(1),
  ]);
  return [
    table(
      [
        'system',
        'entries behind',
        'write ops/s while down',
        'write p99 / max ms',
        'caught up ms',
        'serving ms',
        'leader index at restart',
        'snapshots received',
        'put p50/p99/max ms before',
        'put p50/p99/max ms during catch-up',
        'put ops/s before → during',
        'put errors',
        'load',
      ],
      rows,
    ),
    '',
    `A follower of a 3-member loopback cluster is killed (-9), the entries are written at c=${WRITE_CONCURRENCY} through the leader, and the follower restarts; ` +
      `"caught up": from the restart until its applied index reaches the leader's at the restart; "serving": until the member answers as a follower of the leader. ` +
      `Put latencies: c=${LOAD_CONCURRENCY} on the leader, ${REFERENCE_MS / 1000} s before the restart (follower down) and during the catch-up. Load: 1-min load average at the start.`,
    machineNote(),
  ].join('\n');
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['entries', 'systems']);
  if (etcdVersion() === undefined) return 'etcd is not installed (Debian: etcd-server): skipped.';
  const entries = flagNumber(flags, 'entries', DEFAULT_ENTRIES);
  const results: CatchupResult[] = [];
  const systems = raftSystems(flags.get('systems')?.split(',') ?? ['etcd', 'shoal']);
  for (const system of systems) results.push(await measureCatchup(system, entries));
  return withAgentNote(renderCatchup(results), systems);
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
