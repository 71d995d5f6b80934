/**
 * Membership's trust rules (docs/security.md): who may change what a node believes.
 *
 * - A record (alive or left) counts only when signed by its member: the key hashes to the id and
 *   signs the record's canonical bytes (record.ts). Verified only when the record would change
 *   something (apply-update.ts decides first), so steady-state gossip verifies nothing.
 * - An accusation (suspect, dead) counts only when signed by a member that is live here (about
 *   us: any member whose key we hold), about the subject's incarnation as we hold its signed
 *   record: an accusation can start or confirm a suspicion, never move an incarnation.
 * - Admission (optional) and reserved labels are checked on every record that verifies.
 * - Every refusal is counted under its reason and reported as a `security` effect at most once
 *   per reason per `securityLogIntervalMs` (with the number suppressed since).
 *
 * With `verifySignatures` off (the simulator's -unsafe scenarios only) signatures are taken on
 * trust, so the checkers can show what forged input does without them.
 */
import type { AccusationUpdate, RecordFields } from './messages.js';
import { accusationVerifies, recordVerifies, signAccusation } from './record.js';
import { count, isLive, type Turn } from './state.js';
import type { CounterName, SecurityReason, State } from './types.js';
import type { Millis } from '../base/time.js';
import { reportDue } from '../base/report-limit.js';
import type { PublicKey } from '../identity/signed.js';
import { tombstoneOf } from './tombstones.js';
import type { Member } from './member-table.js';

/** The counter each refusal reason moves. */
export const SECURITY_COUNTERS: Readonly<Record<SecurityReason, CounterName>> = {
  signature_invalid: 'signaturesInvalid',
  key_mismatch: 'keysMismatched',
  accusation_refused: 'accusationsRefused',
  ping_req_refused: 'pingReqsRefused',
  push_pull_refused: 'pushPullsRefused',
  admission_refused: 'admissionRefused',
  incarnation_refused: 'incarnationsRefused',
  identity_conflict: 'identityConflicts',
  labels_refused: 'labelsRejected',
};

export const short = (id: string): string => id.slice(0, 8);

/**
 * Counts a refusal and reports it, rate-limited: the first of a reason goes out at once, the
 * next only `securityLogIntervalMs` later, carrying how many were suppressed in between.
 */
export function refuse(turn: Turn, reason: SecurityReason, detail: string): void {
  const { state } = turn;
  count(state, SECURITY_COUNTERS[reason]);
  const suppressed = reportDue(
    state.securityLog,
    reason,
    turn.now,
    state.config.securityLogIntervalMs,
  );
  if (suppressed !== undefined) turn.effects.push({ kind: 'security', reason, detail, suppressed });
}

/**
 * Whether `record` (about to change our view, or make us refute) is signed by its member, and
 * carries the key we already hold for it. Counts and reports a failure.
 */
export function verifyRecord(
  turn: Turn,
  kind: 'alive' | 'left',
  record: RecordFields,
  current: Member | undefined,
): boolean {
  const { state } = turn;
  const { security } = state;
  if (!security.verifySignatures) return true;
  const what = `${kind} record of ${short(record.id)}@${record.incarnation}`;
  // The key hashes to the id, so a different key for a known id cannot verify either; checked
  // first because it is free.
  if (current !== undefined && current.publicKey !== record.publicKey) {
    refuse(turn, 'key_mismatch', `${what}: carries a key other than the member's`);
    return false;
  }
  count(state, 'signaturesChecked');
  const outcome = recordVerifies(security.crypto, security.clusterId, kind, record);
  if (outcome === 'ok') return true;
  refuse(
    turn,
    outcome,
    outcome === 'key_mismatch'
      ? `${what}: its public key does not hash to its id`
      : `${what}: the signature does not verify`,
  );
  return false;
}

/** Why the admission policy refuses `record`'s member, or undefined when it is admitted (or there is no policy). */
export function admissionRefusal(state: State, record: RecordFields): string | undefined {
  return state.security.admit?.({
    id: record.id,
    publicKey: record.publicKey,
    certificate: record.certificate,
  });
}

