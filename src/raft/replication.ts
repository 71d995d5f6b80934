/**
 * Log replication (Raft §5.3) with etcd-io/raft's flow control (progress.ts), heartbeats, and
 * the commit rule (§5.4.2).
 *
 * Leader: appends go to each follower from its `next`, pipelined up to maxInflightAppends in
 * replicate state, one at a time while probing; a rejection walks `next` back by the follower's
 * term hint; an index the leader has compacted is sent as a snapshot (snapshot.ts). An index is
 * committed when a majority of every voter set has it durable (the leader counts its own log
 * only as far as it is durable) AND it is of the leader's current term (§5.4.2: earlier terms'
 * entries are committed only indirectly).
 *
 * Follower: an append whose previous entry matches is taken (a conflicting suffix replaced,
 * append.ts); the commit index follows the leader's, never past what is known to match; the ack
 * (`match`) is sent only once the acked entries are durable, computed from the core's own mark
 * (log.ts `durableIndex`), never merely after some write finished.
 */
import type { Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import { addMs } from '../base/time.js';
import { logIndex, term as toTerm, type LogIndex } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import { appendToLog } from './append.js';
import { quorumIndex, replicaAddresses, type Member } from './configuration.js';
import { maybeAdvanceConfig } from './config-change.js';
import { becomeFollower, resetElectionTimer } from './election.js';
import {
  durableIndex,
  entriesFrom,
  findConflict,
  findConflictByTerm,
  lastIndex,
  matchTerm,
  termAt,
} from './log.js';
import type { RaftMessage } from './messages.js';
import {
  becomeProbe,
  becomeReplicate,
  isPaused,
  maybeDecrTo,
  maybeUpdate,
  sentEntries,
  type Progress,
} from './progress.js';
import { advanceReads } from './read-index.js';
import { maybeResendSnapshot, startSnapshot } from './snapshot.js';
import { maybeSendTimeoutNow } from './transfer.js';
import { header, send, type Turn } from './turn.js';
import type { RaftState } from './types.js';

type Msg<T extends RaftMessage['type']> = Extract<RaftMessage, { type: T }>;

/** Heartbeat rounds whose send time a leader keeps (the lease starts at an acked round's send). */
const READ_ROUNDS_KEPT = 64;

/** The address of the slot `id` speaks for. */
export function addressOf(state: RaftState, id: NodeId): Address | undefined {
  for (const [address, speaker] of state.idAt) if (speaker === id) return address;
  return undefined;
}

/** A voter slot's durable match: the leader's own log as far as it is durable, else its follower's. */
export function matchOfSlot(state: RaftState, member: Member): number {
  if (member.address === state.selfAddress)
    return member.id === undefined || member.id === state.selfId ? durableIndex(state.log) : 0;
  const id = member.id ?? state.idAt.get(member.address);
  return id === undefined ? 0 : (state.leaderState?.progress.get(id)?.match ?? 0);
}

// ---- leader ----

/** One append to `id` if flow control allows; true when it carried entries. */
function sendAppend(turn: Turn, id: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
  const { state } = turn;
  const address = addressOf(state, id);
  if (address === undefined || pr.state === 'snapshot') return false;
  if (isPaused(pr, state.config.maxInflightAppends)) return false;
  const prevIndex = logIndex(pr.next - 1);
  const prevTerm = termAt(state.log, prevIndex);
  if (prevTerm === undefined) {
    startSnapshot(turn, id, pr, address);
    return false;
  }
  const entries =
    pr.next <= lastIndex(state.log)
      ? entriesFrom(state.log, pr.next, state.config.appendEntriesMax, state.config.appendBytesMax)
      : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  send(turn, address, {
    type: 'raft-append',
    ...header(state),
    prevIndex,
    prevTerm,
    commit: state.commitIndex,
    entries,
  });
  state.counters.appendsSent++;
  pr.commitSent = state.commitIndex;
  const last = entries[entries.length - 1];
  if (last !== undefined) sentEntries(pr, last.index);
  else if (pr.state === 'probe') pr.probeSent = true;
  return last !== undefined;
}

/** Sends `id` what flow control allows: one probe, or appends until caught up or paused. */
export function sendAppends(turn: Turn, id: NodeId, pr: Progress, sendIfEmpty: boolean): void {
  let first = true;
  while (sendAppend(turn, id, pr, first && sendIfEmpty)) {
    first = false;
    if (pr.state !== 'replicate') return;
  }
}

/** Every follower: new entries, or an empty append carrying a commit index it was not sent. */
export function broadcastAppend(turn: Turn): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined) return;
  for (const [id, pr] of leader.progress)
    sendAppends(turn, id, pr, pr.commitSent < state.commitIndex);
}

