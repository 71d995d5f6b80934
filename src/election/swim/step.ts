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
 *
 * Durability: the highest term seen and the largest stable view are persisted whenever either
 * rises, and the claim labels and the leader report of that step wait for the write
 * (`afterPersist`): a restarted node never claims a term it used, never reports a term below one
 * it reported before the crash, and never counts a quorum over a smaller cluster than it saw.
 */
import { assertNever } from '../../base/assert.js';
import type { Ready, StepContext } from '../../base/protocol.js';
import { addMs, type Millis } from '../../base/time.js';
import { term as toTerm, type Term } from '../../base/units.js';
import type { NodeId } from '../../identity/node-id.js';
import { majorityOf } from '../quorum.js';
import { TERM_MAX } from './claim.js';
import { compareHrw, hrwScore, hrwWinnerOf } from './hrw.js';
import type {
  LiveMember,
  LiveView,
  SwimLeaderEffect,
  SwimLeaderInit,
  SwimLeaderInput,
  SwimLeaderRecord,
  SwimLeaderState,
} from './types.js';

type Out = Ready<SwimLeaderState, SwimLeaderEffect, SwimLeaderRecord>;

export function initSwimLeader(
  init: SwimLeaderInit,
  persisted: SwimLeaderRecord,
  now: Millis,
): SwimLeaderState {
  const persistedTerm = persisted.term;
  const stableSize = Math.max(1, persisted.stableSize);
  return {
    config: init.config,
    selfId: init.selfId,
    view: undefined,
    liveKey: '',
    viewChangedAtMs: now,
    lastStepMs: now,
    stableSize,
    persistedStableSize: stableSize,
    highestTermSeen: persistedTerm,
    persistedTerm,
    claim: undefined,
    leader: undefined,
    reportedTerm: persistedTerm,
    contestedTerm: undefined,
    published: undefined,
    termExhausted: false,
    leaseAcks: new Map(),
    nextLeaseRoundMs: undefined,
  };
}

/**
 * When the stabilization window of the current view ends, if that matters: the view has no
 * leader yet, or it is larger than the stable size (a node that restarts or joins under an
 * existing leader must still learn, and persist, how large its cluster is). Nothing to wait for
 * otherwise (view changes are inputs).
 */
export function nextDeadline(state: SwimLeaderState): Millis | undefined {
  if (state.view === undefined) return undefined;
  const lease = state.nextLeaseRoundMs;
  if (state.leader !== undefined && state.view.size <= state.stableSize) return lease;
  const due = addMs(state.viewChangedAtMs, state.config.stabilizationMs);
  const window = due > state.lastStepMs ? due : undefined;
  if (lease === undefined) return window;
  return window === undefined ? lease : (Math.min(window, lease) as Millis);
}

export function step(state: SwimLeaderState, input: SwimLeaderInput, _ctx?: StepContext): Out {
  const out: Out = { state, effects: [], persist: [], afterPersist: [] };
  state.lastStepMs = input.now;
  let changed = false;
  switch (input.kind) {
    case 'view-changed':
      state.view = input.view;
      changed = evaluateView(state, input.view, input.now, input.viewKey);
      break;
    case 'tick':
      if (state.view !== undefined)
        changed = evaluateView(state, state.view, input.now, state.liveKey);
      break;
    case 'persisted':
      break;
    case 'lease-ack':
      if (input.sentAtMs > (state.leaseAcks.get(input.id) ?? -Infinity))
        state.leaseAcks.set(input.id, input.sentAtMs);
      if (state.view !== undefined)
        changed = evaluateView(state, state.view, input.now, state.liveKey);
      break;
    default:
      assertNever(input, 'swim leader input');
  }
  if (state.nextLeaseRoundMs !== undefined && input.now >= state.nextLeaseRoundMs) {
    state.nextLeaseRoundMs = addMs(input.now, state.config.leaseIntervalMs);
    out.effects.push({ kind: 'lease-round' });
  }
  if (state.highestTermSeen > state.persistedTerm || state.stableSize > state.persistedStableSize) {
    state.persistedTerm = state.highestTermSeen;
    state.persistedStableSize = state.stableSize;
    out.persist.push({ term: state.highestTermSeen, stableSize: state.stableSize });
  }
  const published = state.published;
  if (
    published === undefined ||
    published.claim !== state.claim ||
    published.contested !== state.contestedTerm
  ) {
    state.published = { claim: state.claim, contested: state.contestedTerm };
    out.afterPersist.push({
      kind: 'publish-claim',
      claim: state.claim,
      contested: state.contestedTerm,
    });
  }
  if (changed)
    out.afterPersist.push({
      kind: 'leader',
      leader: state.leader,
      term: state.leader?.term ?? state.reportedTerm,
    });
  return out;
}

