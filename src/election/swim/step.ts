/**
 * `swim` mode's pure leader core: sticky rendezvous (HRW) over the SWIM live set.
 *
 * Agreement (docs/design/election.md, "swim"): leadership is a CLAIM gossiped in the claimant's
 * own SWIM labels (`CLAIM_LABEL` = its term). Every member computes the leader from its view
 * alone: the live claimant with the highest (term, HRW score). So members that share a view
 * agree on the leader and on its term. Regression (failure story 1): a hash election over a
 * locally counted epoch lets peers that disagree on the epoch disagree on the winner; here the
 * term travels with the claim, never derived from local history.
 *
 * Stickiness: while any claimant lives, nobody else claims, so a joining member with a higher
 * score never takes over. When no live claim exists and the live set has been unchanged for
 * `stabilizationMs`, the HRW winner of the live set claims term = (highest term ever seen) + 1.
 * A claimant that sees a better claim drops its own. With `requireQuorum`, only a view holding
 * a majority of the cluster (`isEligible`) has a leader, and a minority claimant drops its claim.
 */
import { addMs, type Millis } from '../../base/time.js';
import type { NodeId } from '../../identity/node-id.js';
import { majorityOf } from '../quorum.js';
import { compareHrw, hrwScore, hrwWinnerOf } from './hrw.js';

/** The label a claimant sets on itself: its leadership term, in decimal. */
export const CLAIM_LABEL = 'shoal.leader-term';

/**
 * The label every member sets to the highest leader term it has seen. Without it a member that
 * claims after a partition may pick a term below one the others already reported; they ignore
 * such a claim (reported terms only increase) and the cluster stays leaderless. Reading the
 * others' seen terms, a claimant always claims above them, and re-claims higher if it learns
 * of a higher one while claiming.
 */
export const SEEN_LABEL = 'shoal.leader-seen';

export interface SwimLeaderConfig {
  /** The live set must be unchanged this long before a new claim, ms. @defaultValue 2 × probeIntervalMs */
  stabilizationMs: number;
  /** Only a view with a majority of the cluster has a leader (`isEligible`). @defaultValue false */
  requireQuorum: boolean;
  /** With requireQuorum, the least cluster size for the quorum; without, the cold-start gate (`isEligible`). @defaultValue 1 */
  minClusterSize: number;
}

export interface LiveMember {
  id: NodeId;
  /** The member's claim label, parsed; undefined when it claims nothing. */
  claimTerm: number | undefined;
  /** The member's `SEEN_LABEL`, parsed. */
  seenTerm?: number | undefined;
}

export interface SwimLeaderState {
  config: SwimLeaderConfig;
  selfId: NodeId;
  liveKey: string;
  viewChangedAtMs: Millis;
  /** The largest live set seen stable (a high-water mark; not persisted: a restart relies on minClusterSize). */
  stableSize: number;
  highestTermSeen: number;
  /** The term this node claims (its label), or undefined. */
  claim: number | undefined;
  leader: { id: NodeId; term: number } | undefined;
  /** The highest term ever reported: a leader below it is ignored, so reported terms only increase. */
  reportedTerm: number;
  /**
   * `highestTermSeen` when the best live claim is below it (the claimant must learn of the higher
   * term and claim above it), else undefined. Published as `SEEN_LABEL` only then, so a normal
   * election or failover makes no member but the claimant change its labels: no N-wide gossip.
   */
  contestedTerm: number | undefined;
}

export function createSwimLeaderState(config: SwimLeaderConfig, selfId: NodeId, persistedTerm: number, now: Millis): SwimLeaderState {
  return { config, selfId, liveKey: '', viewChangedAtMs: now, stableSize: 1, highestTermSeen: persistedTerm, claim: undefined, leader: undefined, reportedTerm: persistedTerm, contestedTerm: undefined };
}

/** When the core must be re-run even without a view change (the stabilization window ends). */
export function nextDeadline(state: SwimLeaderState): Millis | undefined {
  return state.leader === undefined ? addMs(state.viewChangedAtMs, state.config.stabilizationMs) : undefined;
}

interface Scored extends LiveMember {
  score: bigint;
}

function bestClaim(labelled: readonly LiveMember[]): Scored | undefined {
  let best: Scored | undefined;
  for (const m of labelled) {
    if (m.claimTerm === undefined) continue;
    const scored = { ...m, score: hrwScore(m.id) };
    if (best === undefined || m.claimTerm > (best.claimTerm as number) || (m.claimTerm === best.claimTerm && compareHrw(scored, best) > 0)) best = scored;
  }
  return best;
}

