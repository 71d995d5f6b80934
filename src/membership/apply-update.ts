/**
 * Applies one membership update (piggybacked, gossiped, or from a push-pull merge) following the
 * SWIM §4.2 precedence decisions of `merge.ts`, under the trust rules of security.ts
 * (docs/security.md): an update is decided first and verified only when it would change
 * something, so a repeated or stale update costs no signature check.
 *
 * - alive / left: the member's own signed record. Accepted records change the member, emit an
 *   event and are re-broadcast unchanged. One about us that we did not sign (another process
 *   with our key, or a life before a lost incarnation file) makes us refute above it.
 * - suspect / dead: an accusation, signed by a member live here, about the incarnation we hold
 *   the subject's signed record at. It starts or confirms a suspicion (Lifeguard §IV-B) or
 *   declares the member dead; it never moves an incarnation. One about us makes us refute.
 *
 * A forged update (a signature that does not verify) returns false: the caller drops the rest
 * of its message, so one packet costs at most one failed verification.
 */
import { incarnation as toIncarnation, type Incarnation } from '../base/units.js';
import { markUrgent } from './probe-order.js';
import type { Millis } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import type { AccusationUpdate, MemberRecord, RecordFields, RecordUpdate } from './messages.js';
import { applyAwarenessDelta } from './awareness.js';
import { labelsBytes } from './broadcast-queue.js';
import { decideAlive, decideDeparture, sameLabels } from './merge.js';
import { INCARNATION_MAX } from './record.js';
import {
  accuse,
  admitRecord,
  noteForeignSelfRecord,
  refuse,
  short,
  verifyAccusation,
  verifyRecord,
} from './security.js';
import {
  addMember,
  broadcast,
  changeState,
  count,
  emitMember,
  isLive,
  ownLabels,
  persistIncarnation,
  self,
  selfAliveUpdate,
  send,
  setIncarnation,
  signSelf,
  type Turn,
} from './state.js';
import { tombstoneOf } from './tombstones.js';
import {
  expectedConfirmations,
  suspicionTimeoutMaxMs,
  suspicionTimeoutMinMs,
  suspicionTimeoutMs,
} from './suspicion.js';
import type { Member } from './member-table.js';

/** A safe integer a member may use and refute above: 0..INCARNATION_MAX. */
export function incarnationInRange(incarnation: number): boolean {
  return Number.isSafeInteger(incarnation) && incarnation >= 0 && incarnation <= INCARNATION_MAX;
}

/** Applies one update; false when it is forged (the caller drops the rest of its message). */
export function applyUpdate(turn: Turn, update: RecordUpdate | AccusationUpdate): boolean {
  if (!incarnationInRange(update.incarnation)) {
    refuse(
      turn,
      'incarnation_refused',
      `${update.kind} of ${short(update.id)} at incarnation ${update.incarnation}, above INCARNATION_MAX (${INCARNATION_MAX})`,
    );
    return true;
  }
  switch (update.kind) {
    case 'alive':
      return applyAlive(turn, update);
    case 'left':
      return applyLeft(turn, update);
    case 'suspect':
    case 'dead':
      return applyAccusation(turn, update);
  }
}

/**
 * SWIM §4.2: raise our incarnation above `above` (an accusation, or a record of ours we did not
 * sign) and broadcast our newly signed alive. The persist effect comes first so a restart never
 * reuses an incarnation that went on the wire. While leaving we do not refute: our own `left`
 * must win. At INCARNATION_MAX we cannot: refused, counted and reported.
 */
export function refute(turn: Turn, above: Incarnation): void {
  const { state } = turn;
  if (state.phase === 'leaving' || state.phase === 'stopped') {
    count(state, 'updatesIgnored');
    return;
  }
  const me = self(state);
  // An equal incarnation would lose the tie to the accusation, so go strictly above it.
  const next = Math.max(me.incarnation, above) + 1;
  if (next > INCARNATION_MAX) {
    refuse(
      turn,
      'incarnation_refused',
      `cannot refute at incarnation ${next}: above INCARNATION_MAX (${INCARNATION_MAX}); this identity is exhausted, give the node a new identity`,
    );
    return;
  }
  setIncarnation(state, me, toIncarnation(next));
  signSelf(state, 'alive');
  // Lifeguard §IV-A: having to refute is a sign our messages are not getting through.
  state.awareness = applyAwarenessDelta(state.awareness, 1, state.config.awarenessMultiplierMax);
  count(state, 'refutes');
  persistIncarnation(turn, me.incarnation);
  broadcast(turn, selfAliveUpdate(state));
}

