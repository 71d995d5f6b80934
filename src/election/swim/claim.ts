/**
 * The one codec for `swim` leader claims (docs/design/election.md, "swim"; docs/security.md,
 * "Leader claims"): a claimant writes its term into its own SWIM labels, and every member reads
 * every label with the same pair of functions, bounded by the same maximum. Before it, a writer
 * that formatted any term and readers that parsed at most 15 digits disagreed about a term of
 * 10^15: the claimant led, and everyone else saw nobody.
 *
 * Terms are decimal, 1..TERM_MAX, no sign, no leading zero. TERM_MAX is membership's
 * INCARNATION_MAX (2^48 − 1): far below 2^53, so a term plus one is exact. No node claims above
 * TERM_MAX (once the highest term seen reaches it, no new claim can be made: the leader core
 * reports `termExhausted`), and a label outside the range is refused with the record that
 * carries it (`claimLabelsValid`, counted `labelsRejected`). Claims live in the claimant's
 * signed member record, so only the claimant can make one.
 */
import { assert } from '../../base/assert.js';
import { term as toTerm, type Term } from '../../base/units.js';
import type { Labels } from '../../membership/messages.js';
import { INCARNATION_MAX } from '../../membership/record.js';

/** The label a claimant sets on itself: its leadership term (`encodeTerm`). */
export const CLAIM_LABEL = 'shoal.leader-term';

/**
 * The label every member sets to the highest leader term it has seen, when contested. Without
 * it a member that claims after a partition may pick a term below one the others already
 * reported; they ignore such a claim (reported terms only increase) and the cluster stays
 * leaderless. Reading the others' seen terms, a claimant always claims above them, and
 * re-claims higher if it learns of a higher one while claiming.
 */
export const SEEN_LABEL = 'shoal.leader-seen';

/** The largest term a claim may carry: the same maximum as an incarnation. */
export const TERM_MAX = INCARNATION_MAX;

const TERM_RE = /^[1-9]\d{0,14}$/;

/** A term as a label value; asserts 1..TERM_MAX (the core never claims outside it). */
export function encodeTerm(term: Term): string {
  assert(
    Number.isSafeInteger(term) && term >= 1 && term <= TERM_MAX,
    `claim term ${term} outside 1..${TERM_MAX}`,
  );
  return String(term);
}

/** A label value as a term: the exact inverse of `encodeTerm`, undefined for anything else. */
export function decodeTerm(text: string | undefined): Term | undefined {
  if (text === undefined || !TERM_RE.test(text)) return undefined;
  const value = Number(text);
  return value <= TERM_MAX ? toTerm(value) : undefined;
}

/** A member's claim (or, with `label` SEEN_LABEL, its seen term), decoded. */
export function parseClaim(labels: Labels, label: string = CLAIM_LABEL): Term | undefined {
  return decodeTerm(labels[label]);
}

/**
 * Why a member record's claim labels are refused, or undefined when they are absent or valid:
 * membership refuses the whole record (security.ts `labelsValid`), so no node reads a claim the
 * others cannot.
 */
export function claimLabelsValid(labels: Labels): string | undefined {
  for (const label of [CLAIM_LABEL, SEEN_LABEL]) {
    const text = labels[label];
    if (text !== undefined && decodeTerm(text) === undefined)
      return `label ${label}=${JSON.stringify(text.slice(0, 24))} is not a term in 1..${TERM_MAX}`;
  }
  return undefined;
}