/** The live set's ids, sorted and joined: equal exactly when the sets are equal. */
function liveSetKey(live: readonly LiveMember[]): string {
  return live.map((m) => m.id).sort().join(',');
}

/**
 * What the core reads of the live set: its size, the live members that carry a claim or a seen
 * term (everyone else's labels say nothing to the election), and the set's HRW winner, asked only
 * when a new claim may be due. The driver builds it in one pass over the member table without
 * copying members: the claims are a handful, the live set may be thousands, and the core runs on
 * every view change.
 */
export interface LiveView {
  size: number;
  labelled: readonly LiveMember[];
  winner: () => NodeId | undefined;
}

/** The `LiveView` of a list of live members (tests, and callers that already hold a list). */
export function liveViewOf(live: readonly LiveMember[]): LiveView {
  return {
    size: live.length,
    labelled: live.filter((m) => m.claimTerm !== undefined || m.seenTerm !== undefined),
    winner: () => hrwWinnerOf(live.map((m) => m.id)),
  };
}

/**
 * Recomputes the leader from the live set (self included while it runs). Returns whether the
 * (leader, term) pair changed. The caller publishes `state.claim` as `CLAIM_LABEL`.
 */
export function evaluate(state: SwimLeaderState, live: readonly LiveMember[], now: Millis): boolean {
  return evaluateView(state, liveViewOf(live), now, liveSetKey(live));
}

/**
 * `evaluate` over a `LiveView`. `viewKey` names the live set: any string that changes whenever
 * the set does (the driver passes the membership epoch, which moves exactly then). It may also
 * change when the set comes back to an earlier one: that only restarts the stabilization window.
 */
export function evaluateView(state: SwimLeaderState, view: LiveView, now: Millis, viewKey: string): boolean {
  if (viewKey !== state.liveKey) {
    state.liveKey = viewKey;
    state.viewChangedAtMs = now;
  }
  for (const m of view.labelled) state.highestTermSeen = Math.max(state.highestTermSeen, m.claimTerm ?? 0, m.seenTerm ?? 0);
  const stable = now - state.viewChangedAtMs >= state.config.stabilizationMs;
  if (stable) state.stableSize = Math.max(state.stableSize, view.size);
  const eligible = isEligible(state, view.size);
  let best = bestClaim(view.labelled);
  if (best === undefined && eligible && stable && view.winner() === state.selfId) {
    state.claim = state.highestTermSeen + 1;
    state.highestTermSeen = state.claim;
    best = { id: state.selfId, claimTerm: state.claim, score: hrwScore(state.selfId) };
  }
  if (state.claim !== undefined && (!eligible || (best !== undefined && best.id !== state.selfId))) state.claim = undefined;
  if (state.claim !== undefined && state.claim < state.highestTermSeen && best?.id === state.selfId) {
    state.claim = state.highestTermSeen + 1;
    state.highestTermSeen = state.claim;
    best = { ...best, claimTerm: state.claim };
  }
  state.contestedTerm = best?.claimTerm !== undefined && best.claimTerm < state.highestTermSeen ? state.highestTermSeen : undefined;
  return setLeader(state, eligible && best !== undefined ? { id: best.id, term: best.claimTerm as number } : undefined);
}

/**
 * Whether a view of `liveCount` members may have a leader. With requireQuorum: a majority of
 * the cluster size, the larger of `minClusterSize` and the largest stable view seen (so a side
 * never shrinks the quorum by stabilizing small, and two disjoint sides can never both qualify
 * once either node has seen the whole cluster or minClusterSize is the cluster's size).
 * Without: any view, once this node has seen a stable view of `minClusterSize` (cold-start
 * gate: a node booting alone does not elect itself, and a later failure keeps the leader).
 */
function isEligible(state: SwimLeaderState, liveCount: number): boolean {
  const { requireQuorum, minClusterSize } = state.config;
  if (requireQuorum) return liveCount >= majorityOf(Math.max(minClusterSize, state.stableSize));
  return state.stableSize >= minClusterSize;
}

/** A leader with a term below one already reported is ignored: the reported term only increases. */
function setLeader(state: SwimLeaderState, next: { id: NodeId; term: number } | undefined): boolean {
  const accepted = next !== undefined && next.term < state.reportedTerm ? undefined : next;
  if (accepted?.id === state.leader?.id && accepted?.term === state.leader?.term) return false;
  state.leader = accepted;
  if (accepted !== undefined) state.reportedTerm = accepted.term;
  return true;
}

export function parseClaim(labels: Readonly<Record<string, string>>, label: string = CLAIM_LABEL): number | undefined {
  const text = labels[label];
  if (text === undefined || !/^[1-9]\d{0,14}$/.test(text)) return undefined;
  return Number(text);
}