/** Takes a verified record's content (its key is the member's already). */
function takeRecord(member: Member, record: RecordFields): void {
  member.name = record.name;
  member.address = record.address;
  member.labels = ownLabels(record.labels);
  member.signature = record.signature;
  member.certificate = record.certificate;
}

function applyAlive(turn: Turn, update: RecordUpdate): boolean {
  const { state } = turn;
  if (labelsBytes(update.labels) > state.config.labelsBytesMax) {
    count(state, 'labelsRejected');
    return true;
  }
  const current = state.members.get(update.id);
  const decision = decideAlive(current, update, update.id === state.selfId);
  if (decision === 'ignore') {
    count(state, 'updatesIgnored');
    return true;
  }
  if (!verifyRecord(turn, 'alive', update, current)) return false;
  if (decision === 'refute') {
    noteForeignSelfRecord(turn, update);
    refute(turn, update.incarnation);
    return true;
  }
  if (!admitRecord(turn, update)) return true;
  if (current === undefined) {
    if (refuseResurrection(turn, update)) return true;
    if (state.members.size >= state.config.membersMax) {
      count(state, 'membersRejected');
      return true;
    }
    state.tombstones.delete(update.id);
    emitMember(turn, 'joined', addMember(turn, update));
  } else {
    const moved =
      current.name !== update.name ||
      current.address !== update.address ||
      !sameLabels(current.labels, update.labels);
    setIncarnation(state, current, update.incarnation);
    takeRecord(current, update);
    if (current.state !== 'alive') changeState(turn, current, 'alive');
    else if (moved) emitMember(turn, 'updated', current);
  }
  count(state, 'updatesApplied');
  broadcast(turn, update);
  return true;
}

/**
 * A member's own signed `left`: final for its incarnation, and it may carry a higher one (the
 * member signed it). Unknown members' departures are ignored.
 */
function applyLeft(turn: Turn, update: RecordUpdate): boolean {
  const { state } = turn;
  const current = state.members.get(update.id);
  const isSelf = update.id === state.selfId;
  // Our own left coming back to us (we are leaving) is no news.
  if (isSelf && current?.signature === update.signature) {
    count(state, 'updatesIgnored');
    return true;
  }
  const decision = decideDeparture(current, update.incarnation, isSelf);
  if (current === undefined || decision === 'ignore') {
    count(state, 'updatesIgnored');
    return true;
  }
  if (!verifyRecord(turn, 'left', update, current)) return false;
  if (decision === 'refute') {
    noteForeignSelfRecord(turn, update);
    refute(turn, update.incarnation);
    return true;
  }
  setIncarnation(state, current, update.incarnation);
  takeRecord(current, update);
  changeState(turn, current, 'left');
  count(state, 'updatesApplied');
  broadcast(turn, update);
  return true;
}

/**
 * An alive about a member we forgot, at an incarnation not above its tombstone's, is a stale view
 * (tombstones.ts): refused and counted, and the subject is sent the departure it missed, so that
 * if it is in fact running it refutes above the tombstone. The record was verified first, so the
 * notice only ever goes to an address its member signed. True when refused.
 */
function refuseResurrection(turn: Turn, update: RecordUpdate): boolean {
  const { state } = turn;
  const tombstone = tombstoneOf(state, update.id, turn.now);
  if (tombstone === undefined || update.incarnation > tombstone.incarnation) return false;
  count(state, 'resurrectionsRefused');
  send(turn, update.address, 'packet', {
    type: 'gossip',
    from: state.selfId,
    updates: [tombstone.notice],
  });
  return true;
}

/**
 * An accusation from the network. Judged against the subject's record as we hold it: below its
 * incarnation it is stale; above, the subject never signed that incarnation (as far as we know),
 * so it is refused, and we probe the subject ourselves next period instead (probe-order.ts).
 */