interface Scored extends LiveMember {
  score: bigint;
}

function bestClaim(labelled: readonly LiveMember[]): Scored | undefined {
  let best: Scored | undefined;
  for (const m of labelled) {
    if (m.claimTerm === undefined) continue;
    const scored = { ...m, score: hrwScore(m.id) };
    if (
      best === undefined ||
      m.claimTerm > (best.claimTerm as number) ||
      (m.claimTerm === best.claimTerm && compareHrw(scored, best) > 0)
    )
      best = scored;
  }
  return best;
}

/**
 * The labelled members with this node's claim as the core holds it: its own labels in the view
 * may lag behind (they are published once the claimed term is durable), and a claim must not be
 * taken again or dropped for want of its own label.
 */
function withOwnClaim(
  state: SwimLeaderState,
  labelled: readonly LiveMember[],
): readonly LiveMember[] {
  const others = labelled.filter((m) => m.id !== state.selfId);
  return state.claim === undefined
    ? others
    : [...others, { id: state.selfId, claimTerm: state.claim }];
}

/** The `LiveView` of a list of live members (tests, and callers that already hold a list). */
export function liveViewOf(live: readonly LiveMember[]): LiveView {
  return {
    size: live.length,
    aliveCount: live.filter((m) => m.suspect !== true).length,
    labelled: live.filter((m) => m.claimTerm !== undefined || m.seenTerm !== undefined),
    liveIds: live.map((m) => m.id),
  };
}

/** The live set's ids, sorted and joined: equal exactly when the sets are equal. */
export function liveSetKey(live: readonly LiveMember[]): string {
  return live
    .map((m) => m.id)
    .sort()
    .join(',');
}

/** Claims the term above every term seen; the caller checked that it is at most TERM_MAX. */
function claimAbove(state: SwimLeaderState): Term {
  state.claim = toTerm(state.highestTermSeen + 1);
  state.highestTermSeen = state.claim;
  return state.claim;
}

/**
 * Recomputes the leader from the live set (self included while it runs). Returns whether the
 * (leader, term) pair changed. `viewKey` names the live set: any string that changes whenever
 * the set does (the wiring passes the membership epoch, which moves exactly then). It may also
 * change when the set comes back to an earlier one: that only restarts the stabilization window.
 */
