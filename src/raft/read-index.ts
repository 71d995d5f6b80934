/**
 * Linearizable reads without writing to the log (thesis §6.4), and the serializable option.
 *
 * ReadIndex (the default): the leader records its commit index as the read's index, then
 * confirms it still leads: a heartbeat round (`readSeq`) answered by a majority of every voter
 * set. It must first have committed an entry of its own term (its no-op), or its commit index
 * could lag what an earlier leader committed. Once confirmed and applied up to the index, the
 * read may be served. A follower forwards the request to the leader and serves it once it has
 * applied the index the leader returns.
 *
 * Lease (readMode 'lease', opt-in, requires check-quorum): a round a majority answered, sent at
 * t, gives the leader a lease until t + leaseMsFor(config); no follower grants a vote within
 * electionTimeoutMinMs of hearing it, so no other leader can exist meanwhile, IF clocks run at
 * rates within clockDriftMaxPpm and never jump (docs/design/raft.md, "Lease reads"). A transfer
 * sets that guarantee aside (its votes ignore leases), so a leader that sent TimeoutNow serves
 * no lease read again in its term.
 *
 * Serializable: served at once from whatever this node has applied (may be stale).
 */
import { addMs, type Millis } from '../base/time.js';
import type { Address } from '../base/address.js';
import { logIndex, type LogIndex } from '../base/units.js';
import { leaseMsFor, readTimeoutMsFor } from './config.js';
import { quorumIndex, type Member } from './configuration.js';
import type { RaftMessage } from './messages.js';
import { broadcastHeartbeat } from './replication.js';
import { header, send, type Turn } from './turn.js';
import type { PendingRead, RaftState, RequestFailure } from './types.js';

type Msg<T extends RaftMessage['type']> = Extract<RaftMessage, { type: T }>;

/** Answers a follower's forwarded read: its index, or a refusal (`ok` false, index 0). */
function answer(turn: Turn, to: Address, requestId: number, index: LogIndex | undefined): void {
  send(turn, to, {
    type: 'raft-read-index-response',
    ...header(turn.state),
    requestId,
    index: index ?? logIndex(0),
    ok: index !== undefined,
  });
}

function fail(turn: Turn, requestId: number, reason: RequestFailure): void {
  turn.state.counters.readsFailed++;
  turn.out.effects.push({ kind: 'read-failed', requestId, reason, leader: turn.state.leader });
}

function leaseHolds(state: RaftState, now: Millis): boolean {
  const leader = state.leaderState;
  return (
    state.config.readMode === 'lease' &&
    leader !== undefined &&
    !leader.leaseDisabled &&
    now < leader.leaseUntilMs
  );
}

export function onReadIndex(turn: Turn, requestId: number, serializable: boolean): void {
  const { state } = turn;
  if (serializable) {
    state.counters.readsServed++;
    turn.out.effects.push({ kind: 'read-ready', requestId, index: state.appliedIndex });
    return;
  }
  const leader = state.leaderState;
  if (leader !== undefined) {
    if (leader.reads.length >= state.config.pendingRequestsMax)
      return fail(turn, requestId, 'queue-full');
    return startRead(turn, { requestId, from: undefined, index: state.commitIndex, seq: -1 });
  }
  if (state.leader === undefined) return fail(turn, requestId, 'no-leader');
  if (state.forwardedReads.has(requestId)) return fail(turn, requestId, 'invalid');
  if (state.forwardedReads.size >= state.config.pendingRequestsMax)
    return fail(turn, requestId, 'queue-full');
  state.forwardedReads.set(requestId, {
    deadlineMs: addMs(turn.now, readTimeoutMsFor(state.config)),
    index: undefined,
  });
  send(turn, state.leader.address, { type: 'raft-read-index', ...header(state), requestId });
}

/** Queues a read on the leader; it is confirmed by a round (or the lease) once the term has a commit. */
function startRead(turn: Turn, read: PendingRead): void {
  const leader = turn.state.leaderState;
  if (leader === undefined) return;
  leader.reads.push(read);
  advanceReads(turn);
}