/**
 * A heartbeat to every member (those whose NodeId is not known yet too: the answer tells it),
 * opening a new read round (thesis §6.4).
 */
export function broadcastHeartbeat(turn: Turn): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined) return;
  leader.readSeq++;
  leader.roundSentMs.set(leader.readSeq, turn.now);
  leader.roundSentMs.delete(leader.readSeq - READ_ROUNDS_KEPT);
  for (const address of replicaAddresses(state.membership.config)) {
    if (address === state.selfAddress) continue;
    const id = state.idAt.get(address);
    const pr = id === undefined ? undefined : leader.progress.get(id);
    send(turn, address, {
      type: 'raft-heartbeat',
      ...header(state),
      commit: logIndex(Math.min(pr?.match ?? 0, state.commitIndex)),
      readSeq: leader.readSeq,
    });
    if (pr !== undefined && id !== undefined) maybeResendSnapshot(turn, id, pr, address);
  }
  state.counters.heartbeatsSent++;
  state.heartbeatDeadlineMs = addMs(turn.now, state.config.heartbeatIntervalMs);
  advanceReads(turn);
}

/**
 * Commits what a majority of every voter set has durable, if it is of this term (§5.4.2). A
 * new commit may finish reads and configuration changes; a removed leader may step down.
 */
export function maybeCommit(turn: Turn): boolean {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined) return false;
  const index = quorumIndex(state.membership.config, (m) => matchOfSlot(state, m));
  if (index <= state.commitIndex || termAt(state.log, index) !== state.term) return false;
  state.commitIndex = logIndex(index);
  leader.committedInTerm = true;
  advanceReads(turn);
  maybeAdvanceConfig(turn);
  return true;
}

export function onAppendResponse(turn: Turn, m: Msg<'raft-append-response'>): void {
  const { state } = turn;
  const pr = state.leaderState?.progress.get(m.from);
  if (pr === undefined || m.term !== state.term) return;
  pr.recentActive = true;
  if (m.reject) {
    // Fast backtracking: skip to the leader's last entry of a term the follower may share.
    const hint =
      m.hintTerm > 0 ? findConflictByTerm(state.log, m.hintIndex, m.hintTerm) : m.hintIndex;
    if (!maybeDecrTo(pr, m.index, hint)) return void state.counters.staleMessages++;
    if (pr.state === 'replicate') becomeProbe(pr);
    return sendAppends(turn, m.from, pr, true);
  }
  if (maybeUpdate(pr, m.index)) {
    if (pr.state === 'probe') becomeReplicate(pr);
    else if (pr.state === 'snapshot' && pr.match >= pr.snapshotIndex) {
      becomeProbe(pr);
      becomeReplicate(pr);
    }
    if (maybeCommit(turn)) broadcastAppend(turn);
    if (state.role !== 'leader') return;
    maybeSendTimeoutNow(turn, m.from, pr);
    maybeAdvanceConfig(turn);
  }
  if (state.role === 'leader') sendAppends(turn, m.from, pr, false);
}

export function onHeartbeatResponse(turn: Turn, m: Msg<'raft-heartbeat-response'>): void {
  const { state } = turn;
  const pr = state.leaderState?.progress.get(m.from);
  if (pr === undefined || m.term !== state.term) return;
  pr.recentActive = true;
  pr.readSeqAcked = Math.max(pr.readSeqAcked, m.readSeq);
  if (pr.state === 'probe') pr.probeSent = false;
  if (pr.state === 'replicate' && isPaused(pr, state.config.maxInflightAppends))
    pr.inflight.shift();
  if (pr.match < lastIndex(state.log) || pr.state === 'probe') sendAppends(turn, m.from, pr, true);
  advanceReads(turn);
}