function applyAccusation(turn: Turn, update: AccusationUpdate): boolean {
  const { state } = turn;
  const current = state.members.get(update.id);
  if (current === undefined || update.incarnation < current.incarnation) {
    count(state, 'updatesIgnored');
    return true;
  }
  const isSelf = update.id === state.selfId;
  if (update.incarnation > current.incarnation) {
    refuse(
      turn,
      'accusation_refused',
      `${update.kind} of ${short(update.id)} by ${short(update.from)} names incarnation ${update.incarnation}, above the ${current.incarnation} held for it`,
    );
    if (!isSelf && isLive(current.state)) markUrgent(state.probeOrder, update.id);
    return true;
  }
  if (isSelf) {
    if (state.phase === 'leaving' || state.phase === 'stopped') {
      count(state, 'updatesIgnored');
      return true;
    }
    const verdict = verifyAccusation(turn, update);
    if (verdict === 'ok') refute(turn, update.incarnation);
    return verdict !== 'invalid';
  }
  if (!accusationWouldChange(current, update)) {
    count(state, 'updatesIgnored');
    return true;
  }
  const verdict = verifyAccusation(turn, update);
  if (verdict === 'ok') takeAccusation(turn, current, update);
  return verdict !== 'invalid';
}

/** Whether a valid accusation at `member`'s incarnation would change anything (checked before verifying it). */
function accusationWouldChange(member: Member, update: AccusationUpdate): boolean {
  switch (member.state) {
    case 'alive':
      return true;
    case 'suspect': {
      if (update.kind === 'dead') return true;
      const suspicion = member.suspicion;
      return (
        suspicion !== undefined &&
        !suspicion.accusers.has(update.from) &&
        suspicion.accusers.size - 1 < suspicion.expected
      );
    }
    default:
      return false;
  }
}

/** A verified (or our own) accusation at `member`'s incarnation: suspect, confirm, or dead. */
function takeAccusation(turn: Turn, member: Member, update: AccusationUpdate): void {
  if (update.kind === 'dead') return declareDead(turn, member, update);
  if (member.state === 'suspect') return confirmSuspicion(turn, member, update);
  startSuspicion(turn, member, update);
}

/** Starts (Lifeguard §IV-B: at the max timeout) a suspicion of a member alive here. */
function startSuspicion(turn: Turn, member: Member, update: AccusationUpdate): void {
  const { state } = turn;
  const n = state.liveCount;
  const expected = expectedConfirmations(state.config.suspicionMult, n);
  const minMs = suspicionTimeoutMinMs(state.config.suspicionMult, n, state.config.probeIntervalMs);
  const maxMs = suspicionTimeoutMaxMs(state.config.suspicionMaxTimeoutMult, minMs);
  changeState(turn, member, 'suspect', { from: update.from, signature: update.signature });
  member.suspicion = {
    startedAtMs: turn.now,
    minMs,
    maxMs,
    expected,
    accusers: new Set([update.from]),
    deadlineMs: (turn.now + suspicionTimeoutMs(minMs, maxMs, 0, expected)) as Millis,
  };
  count(state, 'suspicionsStarted');
  count(state, 'updatesApplied');
  // Heard from another member: check it ourselves next period, so an independent confirmation
  // (or nothing, if it answers) comes within one period (see probe-order.ts).
  if (update.from !== state.selfId) markUrgent(state.probeOrder, member.id);
  broadcast(turn, update);
}

/** Lifeguard §IV-B: each independent confirmation shortens the suspicion timeout. */
function confirmSuspicion(turn: Turn, member: Member, update: AccusationUpdate): void {
  const suspicion = member.suspicion;
  if (suspicion === undefined) return;
  const confirmations = suspicion.accusers.size - 1;
  if (suspicion.accusers.has(update.from) || confirmations >= suspicion.expected) {
    count(turn.state, 'updatesIgnored');
    return;
  }
  suspicion.accusers.add(update.from);
  const timeoutMs = suspicionTimeoutMs(
    suspicion.minMs,
    suspicion.maxMs,
    confirmations + 1,
    suspicion.expected,
  );
  suspicion.deadlineMs = (suspicion.startedAtMs + timeoutMs) as Millis;
  count(turn.state, 'suspicionConfirmations');
  // Re-broadcast so others collect the confirmation too (memberlist does the same).
  broadcast(turn, update);
}

