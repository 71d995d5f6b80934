/**
 * SWIM §4.2 precedence rules, as memberlist applies them (state.go aliveNode / suspectNode /
 * deadNode). Pure decisions; `apply-update.ts` carries them out.
 *
 * For a member M with our record at incarnation i:
 * - alive(j):   accepted iff M is unknown or j > i. Equal incarnation never clears suspect or dead.
 * - left(j):    ignored if j < i, M unknown, or M already dead/left; else accepted (M signed j).
 * - About ourselves: a left with j >= our incarnation, and any alive with j > ours or with equal
 *   j but different content, makes us refute with an incarnation above j (§4.2).
 *
 * Accusations (suspect, dead) are decided in apply-update.ts: they must name exactly the
 * incarnation held for their subject (docs/security.md), so they never move one.
 */
import type { Incarnation } from '../base/units.js';
import type { RecordUpdate } from './messages.js';
import type { Member } from './types.js';

export type Decision = 'accept' | 'ignore' | 'refute';

type AliveUpdate = RecordUpdate;

export function sameLabels(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

/** True when an alive update says exactly what the record says (same incarnation and content). */
export function aliveMatches(member: Member, update: AliveUpdate): boolean {
  return (
    update.incarnation === member.incarnation &&
    update.name === member.name &&
    update.address === member.address &&
    sameLabels(update.labels, member.labels)
  );
}

export function decideAlive(
  current: Member | undefined,
  update: AliveUpdate,
  isSelf: boolean,
): Decision {
  if (current === undefined) return 'accept';
  if (isSelf) {
    if (update.incarnation < current.incarnation || aliveMatches(current, update)) return 'ignore';
    // Someone speaks for us at our incarnation or above (a previous life of ours): out-vote it.
    return 'refute';
  }
  return update.incarnation > current.incarnation ? 'accept' : 'ignore';
}

/** For `dead` and `left` updates alike. */
export function decideDeparture(
  current: Member | undefined,
  incarnation: Incarnation,
  isSelf: boolean,
): Decision {
  if (current === undefined || incarnation < current.incarnation) return 'ignore';
  if (isSelf) return 'refute';
  if (current.state === 'dead' || current.state === 'left') return 'ignore';
  return 'accept';
}
