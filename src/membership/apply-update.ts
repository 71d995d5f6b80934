/**
 * Applies one membership update (piggybacked, gossiped, or from a push-pull merge) following the
 * SWIM §4.2 precedence decisions of `merge.ts`: accepted updates change the member, emit an
 * event and are re-broadcast; updates about ourselves that would make us suspect, dead or left
 * are refuted with a higher incarnation; suspicions are started and confirmed per Lifeguard §IV-B.
 */
import { incarnation as toIncarnation, type Incarnation } from '../base/units.js';
import { markUrgent } from './probe-order.js';
import type { Millis } from '../base/time.js';
import type { MemberRecord, Update } from './messages.js';
import type { NodeId } from '../identity/node-id.js';
import { applyAwarenessDelta } from './awareness.js';
import { labelsBytes } from './broadcast-queue.js';
import { decideAlive, decideDeparture, decideSuspect, sameLabels } from './merge.js';
import {
  addMember,
  broadcast,
  changeState,
  count,
  emitMember,
  ownLabels,
  persistIncarnation,
  self,
  selfAliveUpdate,
  send,
  setIncarnation,
  type Turn,
} from './state.js';
import { noticeOfDeparture, tombstoneOf } from './tombstones.js';
import {
  expectedConfirmations,
  suspicionTimeoutMaxMs,
  suspicionTimeoutMinMs,
  suspicionTimeoutMs,
} from './suspicion.js';
import type { Member } from './member-table.js';

type AliveUpdate = Extract<Update, { kind: 'alive' }>;

/** Incarnations must stay safe integers even after a refute adds one. */
function validIncarnation(incarnation: number): boolean {
  return (
    Number.isSafeInteger(incarnation) &&
    incarnation >= 0 &&
    incarnation < Number.MAX_SAFE_INTEGER - 1
  );
}

export function applyUpdate(turn: Turn, update: Update): void {
  if (!validIncarnation(update.incarnation)) {
    count(turn.state, 'updatesIgnored');
    return;
  }
  switch (update.kind) {
    case 'alive':
      return applyAlive(turn, update);
    case 'suspect':
      return applySuspect(turn, update.id, update.incarnation, update.from);
    case 'dead':
    case 'left':
      return applyDeparture(
        turn,
        update.id,
        update.incarnation,
        update.kind,
        update.kind === 'dead' ? update.from : update.id,
      );
  }
}

/**
 * SWIM §4.2: raise our incarnation above the accuser's and broadcast alive. The persist effect
 * comes first so a restart never reuses an incarnation that went on the wire. While leaving we
 * do not refute: our own `left` must win.
 */
export function refute(turn: Turn, accusedIncarnation: Incarnation): void {
  const { state } = turn;
  if (state.phase === 'leaving' || state.phase === 'stopped') {
    count(state, 'updatesIgnored');
    return;
  }
  const me = self(state);
  // An equal incarnation would lose the tie to the accusation, so go strictly above it.
  setIncarnation(state, me, toIncarnation(Math.max(me.incarnation, accusedIncarnation) + 1));
  // Lifeguard §IV-A: having to refute is a sign our messages are not getting through.
  state.awareness = applyAwarenessDelta(state.awareness, 1, state.config.awarenessMultiplierMax);
  count(state, 'refutes');
  persistIncarnation(turn, me.incarnation);
  broadcast(turn, selfAliveUpdate(state));
}

function applyAlive(turn: Turn, update: AliveUpdate): void {
  const { state } = turn;
  if (labelsBytes(update.labels) > state.config.labelsBytesMax) {
    count(state, 'labelsRejected');
    return;
  }
  const current = state.members.get(update.id);
  const decision = decideAlive(current, update, update.id === state.selfId);
  if (decision === 'refute') return refute(turn, update.incarnation);
  if (decision !== 'accept') return count(state, 'updatesIgnored');
  if (current === undefined) {
    if (refuseResurrection(turn, update)) return;
    if (state.members.size >= state.config.membersMax) return count(state, 'membersRejected');
    state.tombstones.delete(update.id);
    emitMember(turn, 'joined', addMember(turn, update));
  } else {
    const moved =
      current.name !== update.name ||
      current.address !== update.address ||
      !sameLabels(current.labels, update.labels);
    setIncarnation(state, current, update.incarnation);
    current.name = update.name;
    current.address = update.address;
    current.labels = ownLabels(update.labels);
    if (current.state !== 'alive') changeState(turn, current, 'alive');
    else if (moved) emitMember(turn, 'updated', current);
  }
  count(state, 'updatesApplied');
  broadcast(turn, update);
}

/**
 * An alive about a member we forgot, at an incarnation not above its tombstone's, is a stale view
 * (tombstones.ts): refused and counted, and the subject is sent the departure it missed, so that
 * if it is in fact running it refutes above the tombstone. True when refused.
 */