/**
 * Whether a verified record's member is admitted (admission policy) and its labels are valid
 * (reserved labels, e.g. leader claims). Counts and reports a refusal.
 */
export function admitRecord(turn: Turn, record: RecordFields): boolean {
  const { labelsValid } = turn.state.security;
  const what = `record of ${short(record.id)}@${record.incarnation}`;
  const denied = admissionRefusal(turn.state, record);
  if (denied !== undefined) {
    refuse(turn, 'admission_refused', `${what}: ${denied}`);
    return false;
  }
  const badLabels = labelsValid?.(record.labels);
  if (badLabels !== undefined) {
    refuse(turn, 'labels_refused', `${what}: ${badLabels}`);
    return false;
  }
  return true;
}

/**
 * The key of the accuser, when it may accuse here (undefined otherwise; never the subject itself):
 * - about another member: self, or a member live here. Only a live member's word changes what we
 *   believe about a third party (docs/security.md).
 * - about us: any member whose key we hold, in any state, or forgotten (its tombstone keeps the
 *   key). All it can cost is one refutation, and after a partition each side holds the other
 *   dead, or has forgotten it: refusing those accusations would leave both sides believing the
 *   other dead forever (found by election-swim-lone-minority).
 */
function accuserKey(state: State, update: AccusationUpdate, now: Millis): PublicKey | undefined {
  if (update.from === update.id) return undefined;
  const accuser = state.members.get(update.from);
  if (update.id === state.selfId)
    return accuser?.publicKey ?? tombstoneOf(state, update.from, now)?.publicKey;
  if (accuser === undefined) return undefined;
  return update.from === state.selfId || isLive(accuser.state) ? accuser.publicKey : undefined;
}

/**
 * Whether an accusation at the subject's held incarnation is signed by an accuser live here:
 * `ok`, `refused` (the accuser may not accuse here: not a forgery as such), or `invalid` (the
 * signature does not verify: forged). Counts and reports a refusal.
 */
export function verifyAccusation(
  turn: Turn,
  update: AccusationUpdate,
): 'ok' | 'refused' | 'invalid' {
  const { state } = turn;
  const { security } = state;
  const what = `${update.kind} of ${short(update.id)}@${update.incarnation} by ${short(update.from)}`;
  const key = accuserKey(state, update, turn.now);
  if (key === undefined) {
    refuse(
      turn,
      'accusation_refused',
      `${what}: the accuser is not ${update.id === state.selfId ? 'a member known' : 'a live member'} here`,
    );
    return 'refused';
  }
  if (!security.verifySignatures) return 'ok';
  count(state, 'signaturesChecked');
  if (accusationVerifies(security.crypto, security.clusterId, update, key)) return 'ok';
  refuse(turn, 'signature_invalid', `${what}: the signature does not verify`);
  return 'invalid';
}

/** Our own accusation of `member` at its incarnation, signed (a failed probe, an expired suspicion). */
export function accuse(turn: Turn, kind: 'suspect' | 'dead', member: Member): AccusationUpdate {
  const { state } = turn;
  count(state, 'recordsSigned');
  return signAccusation(state.security.crypto, state.security.clusterId, {
    kind,
    id: member.id,
    incarnation: member.incarnation,
    from: state.selfId,
  });
}

/** A record about us, signed with our key, that this life did not sign (another process, or a lost incarnation file). */
export function noteForeignSelfRecord(turn: Turn, record: RecordFields): void {
  const { state } = turn;
  if (record.incarnation < state.lifeStartIncarnation) return;
  refuse(
    turn,
    'identity_conflict',
    `a record of this node (${short(state.selfId)}) at incarnation ${record.incarnation}, address ${record.address}, is signed with this node's key but not by this process: another process runs with the same identity (copied data dir?); stop one of them`,
  );
}