export function evaluateView(
  state: SwimLeaderState,
  view: LiveView,
  now: Millis,
  viewKey: string,
): boolean {
  if (viewKey !== state.liveKey) {
    state.liveKey = viewKey;
    state.viewChangedAtMs = now;
  }
  for (const m of view.labelled)
    state.highestTermSeen = toTerm(
      Math.max(state.highestTermSeen, m.claimTerm ?? 0, m.seenTerm ?? 0),
    );
  const stable = now - state.viewChangedAtMs >= state.config.stabilizationMs;
  if (stable) state.stableSize = Math.max(state.stableSize, view.size);
  const eligible = isEligible(state, view.aliveCount);
  let best = bestClaim(withOwnClaim(state, view.labelled));
  // A term at TERM_MAX cannot be outbid: no claim above it (claim.ts).
  state.termExhausted = state.highestTermSeen >= TERM_MAX;
  const mayClaim =
    best === undefined &&
    eligible &&
    stable &&
    !state.termExhausted &&
    hrwWinnerOf(view.liveIds) === state.selfId;
  const leased = holdsLease(state, now);
  if (mayClaim && leased)
    best = { id: state.selfId, claimTerm: claimAbove(state), score: hrwScore(state.selfId) };
  if (
    state.claim !== undefined &&
    (!eligible || !leased || (best !== undefined && best.id !== state.selfId))
  ) {
    state.claim = undefined;
    // Our own claim no longer leads here; another live claim may.
    if (best?.id === state.selfId) best = bestClaim(withOwnClaim(state, view.labelled));
  }
  // Lease rounds run while this node claims or is about to (requireQuorum only).
  const wantsLease = state.config.requireQuorum && (mayClaim || state.claim !== undefined);
  if (!wantsLease) state.nextLeaseRoundMs = undefined;
  else state.nextLeaseRoundMs ??= now;
  if (
    state.claim !== undefined &&
    state.claim < state.highestTermSeen &&
    !state.termExhausted &&
    best?.id === state.selfId
  ) {
    best = { ...best, claimTerm: claimAbove(state) };
  }
  state.contestedTerm =
    best?.claimTerm !== undefined && best.claimTerm < state.highestTermSeen
      ? state.highestTermSeen
      : undefined;
  return setLeader(
    state,
    eligible && best !== undefined
      ? { id: best.id, term: toTerm(best.claimTerm as number) }
      : undefined,
  );
}

/**
 * Whether a view may have a leader. With requireQuorum: `aliveCount` members alive and not
 * suspected (self included) are a majority of the cluster size, the larger of `minClusterSize`
 * and the largest stable view seen (so a side never shrinks the quorum by stabilizing small, and
 * two disjoint sides can never both qualify once either node has seen the whole cluster or
 * minClusterSize is the cluster's size). Suspects do not count: a node cut off from the others
 * suspects them one probe at a time, and counting them as live kept an isolated leader leading
 * until their suspicions ran out (issue 11 bug 5). Without requireQuorum: any view, once this
 * node has seen a stable view of `minClusterSize` (cold-start gate: a node booting alone does
 * not elect itself, and a later failure keeps the leader).
 */
/**
 * Bug 5's lease (requireQuorum only): a majority of the cluster (self counted) answered one of
 * our lease pings within `leaseMs`. A claimant cut off from its majority loses it within
 * leaseMs + leaseIntervalMs, before the majority can elect a successor (its suspicion of us
 * must run out first, then a stable window). Without requireQuorum there is no lease (AP).
 */
function holdsLease(state: SwimLeaderState, now: Millis): boolean {
  const { requireQuorum, minClusterSize, leaseMs } = state.config;
  if (!requireQuorum) return true;
  let count = 1;
  for (const [id, at] of state.leaseAcks) {
    if (now - at < leaseMs) count++;
    else state.leaseAcks.delete(id);
  }
  return count >= majorityOf(Math.max(minClusterSize, state.stableSize));
}

function isEligible(state: SwimLeaderState, aliveCount: number): boolean {
  const { requireQuorum, minClusterSize } = state.config;
  if (requireQuorum) return aliveCount >= majorityOf(Math.max(minClusterSize, state.stableSize));
  return state.stableSize >= minClusterSize;
}

/** A leader with a term below one already reported is ignored: the reported term only increases. */
function setLeader(state: SwimLeaderState, next: { id: NodeId; term: Term } | undefined): boolean {
  const accepted = next !== undefined && next.term < state.reportedTerm ? undefined : next;
  if (accepted?.id === state.leader?.id && accepted?.term === state.leader?.term) return false;
  state.leader = accepted;
  if (accepted !== undefined) state.reportedTerm = accepted.term;
  return true;
}
