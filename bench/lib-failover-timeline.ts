/**
 * One failover trial with its time broken down (raft-failover.ts; the probe of
 * raft-etcd-baseline.ts's `failoverTrial`, plus the phases): kill -9 the leader of a 3-member
 * cluster, then, in ms from the kill,
 *
 * - `preVoteMs`: a survivor starts a PreVote round (etcd: "became pre-candidate" in its log,
 *   absent when etcd runs without --pre-vote, 3.4's default; Shoal: `preVotesStarted` rose);
 * - `campaignMs`: a survivor starts a real election (etcd: "became candidate"; Shoal:
 *   `electionsStarted` rose);
 * - `electedMs`: a survivor leads (etcd: "became leader"; Shoal: its /v1/raft role);
 * - `noopMs`: the new leader's commit index passed every survivor's at the kill (its term's
 *   first entry, the no-op, committed; etcd status `raftIndex`, Shoal /v1/raft `commitIndex`);
 * - `proposedMs` (Shoal only): the new leader accepted its first proposal (a client's retry
 *   reached it, directly or forwarded): `proposalsAccepted` rose;
 * - `leaderMs`: a majority names the new leader; `writeMs`: the first acknowledged put.
 *
 * Logged times (etcd's) are the members' own clocks, to the ms; polled ones (every member's status
 * every LEADER_POLL_MS, both systems) are when the bench saw them, later by up to a poll and the
 * request's own time on the loaded machine. etcd logs none of the no-op or proposal steps, Shoal
 * logs no election steps, so each system is read where it says most.
 */
import type { ClusterSettings, KvClient } from './lib-load.js';
import type { RaftSystem, RaftView } from './lib-raft-systems.js';
import { sleep } from './lib-report.js';
import { majorityLeader } from './raft-etcd-baseline.js';

const LEADER_POLL_MS = 5;
const PROBE_INTERVAL_MS = 10;
const PROBE_TIMEOUT_MS = 500;
/** A trial without a new leader or an acknowledged write this long after the kill failed. */
const FAILOVER_WAIT_MS = 20_000;
/** The restarted member gets this long before the next kill. */
const SETTLE_MS = 2_000;
const LEADER_WAIT_MS = 30_000;

export const PHASES = [
  'preVoteMs',
  'campaignMs',
  'electedMs',
  'noopMs',
  'proposedMs',
  'leaderMs',
  'writeMs',
] as const;
export type Phase = (typeof PHASES)[number];
export type TimedTrial = { [P in Phase]?: number | undefined };

async function waitMajorityLeader(system: RaftSystem): Promise<number> {
  const deadline = performance.now() + LEADER_WAIT_MS;
  while (performance.now() < deadline) {
    const leader = majorityLeader(await system.leaderViews(), system.size);
    if (leader !== undefined) return leader;
    await sleep(50);
  }
  throw new Error(`${system.name}: no leader agreed by a majority after ${LEADER_WAIT_MS} ms`);
}

interface Watch {
  readonly survivors: readonly number[];
  readonly before: ReadonlyMap<number, RaftView>;
  readonly commitBefore: number;
  readonly oldTerm: number;
}

/** Records in `trial` the polled phases the survivors' views show now. */
function notePolled(
  watch: Watch,
  views: readonly (RaftView | undefined)[],
  at: number,
  trial: TimedTrial,
): void {
  for (const [k, view] of views.entries()) {
    const index = watch.survivors[k] as number;
    const base = watch.before.get(index);
    if (view === undefined || base === undefined) continue;
    const rose = (key: 'preVotes' | 'elections' | 'proposals'): boolean =>
      (view[key] ?? 0) > (base[key] ?? 0);
    if (rose('preVotes')) trial.preVoteMs ??= at;
    if (rose('elections')) trial.campaignMs ??= at;
    if (!view.leads || view.term <= watch.oldTerm) continue;
    trial.electedMs ??= at;
    if (view.commitIndex > watch.commitBefore) trial.noopMs ??= at;
    if (rose('proposals')) trial.proposedMs ??= at;
  }
}

/** Fills the election phases from the survivors' logs (etcd), where the logs have them. */
function noteLogged(
  system: RaftSystem,
  watch: Watch,
  killedWallMs: number,
  trial: TimedTrial,
): void {
  const events = watch.survivors.flatMap((i) => system.electionEvents(i, killedWallMs - 1));
  if (events.length === 0) return;
  const first = (kind: string): number | undefined => {
    const times = events.filter((e) => e.kind === kind).map((e) => e.atMs - killedWallMs);
    return times.length === 0 ? undefined : Math.max(0, Math.min(...times));
  };
  trial.preVoteMs = first('pre-candidate');
  trial.campaignMs = first('candidate');
  trial.electedMs = first('leader') ?? trial.electedMs;
}

/** Kills the leader once and times every phase until the first acknowledged write. */
export async function timedFailoverTrial(
  system: RaftSystem,
  settings: ClusterSettings,
  value: Uint8Array,
): Promise<TimedTrial> {
  const leader = await waitMajorityLeader(system);
  const survivors = Array.from({ length: settings.members }, (_, i) => i).filter(
    (i) => i !== leader,
  );
  const clients: KvClient[] = await Promise.all(survivors.map((i) => system.client([i])));
  const trial: TimedTrial = {};
  try {
    for (const c of clients) await c.put('bench/failover/ready', value, 5_000);
    await sleep(300);
    const before = new Map<number, RaftView>();
    for (const i of survivors) {
      const view = await system.raftView(i);
      if (view === undefined) throw new Error(`${system.name}: member ${i} has no status`);
      before.set(i, view);
    }
    const views = [...before.values()];
    const watch: Watch = {
      survivors,
      before,
      commitBefore: Math.max(...views.map((v) => v.commitIndex)),
      oldTerm: Math.max(...views.map((v) => v.term)),
    };
    const killedWallMs = Date.now();
    const killedAtMs = performance.now();
    await system.kill(leader);
    const probes = setInterval(() => {
      for (const c of clients)
        c.put('bench/failover/probe', value, PROBE_TIMEOUT_MS).then(
          () => (trial.writeMs ??= performance.now() - killedAtMs),
          () => undefined,
        );
    }, PROBE_INTERVAL_MS);
    try {
      while (performance.now() - killedAtMs < FAILOVER_WAIT_MS) {
        const [leaderViews, raftViews] = await Promise.all([
          system.leaderViews(),
          Promise.all(survivors.map((i) => system.raftView(i))),
        ]);
        const at = performance.now() - killedAtMs;
        notePolled(watch, raftViews, at, trial);
        if (majorityLeader(leaderViews, settings.members, leader) !== undefined)
          trial.leaderMs ??= at;
        const done = trial.leaderMs !== undefined && trial.writeMs !== undefined;
        if (done && trial.noopMs !== undefined) break;
        await sleep(LEADER_POLL_MS);
      }
    } finally {
      clearInterval(probes);
    }
    noteLogged(system, watch, killedWallMs, trial);
    await system.restart(leader);
    await sleep(SETTLE_MS);
    return trial;
  } finally {
    for (const c of clients) c.close();
  }
}
