/**
 * Raft's cluster-wide invariants (Raft Fig. 3 and thesis §3.6.3), checked by the simulator after
 * every event across every node, with the bounds they are checked to:
 *
 * - election-safety: at most one leader per term, over the whole run (§5.2).
 * - log-matching: two entries with the same index and term hold the same command and follow
 *   entries of the same term (§5.3); checked inductively on every entry once per node, so two
 *   logs that share (index, term) share their whole prefix.
 * - leader-completeness: a leader of term T holds every entry committed (by any node's commit
 *   index) in a term below T (§5.4), checked when it is first seen leading and for every entry
 *   seen committed later.
 * - committed-once: no index is ever seen committed with two different terms.
 * - state-machine-safety: no two nodes apply different entries at one index, and each node life
 *   applies indexes in order, once each (raft-machine.ts, at the moment of the apply).
 * - commit-durable: what a commit index promises now that a commit that moved alone is not
 *   written on its own (it rides along with the next write, as etcd's): within a life it never
 *   goes back; after a restart it starts at or above the highest commit the node wrote durably
 *   (it may be below the one it had); and what the node applied in any life is never lost from
 *   its durable state: the highest index it ever applied is covered by its snapshot or held in
 *   its log with the term it was applied with (so replaying the log gives the same state;
 *   state-machine-safety compares what is applied).
 * - one-vote-per-term: once a grant for term T left a node, while it is in term T it remembers
 *   that vote (§5.2, across restarts).
 * - term-never-below-sent: a node's term never drops below a term it already sent (§5.1).
 * - reads-see-commits: a linearizable read is served at an index at least as high as every
 *   commit index any node had when the read was asked (thesis §6.4).
 */
import type { Address } from '../../base/address.js';
import type { NodeId } from '../../identity/node-id.js';
import type { Entry, RaftRecord } from '../../raft/log-types.js';
import { termAt } from '../../raft/log.js';
import type { RaftMessage } from '../../raft/messages.js';
import type { RaftState } from '../../raft/types.js';
import type { ShoalNode } from '../../node/node.js';
import type { Checker } from '../checkers.js';
import { entryDigest, type RaftObservations } from './raft-machine.js';

export interface RaftView {
  /** Each node's running life, or undefined while it is down. */
  readonly nodes: ReadonlyMap<Address, ShoalNode | undefined>;
  readonly ids: ReadonlyMap<Address, NodeId>;
  readonly observations: RaftObservations;
}

/** The Raft state of a running node. */
export function raftStateOf(node: ShoalNode | undefined): RaftState | undefined {
  return node?.internals.raft?.state;
}

/** The running nodes with their Raft state. */
function running(view: RaftView): readonly [Address, RaftState][] {
  const list: [Address, RaftState][] = [];
  for (const [address, node] of view.nodes) {
    const state = raftStateOf(node);
    if (state !== undefined) list.push([address, state]);
  }
  return list;
}

export function electionSafety(): Checker<RaftView> {
  const leaderOfTerm = new Map<number, NodeId>();
  return {
    name: 'election-safety',
    check(view) {
      for (const [, state] of running(view)) {
        if (state.role !== 'leader') continue;
        const known = leaderOfTerm.get(state.term);
        if (known === undefined) leaderOfTerm.set(state.term, state.selfId);
        else if (known !== state.selfId)
          return [`two leaders in term ${state.term}: ${known} and ${state.selfId}`];
      }
      return [];
    },
  };
}

export function logMatching(): Checker<RaftView> {
  const verified = new WeakSet<Entry>();
  const byKey = new Map<string, { prevTerm: number; digest: string; at: Address }>();
  return {
    name: 'log-matching',
    check(view) {
      for (const [address, state] of running(view)) {
        const { entries } = state.log;
        let k = entries.length - 1;
        while (k >= 0 && !verified.has(entries[k] as Entry)) k--;
        for (k++; k < entries.length; k++) {
          const entry = entries[k] as Entry;
          const prevTerm = k === 0 ? state.log.snapshotTerm : (entries[k - 1] as Entry).term;
          const key = `${entry.index}@${entry.term}`;
          const digest = entryDigest(entry);
          const known = byKey.get(key);
          if (known === undefined) byKey.set(key, { prevTerm, digest, at: address });
          else if (known.prevTerm !== prevTerm || known.digest !== digest)
            return [
              `entry ${key} at ${address} (${digest}, after term ${prevTerm}) differs from ${known.at}'s (${known.digest}, after term ${known.prevTerm})`,
            ];
          verified.add(entry);
        }
      }
      return [];
    },
  };
}

/** Leader Completeness and "committed once", from every node's commit index. */
export function leaderCompleteness(): Checker<RaftView> {
  const committed = new Map<number, number>();
  const seenUpTo = new WeakMap<RaftState, number>();
  const checkedLeaders = new Set<string>();
  const missing = (state: RaftState, index: number, term: number): boolean =>
    index > state.log.snapshotIndex && termAt(state.log, index) !== term;
  return {
    name: 'leader-completeness',
    check(view) {
      const fresh: [number, number][] = [];
      for (const [address, state] of running(view)) {
        const from = Math.max(seenUpTo.get(state) ?? 0, state.log.snapshotIndex);
        for (let i = from + 1; i <= state.commitIndex; i++) {
          const t = termAt(state.log, i) as number;
          const known = committed.get(i);
          if (known === undefined) {
            committed.set(i, t);
            fresh.push([i, t]);
          } else if (known !== t)
            return [`index ${i} committed with term ${known} and, at ${address}, term ${t}`];
        }
        seenUpTo.set(state, Math.max(from, state.commitIndex));
      }
      for (const [address, state] of running(view)) {
        if (state.role !== 'leader') continue;
        const key = `${address}@${state.term}`;
        const all = !checkedLeaders.has(key);
        checkedLeaders.add(key);
        for (const [i, t] of all ? committed : fresh)
          if (t < state.term && missing(state, i, t))
            return [
              `leader ${address} of term ${state.term} lacks entry ${i}@${t}, committed earlier (§5.4)`,
            ];
      }
      return [];
    },
  };
}

