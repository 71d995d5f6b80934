/**
 * Tombstones of forgotten members (issue 11 bug 8). A dead or left member is forgotten
 * `deadReclaimMs` after it departed (memberlist's GossipToTheDeadTime); without a trace of it, a
 * stale view that still holds it alive (a node paused for longer than that, a late push-pull)
 * brought it back as a new member at its old incarnation: a member everyone had declared dead
 * rejoined without ever refuting, and was probed, suspected and declared dead all over again.
 *
 * Rule: forgetting a member leaves `id -> (incarnation, dead | left, when)`. While the tombstone
 * lives, an alive or suspect about that id at an incarnation not above the tombstone's is refused
 * and counted (`resurrectionsRefused`); a strictly higher one (a restart, or the member's own
 * refute, SWIM §4.2) is accepted and removes the tombstone. A refused alive also sends its
 * subject, at the address it carries, the signed departure it missed (`Tombstone.notice`): a member
 * that is in fact alive (it was only paused, or cut off) refutes it and comes back above the
 * tombstone, so the rule costs a real member one round trip, never its place in the cluster.
 *
 * Limits (STYLE.md section 7): a tombstone lives `tombstoneLifetimeMs` (TOMBSTONE_RECLAIM_MULT
 * times deadReclaimMs) after the member was forgotten, and at most `tombstonesMax` (membersMax)
 * are kept, the oldest evicted first. A stale view older than deadReclaimMs + tombstoneLifetimeMs
 * (a pause that long), or one arriving after membersMax later departures, is unsupported: it may
 * still resurrect a member at its old incarnation. Invariants: a tombstoned id is not in the
 * member table, self never has one, and at most `tombstonesMax` exist (invariants.ts).
 */
import type { Millis } from '../base/time.js';
import type { Incarnation } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import type { PublicKey } from '../identity/signed.js';
import type { MembershipConfig } from './config.js';
import type { Update } from './messages.js';
import type { State } from './types.js';

export interface Tombstone {
  /** The forgotten member's incarnation when it was forgotten: its last one we accepted. */
  incarnation: Incarnation;
  state: 'dead' | 'left';
  forgottenAtMs: Millis;
  /**
   * What its subject must hear to refute (`refuseResurrection`): the signed departure it missed,
   * as we held it (the accusation that declared it dead, or its own left record).
   */
  notice: Update;
  /**
   * The forgotten member's key: its accusations of us still verify (after a partition longer
   * than deadReclaimMs each side has forgotten the other, and must still refute the other's
   * word that it is dead; security.ts `accuserKey`).
   */
  publicKey: PublicKey;
}

/** A tombstone outlives the member record by this many deadReclaimMs. */
export const TOMBSTONE_RECLAIM_MULT = 10;

/** How long a tombstone is kept after its member was forgotten: `TOMBSTONE_RECLAIM_MULT * deadReclaimMs`. */
export function tombstoneLifetimeMs(config: Pick<MembershipConfig, 'deadReclaimMs'>): number {
  return TOMBSTONE_RECLAIM_MULT * config.deadReclaimMs;
}

/** Most tombstones kept: one per member the table may hold (~100 bytes each). */
export function tombstonesMax(config: Pick<MembershipConfig, 'membersMax'>): number {
  return config.membersMax;
}

/** Records that `id` was forgotten (`tombstone`); evicts the oldest tombstones beyond `tombstonesMax`. */
export function bury(state: State, id: NodeId, tombstone: Tombstone): void {
  const { tombstones } = state;
  // Re-inserted at the end: the map stays in order of forgetting, oldest first.
  tombstones.delete(id);
  tombstones.set(id, tombstone);
  const max = tombstonesMax(state.config);
  for (const oldest of tombstones.keys()) {
    if (tombstones.size <= max) break;
    tombstones.delete(oldest);
  }
}

/** The live tombstone of `id` at `now`, or undefined; an expired one is dropped on the way. */
export function tombstoneOf(state: State, id: NodeId, now: Millis): Tombstone | undefined {
  const tombstone = state.tombstones.get(id);
  if (tombstone === undefined) return undefined;
  if (now - tombstone.forgottenAtMs < tombstoneLifetimeMs(state.config)) return tombstone;
  state.tombstones.delete(id);
  return undefined;
}

/** Drops expired tombstones, oldest first: O(expired + 1). Runs with the reaping. */
export function pruneTombstones(state: State, now: Millis): void {
  const lifetimeMs = tombstoneLifetimeMs(state.config);
  for (const [id, tombstone] of state.tombstones) {
    if (now - tombstone.forgottenAtMs < lifetimeMs) return;
    state.tombstones.delete(id);
  }
}