// ---- follower ----

/** A message from the leader of our term: it leads, and it was just heard (§5.2). */
export function noteLeader(turn: Turn, m: RaftMessage): boolean {
  const { state } = turn;
  if (state.role === 'leader') {
    // Two leaders in one term: Election Safety is broken somewhere. Counted and refused, never
    // obeyed (that would hide it); the simulator's checker fails the run.
    turn.out.effects.push({
      kind: 'rejected',
      detail: `${m.type} from ${m.from} claims leadership of our own term ${state.term}`,
    });
    return false;
  }
  if (state.role !== 'follower') becomeFollower(turn);
  state.leader = { id: m.from, address: m.fromAddress };
  state.leaderContactMs = turn.now;
  resetElectionTimer(turn);
  return true;
}

/** The follower's commit index follows the leader's, within its own log. */
export function commitTo(turn: Turn, index: number): void {
  const { state } = turn;
  if (index <= state.commitIndex) return;
  assert(
    index <= lastIndex(state.log),
    `commit ${index} beyond the last index ${lastIndex(state.log)}`,
  );
  state.commitIndex = logIndex(index);
}

export function onAppend(turn: Turn, m: Msg<'raft-append'>): void {
  const { state } = turn;
  if (!noteLeader(turn, m)) return;
  if (m.prevIndex < state.commitIndex) return noteAck(turn, m.fromAddress, state.commitIndex);
  if (!matchTerm(state.log, m.prevIndex, m.prevTerm)) {
    state.counters.appendsRejected++;
    const hintIndex = findConflictByTerm(
      state.log,
      Math.min(m.prevIndex, lastIndex(state.log)),
      m.prevTerm,
    );
    return send(turn, m.fromAddress, {
      type: 'raft-append-response',
      ...header(state),
      reject: true,
      index: m.prevIndex,
      hintIndex,
      hintTerm: termAt(state.log, hintIndex) ?? toTerm(0),
    });
  }
  const lastNew = m.prevIndex + m.entries.length;
  const conflict = findConflict(state.log, m.entries);
  if (conflict !== undefined) appendToLog(turn, m.entries.slice(conflict.index - m.prevIndex - 1));
  commitTo(turn, Math.min(m.commit, lastNew));
  noteAck(turn, m.fromAddress, logIndex(lastNew));
}

export function onHeartbeat(turn: Turn, m: Msg<'raft-heartbeat'>): void {
  const { state } = turn;
  if (!noteLeader(turn, m)) return;
  commitTo(turn, Math.min(m.commit, lastIndex(state.log)));
  send(turn, m.fromAddress, {
    type: 'raft-heartbeat-response',
    ...header(state),
    readSeq: m.readSeq,
  });
}

/** The follower's log matches the leader's up to `index`: ack it once durable (`flushAck`). */
export function noteAck(turn: Turn, to: Address, index: LogIndex): void {
  const { state } = turn;
  const p = state.ackPending;
  if (p === undefined || p.term !== state.term || p.to !== to)
    state.ackPending = { to, term: state.term, index, floor: index, fresh: true };
  else {
    p.index = logIndex(Math.max(p.index, index));
    p.floor = logIndex(Math.min(p.floor, index));
    p.fresh = true;
  }
}

/**
 * At the end of every step: acks what is owed and durable. An append is answered once all its
 * entries are durable; with several in flight, each durable one is reported as it becomes so.
 */
export function flushAck(turn: Turn): void {
  const { state } = turn;
  const p = state.ackPending;
  if (p === undefined) return;
  if (p.term !== state.term || state.role !== 'follower') {
    state.ackPending = undefined;
    return;
  }
  const ackable = Math.min(p.index, durableIndex(state.log));
  if (ackable >= p.floor && (ackable > state.ackedIndex || p.fresh)) {
    send(turn, p.to, {
      type: 'raft-append-response',
      ...header(state),
      reject: false,
      index: logIndex(ackable),
      hintIndex: logIndex(0),
      hintTerm: toTerm(0),
    });
    state.ackedIndex = logIndex(Math.max(state.ackedIndex, ackable));
    p.floor = logIndex(ackable + 1);
  }
  p.fresh = false;
  if (ackable >= p.index) state.ackPending = undefined;
}