function refuseResurrection(turn: Turn, update: AliveUpdate): boolean {
  const { state } = turn;
  const tombstone = tombstoneOf(state, update.id, turn.now);
  if (tombstone === undefined || update.incarnation > tombstone.incarnation) return false;
  count(state, 'resurrectionsRefused');
  send(turn, update.address, 'packet', {
    type: 'gossip',
    from: state.selfId,
    updates: [noticeOfDeparture(update.id, tombstone, state.selfId)],
  });
  return true;
}

/** Starts (Lifeguard §IV-B: at the max timeout) or confirms a suspicion of `id`. */
export function applySuspect(turn: Turn, id: NodeId, incarnation: Incarnation, from: NodeId): void {
  const { state } = turn;
  const current = state.members.get(id);
  const decision = decideSuspect(current, incarnation, id === state.selfId);
  if (decision === 'refute') return refute(turn, incarnation);
  if (current === undefined || decision === 'ignore') return count(state, 'updatesIgnored');
  if (decision === 'confirm') return confirmSuspicion(turn, current, from);
  const n = state.liveCount;
  const expected = expectedConfirmations(state.config.suspicionMult, n);
  const minMs = suspicionTimeoutMinMs(state.config.suspicionMult, n, state.config.probeIntervalMs);
  const maxMs = suspicionTimeoutMaxMs(state.config.suspicionMaxTimeoutMult, minMs);
  setIncarnation(state, current, incarnation);
  changeState(turn, current, 'suspect');
  current.suspicion = {
    startedAtMs: turn.now,
    minMs,
    maxMs,
    expected,
    accusers: new Set([from]),
    deadlineMs: (turn.now + suspicionTimeoutMs(minMs, maxMs, 0, expected)) as Millis,
  };
  count(state, 'suspicionsStarted');
  count(state, 'updatesApplied');
  // Heard from another member: check it ourselves next period, so an independent confirmation
  // (or nothing, if it answers) comes within one period (see probe-order.ts).
  if (from !== state.selfId) markUrgent(state.probeOrder, id);
  broadcast(turn, { kind: 'suspect', id, incarnation, from });
}

/** Lifeguard §IV-B: each independent confirmation shortens the suspicion timeout. */
function confirmSuspicion(turn: Turn, member: Member, from: NodeId): void {
  const suspicion = member.suspicion;
  if (suspicion === undefined) return;
  const confirmations = suspicion.accusers.size - 1;
  if (suspicion.accusers.has(from) || confirmations >= suspicion.expected) {
    count(turn.state, 'updatesIgnored');
    return;
  }
  suspicion.accusers.add(from);
  const timeoutMs = suspicionTimeoutMs(
    suspicion.minMs,
    suspicion.maxMs,
    confirmations + 1,
    suspicion.expected,
  );
  suspicion.deadlineMs = (suspicion.startedAtMs + timeoutMs) as Millis;
  count(turn.state, 'suspicionConfirmations');
  // Re-broadcast so others collect the confirmation too (memberlist does the same).
  broadcast(turn, { kind: 'suspect', id: member.id, incarnation: member.incarnation, from });
}

export function applyDeparture(
  turn: Turn,
  id: NodeId,
  incarnation: Incarnation,
  kind: 'dead' | 'left',
  from: NodeId,
): void {
  const { state } = turn;
  const current = state.members.get(id);
  const decision = decideDeparture(current, incarnation, id === state.selfId);
  if (decision === 'refute') return refute(turn, incarnation);
  if (current === undefined || decision !== 'accept') return count(state, 'updatesIgnored');
  setIncarnation(state, current, incarnation);
  changeState(turn, current, kind);
  count(state, 'updatesApplied');
  broadcast(turn, kind === 'dead' ? { kind, id, incarnation, from } : { kind, id, incarnation });
}

/**
 * Merges a peer's full view (memberlist's mergeRemoteState): alive records apply as alive
 * updates; a remote `dead` is only believed as far as `suspect` (it may be stale, and a suspicion
 * gives the member a chance to refute); `left` is final.
 */
export function mergeRemoteState(turn: Turn, records: readonly MemberRecord[], from: NodeId): void {
  // A join brings the whole view at once: size the table for it (at most membersMax) in one step.
  turn.state.members.reserve(
    Math.min(turn.state.members.size + records.length, turn.state.config.membersMax),
  );
  turn.mergingFrom = from;
  try {
    mergeRecords(turn, records);
  } finally {
    turn.mergingFrom = undefined;
  }
}

function mergeRecords(turn: Turn, records: readonly MemberRecord[]): void {
  for (const record of records) {
    if (!validIncarnation(record.incarnation)) {
      count(turn.state, 'updatesIgnored');
      continue;
    }
    switch (record.state) {
      case 'alive':
        applyAlive(turn, {
          kind: 'alive',
          id: record.id,
          incarnation: record.incarnation,
          name: record.name,
          address: record.address,
          labels: record.labels,
        });
        break;
      case 'suspect':
      case 'dead':
        applySuspect(turn, record.id, record.incarnation, turn.state.selfId);
        break;
      case 'left':
        applyDeparture(turn, record.id, record.incarnation, 'left', record.id);
        break;
    }
  }
}
