/**
 * Term and vote rules shared by raft-lite and the full Raft (Raft §5.1, §5.2; PreVote from the
 * Raft thesis §9.6; leader lease from etcd's check-quorum). Pure functions over plain values: the
 * callers own their state and persistence.
 *
 * Invariants kept by callers that use these rules:
 * - a node's term never decreases (§5.1);
 * - a node grants at most one real vote per term, and that vote is durable before the grant
 *   is sent (§5.2, "votedFor ... persistent");
 * - so at most one candidate can gather a majority in a term: two majorities intersect.
 */
import type { Rng } from '../base/rng.js';
import type { Millis } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';

/** How a message's term relates to ours (Raft §5.1). */
export type TermOrder = 'stale' | 'current' | 'newer';

export function compareTerm(localTerm: number, remoteTerm: number): TermOrder {
  if (remoteTerm < localTerm) return 'stale';
  return remoteTerm === localTerm ? 'current' : 'newer';
}

export interface VoteContext {
  currentTerm: number;
  votedFor: NodeId | undefined;
  /** True while this node heard from a live leader within the minimum election timeout (etcd check-quorum lease). */
  inLeaderLease: boolean;
}

export type VoteDecision =
  | { granted: true }
  | { granted: false; reason: 'stale_term' | 'already_voted' | 'leader_lease' | 'not_newer' };

/**
 * A real vote (Raft §5.2), asked for `candidateTerm` (after the caller adopted a newer term).
 * Granted when the term is current, no other candidate got our vote in it, and no leader is
 * known to be alive (a node that still hears a leader must not help depose it: etcd's lease).
 */
export function decideVote(
  ctx: VoteContext,
  candidate: NodeId,
  candidateTerm: number,
): VoteDecision {
  if (candidateTerm < ctx.currentTerm) return { granted: false, reason: 'stale_term' };
  if (ctx.inLeaderLease) return { granted: false, reason: 'leader_lease' };
  if (candidateTerm === ctx.currentTerm && ctx.votedFor !== undefined && ctx.votedFor !== candidate)
    return { granted: false, reason: 'already_voted' };
  return { granted: true };
}

/**
 * A PreVote (thesis §9.6): "would you vote for me in `proposedTerm`?" Changes no state. Granted
 * when the proposed term is above ours and no leader is known alive; a partitioned node that
 * keeps timing out therefore never inflates terms and disrupts the cluster when it returns.
 */
export function decidePreVote(ctx: VoteContext, proposedTerm: number): VoteDecision {
  if (proposedTerm <= ctx.currentTerm) return { granted: false, reason: 'not_newer' };
  if (ctx.inLeaderLease) return { granted: false, reason: 'leader_lease' };
  return { granted: true };
}

/**
 * A randomized election timeout, uniform in [minMs, maxMs] (Raft §5.2: randomization makes
 * split votes rare and lets one candidate usually win before the others time out).
 */
export function randomElectionTimeoutMs(rng: Rng, minMs: number, maxMs: number): Millis {
  return rng.range(minMs, maxMs) as Millis;
}