function declareDead(turn: Turn, member: Member, update: AccusationUpdate): void {
  changeState(turn, member, 'dead', { from: update.from, signature: update.signature });
  count(turn.state, 'updatesApplied');
  broadcast(turn, update);
}

/**
 * This node's own suspicion of a live member (a failed or refused probe, or a remote `dead`
 * believed only as far as suspect): started, or counted as our confirmation, signed by us.
 */
export function suspectLocally(turn: Turn, member: Member): void {
  const suspicion = member.suspicion;
  if (member.state === 'suspect' && suspicion?.accusers.has(turn.state.selfId) === true) return;
  if (!isLive(member.state)) return;
  takeAccusation(turn, member, accuse(turn, 'suspect', member));
}

/** Lifeguard §IV-B: our suspicion of `member` ran out without a refute: we declare it dead. */
export function expireSuspicion(turn: Turn, member: Member): void {
  declareDead(turn, member, accuse(turn, 'dead', member));
}

/**
 * Merges a peer's full view (memberlist's mergeRemoteState), in two passes: first every
 * member's own signed record (alive records of members we do not know only when they are alive
 * there), so that the accusations of the second pass are judged against the newest incarnation
 * and an accuser the view itself introduced. A remote `dead` is only believed as far as
 * `suspect` (it may be stale, and a suspicion gives the member a chance to refute); `left` is
 * final. A forged record ends the merge.
 */
export function mergeRemoteState(turn: Turn, records: readonly MemberRecord[], from: NodeId): void {
  // A join brings the whole view at once: size the table for it (at most membersMax) in one step.
  turn.state.members.reserve(
    Math.min(turn.state.members.size + records.length, turn.state.config.membersMax),
  );
  turn.mergingFrom = from;
  try {
    if (mergeRecords(turn, records)) mergeAccusations(turn, records);
  } finally {
    turn.mergingFrom = undefined;
  }
}

function recordOf(kind: 'alive' | 'left', record: MemberRecord): RecordUpdate {
  const { id, incarnation, name, address, labels, publicKey, certificate, signature } = record;
  return { kind, id, incarnation, name, address, labels, publicKey, certificate, signature };
}

/** Pass one: the members' own records. False when one is forged. */
function mergeRecords(turn: Turn, records: readonly MemberRecord[]): boolean {
  for (const record of records) {
    if (record.state !== 'alive' && record.state !== 'left' && !turn.state.members.has(record.id))
      continue;
    const update = recordOf(record.state === 'left' ? 'left' : 'alive', record);
    if (!applyUpdate(turn, update)) return false;
  }
  return true;
}

/** Pass two: the accusations behind suspect and dead records. */
function mergeAccusations(turn: Turn, records: readonly MemberRecord[]): void {
  for (const record of records) {
    const accusation = record.accusation;
    if (accusation === undefined || (record.state !== 'suspect' && record.state !== 'dead'))
      continue;
    const update: AccusationUpdate = {
      kind: record.state === 'dead' ? 'dead' : 'suspect',
      id: record.id,
      incarnation: record.incarnation,
      from: accusation.from,
      signature: accusation.signature,
    };
    const ok =
      update.kind === 'dead' && update.id !== turn.state.selfId
        ? mergeRemoteDead(turn, update)
        : applyUpdate(turn, update);
    if (!ok) return;
  }
}

/** A remote `dead` about another member: verified, then believed as our own suspicion. */
function mergeRemoteDead(turn: Turn, update: AccusationUpdate): boolean {
  const member = turn.state.members.get(update.id);
  if (
    member === undefined ||
    member.incarnation !== update.incarnation ||
    !isLive(member.state) ||
    member.suspicion?.accusers.has(turn.state.selfId) === true
  ) {
    count(turn.state, 'updatesIgnored');
    return true;
  }
  const verdict = verifyAccusation(turn, update);
  if (verdict === 'ok') suspectLocally(turn, member);
  return verdict !== 'invalid';
}