export function stateMachineSafety(): Checker<RaftView> {
  return {
    name: 'state-machine-safety',
    check: (view) => view.observations.violations.slice(0, 1),
  };
}

/** What left each node and what became durable there, seen at the driver's boundaries. */
export class RaftSentLog {
  readonly termSent = new Map<Address, number>();
  /** voter -> term -> the candidate's address. */
  readonly granted = new Map<Address, Map<number, Address>>();
  readonly durableCommit = new Map<Address, number>();

  sent(address: Address, to: Address, m: RaftMessage): void {
    const proposed = m.type === 'raft-vote-request' && m.preVote;
    const echoed = m.type === 'raft-vote-response' && m.preVote && m.granted;
    if (!proposed && !echoed && m.term > (this.termSent.get(address) ?? 0))
      this.termSent.set(address, m.term);
    if (m.type !== 'raft-vote-response' || m.preVote || !m.granted) return;
    let votes = this.granted.get(address);
    if (votes === undefined) this.granted.set(address, (votes = new Map()));
    votes.set(m.term, to);
  }

  durable(address: Address, records: readonly RaftRecord[]): void {
    for (const record of records)
      if (record.kind === 'hard-state')
        this.durableCommit.set(
          address,
          Math.max(this.durableCommit.get(address) ?? 0, record.hardState.commit),
        );
  }
}

export function commitDurable(sent: RaftSentLog): Checker<RaftView> {
  const lastCommit = new WeakMap<RaftState, number>();
  /** address -> the highest index it applied in any life, with the term applied there. */
  const topApplied = new Map<Address, { index: number; term: number }>();
  return {
    name: 'commit-durable',
    check(view) {
      for (const [address, state] of running(view)) {
        const before = lastCommit.get(state);
        if (before !== undefined && state.commitIndex < before)
          return [`${address} moved its commit back from ${before} to ${state.commitIndex}`];
        lastCommit.set(state, state.commitIndex);
        const floor = sent.durableCommit.get(address) ?? 0;
        if (state.commitIndex < floor)
          return [
            `${address} has commit ${state.commitIndex}, below the commit ${floor} it wrote durably`,
          ];
        const applied = view.observations.appliedBy.get(address) ?? 0;
        const top = topApplied.get(address);
        if (applied > (top?.index ?? 0)) {
          const term = termAt(state.log, applied);
          if (term !== undefined) topApplied.set(address, { index: applied, term });
        }
        if (top === undefined || top.index <= state.log.snapshotIndex) continue;
        const held = termAt(state.log, top.index);
        if (held !== top.term)
          return [
            `${address} applied ${top.index}@${top.term} and now holds ${held === undefined ? 'no entry' : `${top.index}@${held}`} there (snapshot ${state.log.snapshotIndex}): applied state lost`,
          ];
      }
      return [];
    },
  };
}

export function oneVotePerTerm(sent: RaftSentLog): Checker<RaftView> {
  return {
    name: 'one-vote-per-term',
    check(view) {
      for (const [address, state] of running(view)) {
        const candidate = sent.granted.get(address)?.get(state.term);
        if (candidate === undefined) continue;
        const id = view.ids.get(candidate);
        if (state.vote !== id)
          return [
            `${address} granted its term-${state.term} vote to ${candidate} but now holds vote ${String(state.vote)} in that term (§5.2)`,
          ];
      }
      return [];
    },
  };
}

export function termNeverBelowSent(sent: RaftSentLog): Checker<RaftView> {
  return {
    name: 'term-never-below-sent',
    check(view) {
      for (const [address, state] of running(view)) {
        const floor = sent.termSent.get(address) ?? 0;
        if (state.term < floor)
          return [
            `${address} is at term ${state.term}, below term ${floor} it already sent (§5.1)`,
          ];
      }
      return [];
    },
  };
}

/** Reads the workload asked for, with the commit floor each must see. */
export class ReadLog {
  readonly floors = new Map<number, { address: Address; floor: number }>();
  readonly stale: string[] = [];
  served = 0;

  asked(view: RaftView, requestId: number, address: Address): void {
    let floor = 0;
    for (const [, state] of running(view)) floor = Math.max(floor, state.commitIndex);
    this.floors.set(requestId, { address, floor });
  }

  ready(requestId: number, index: number): void {
    const read = this.floors.get(requestId);
    if (read === undefined) return;
    this.floors.delete(requestId);
    this.served++;
    if (index < read.floor)
      this.stale.push(
        `read ${requestId} at ${read.address} served at index ${index}, below commit ${read.floor} known when it was asked (thesis §6.4)`,
      );
  }

  failed(requestId: number): void {
    this.floors.delete(requestId);
  }
}

export function readsSeeCommits(reads: ReadLog): Checker<RaftView> {
  return { name: 'reads-see-commits', check: () => reads.stale.slice(0, 1) };
}