/**
 * Moves reads along: a read waiting for the term's first commit takes the commit index and a
 * round; a round a majority answered confirms its reads and extends the lease; confirmed reads
 * of followers are answered (local ones are served once applied, `serveReads`).
 */
export function advanceReads(turn: Turn): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined || !leader.committedInTerm) return;
  const readSeqOf = (m: Member): number => {
    if (m.address === state.selfAddress) return leader.readSeq;
    const id = m.id ?? state.idAt.get(m.address);
    return id === undefined ? 0 : (leader.progress.get(id)?.readSeqAcked ?? 0);
  };
  const acked = quorumIndex(state.membership.config, readSeqOf);
  const sentAt = leader.roundSentMs.get(acked);
  if (sentAt !== undefined && sentAt + leaseMsFor(state.config) > leader.leaseUntilMs)
    leader.leaseUntilMs = addMs(sentAt, leaseMsFor(state.config));
  let roundNeeded = false;
  for (const read of leader.reads) {
    if (read.seq === -1) {
      read.index = state.commitIndex;
      if (leaseHolds(state, turn.now)) read.seq = 0;
      else {
        read.seq = leader.readSeq + 1;
        roundNeeded = true;
      }
    } else if (read.seq > 0 && read.seq <= acked) read.seq = 0;
  }
  answerRemoteReads(turn);
  if (roundNeeded) broadcastHeartbeat(turn);
}

function answerRemoteReads(turn: Turn): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined) return;
  leader.reads = leader.reads.filter((read) => {
    if (read.from === undefined || read.seq !== 0) return true;
    state.counters.readsServed++;
    answer(turn, read.from.address, read.requestId, read.index);
    return false;
  });
}

/** End of step: confirmed reads whose index is applied may be served now. */
export function serveReads(turn: Turn): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader !== undefined)
    leader.reads = leader.reads.filter((read) => {
      if (read.from !== undefined || read.seq !== 0 || read.index > state.appliedIndex) return true;
      state.counters.readsServed++;
      turn.out.effects.push({ kind: 'read-ready', requestId: read.requestId, index: read.index });
      return false;
    });
  for (const [requestId, read] of state.forwardedReads) {
    if (read.index === undefined || read.index > state.appliedIndex) continue;
    state.forwardedReads.delete(requestId);
    state.counters.readsServed++;
    turn.out.effects.push({ kind: 'read-ready', requestId, index: read.index });
  }
}

export function onReadIndexRequest(turn: Turn, m: Msg<'raft-read-index'>): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined || leader.reads.length >= state.config.pendingRequestsMax)
    return answer(turn, m.fromAddress, m.requestId, undefined);
  startRead(turn, {
    requestId: m.requestId,
    from: { id: m.from, address: m.fromAddress },
    index: state.commitIndex,
    seq: -1,
  });
}

export function onReadIndexResponse(turn: Turn, m: Msg<'raft-read-index-response'>): void {
  const { state } = turn;
  const read = state.forwardedReads.get(m.requestId);
  if (read === undefined || read.index !== undefined) return void state.counters.staleMessages++;
  if (m.ok) {
    read.index = m.index;
    return;
  }
  state.forwardedReads.delete(m.requestId);
  fail(turn, m.requestId, 'not-leader');
}

/** Forwarded reads unanswered for readTimeoutMsFor(config) fail. */
export function expireForwardedReads(turn: Turn): void {
  const { state } = turn;
  for (const [requestId, read] of state.forwardedReads) {
    if (turn.now < read.deadlineMs) continue;
    state.forwardedReads.delete(requestId);
    fail(turn, requestId, 'timeout');
  }
}

/** The leader stepped down: its reads fail (followers are told at once rather than timing out). */
export function failReadsOnStepDown(turn: Turn): void {
  const { state } = turn;
  for (const read of state.leaderState?.reads ?? []) {
    if (read.from === undefined) {
      fail(turn, read.requestId, 'not-leader');
      continue;
    }
    answer(turn, read.from.address, read.requestId, undefined);
  }
}
