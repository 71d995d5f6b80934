/**
 * Raft's pure core (docs/design/raft.md): `initRaft`, `step` and `nextDeadline` on the shared
 * protocol contract (src/base/protocol.ts). `step` applies the rules every role shares first
 * (the identity rule for senders, then the §5.1 term rule, as etcd's `Step` does), dispatches
 * on the input and the message, then finishes the step the same way every time:
 *
 * 1. a leader removed by a committed configuration steps down (thesis §4.2.2);
 * 2. committed and locally durable entries are applied, in order, once each (§5.3 State
 *    Machine Safety; after a restore when the node booted from a snapshot), and the requests
 *    and reads they complete are answered;
 * 3. a follower acks what is owed and durable;
 * 4. the hard state (term, vote, commit) is written when its term or vote changed: every send
 *    that depends on it (a vote grant, any message carrying a term not yet durable) waits for
 *    it (`afterPersist`), and so does the report of a new leader or role. A commit that moved
 *    alone rides along with the next step that writes (no sync of its own: `writeHardState`).
 *
 * Invariants: invariants.ts (per node) and the simulator's cluster checkers (raft-checkers.ts).
 */
import { assert, assertNever } from '../base/assert.js';
import type { Ready, StepContext } from '../base/protocol.js';
import type { Rng } from '../base/rng.js';
import { addMs, type Millis } from '../base/time.js';
import { logIndex, term as toTerm } from '../base/units.js';
import { randomElectionTimeoutMs } from '../election/term.js';
import type { NodeId } from '../identity/node-id.js';
import { appendToLog, settle } from './append.js';
import { onChangeConfig, removedFromCommittedConfig } from './config-change.js';
import {
  adoptTerm,
  becomeFollower,
  checkQuorum,
  inLease,
  onElectionTimeout,
  onPeerRefused,
  onTimeoutNow,
  onVoteRequest,
  onVoteResponse,
} from './election.js';
import type { Entry, HardState, RaftPersisted, RaftRecord } from './log-types.js';
import { durableIndex, entriesDurable, lastIndex, loadedLog } from './log.js';
import { initMembership } from './membership.js';
import type { RaftMessage } from './messages.js';
import {
  expireForwardedReads,
  onReadIndex,
  onReadIndexRequest,
  onReadIndexResponse,
  serveReads,
} from './read-index.js';
import {
  broadcastAppend,
  broadcastHeartbeat,
  flushAck,
  maybeCommit,
  onAppend,
  onAppendResponse,
  onHeartbeat,
  onHeartbeatResponse,
  sendAppends,
} from './replication.js';
import {
  maybeRequestSnapshot,
  onSnapshotChunk,
  onSnapshotResponse,
  onSnapshotTaken,
  snapshotDurable,
} from './snapshot.js';
import { checkTransfer, onTransferLeader } from './transfer.js';
import { admitSender, header, send, type Turn } from './turn.js';
import {
  COUNTER_NAMES,
  type Counters,
  type Proposal,
  type RaftEffect,
  type RaftInit,
  type RaftInput,
  type RaftState,
} from './types.js';

export type RaftReady = Ready<RaftState, RaftEffect, RaftRecord>;

/**
 * Whether `persisted` is a state this core could have written: the snapshot, the entries after
 * it and the commit index fit together. Returns what is wrong, or undefined (stores refuse a
 * file with ERR_STORAGE_CORRUPT rather than boot from it).
 */
export function persistedProblem(persisted: RaftPersisted): string | undefined {
  const base = persisted.snapshot?.meta.index ?? 0;
  let previousTerm: number = persisted.snapshot?.meta.term ?? 0;
  for (const [k, entry] of persisted.entries.entries()) {
    if (entry.index !== base + 1 + k) return `entry ${entry.index} is not at index ${base + 1 + k}`;
    if (entry.term < previousTerm)
      return `entry ${entry.index} has term ${entry.term} below the one before it`;
    previousTerm = entry.term;
  }
  const last = base + persisted.entries.length;
  const { hardState } = persisted;
  if (hardState.commit > last) return `commit ${hardState.commit} is beyond the last index ${last}`;
  if (previousTerm > hardState.term)
    return `the log has term ${previousTerm} above the current term ${hardState.term}`;
  return undefined;
}

export function initRaft(
  init: RaftInit,
  persisted: RaftPersisted,
  now: Millis,
  rng: Rng,
): RaftState {
  const problem = persistedProblem(persisted);
  assert(problem === undefined, `persisted Raft state is inconsistent: ${problem}`);
  const { hardState, snapshot } = persisted;
  const log = loadedLog(snapshot?.meta.index ?? logIndex(0), snapshot?.meta.term ?? toTerm(0), [
    ...persisted.entries,
  ]);
  const membership = initMembership(init.peers, snapshot?.meta, persisted.entries);
  const state: RaftState = {
    config: init.config,
    selfId: init.selfId,
    selfAddress: init.selfAddress,
    term: hardState.term,
    vote: hardState.vote,
    commitIndex: logIndex(Math.max(hardState.commit, log.snapshotIndex)),
    issuedHardState: hardState,
    durableTerm: hardState.term,
    log,
    membership,
    role: 'follower',
    leader: undefined,
    electionDeadlineMs: addMs(
      now,
      randomElectionTimeoutMs(
        rng,
        init.config.electionTimeoutMinMs,
        init.config.electionTimeoutMaxMs,
      ),
    ),
    heartbeatDeadlineMs: undefined,
    checkQuorumDeadlineMs: undefined,
    leaderContactMs: undefined,
    votes: new Set(),
    idAt: new Map(),
    leaderState: undefined,
    ackPending: undefined,
    ackedIndex: logIndex(0),
    appliedIndex: log.snapshotIndex,
    snapshot: snapshot === undefined ? undefined : { meta: snapshot.meta, data: snapshot.data },
    snapshotRequested: undefined,
    snapshotWrites: [],
    incoming: undefined,
    restorePending: snapshot !== undefined,
    tracked: new Map(),
    forwardedReads: new Map(),
    nowMs: now,
    counters: Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Counters,
  };
  for (const m of [...membership.config.members, ...(membership.config.outgoing ?? [])])
    if (m.id !== undefined && m.address !== init.selfAddress) state.idAt.set(m.address, m.id);
  return state;
}

/** Whether committed, durable entries (or a boot's restore) wait to be applied. */
function applyDue(state: RaftState): boolean {
  if (state.restorePending) return true;
  if (state.appliedIndex < state.log.snapshotIndex) return false;
  return Math.min(state.commitIndex, durableIndex(state.log)) > state.appliedIndex;
}

/** The earliest time a tick has work to do. */
export function nextDeadline(state: RaftState): Millis {
  if (applyDue(state)) return state.nowMs;
  if (state.role === 'leader') {
    let next = state.heartbeatDeadlineMs ?? Infinity;
    next = Math.min(next, state.checkQuorumDeadlineMs ?? Infinity);
    next = Math.min(next, state.leaderState?.transfer?.deadlineMs ?? Infinity);
    return next as Millis;
  }
  let next: number = state.electionDeadlineMs;
  for (const read of state.forwardedReads.values()) next = Math.min(next, read.deadlineMs);
  return next as Millis;
}

/** The leader as this node knows it, with the term that fences it. */
export function leaderOf(state: RaftState): { id: NodeId; term: number } | undefined {
  return state.leader === undefined ? undefined : { id: state.leader.id, term: state.term };
}

export function step(state: RaftState, input: RaftInput, ctx: StepContext): RaftReady {
  const turn: Turn = {
    state,
    now: input.now,
    rng: ctx.rng,
    out: { state, effects: [], persist: [], afterPersist: [] },
  };
  const before = `${state.role}|${state.leader?.id ?? ''}|${state.term}`;
  state.nowMs = input.now;
  dispatch(turn, input);
  finish(turn, before);
  return turn.out;
}

function dispatch(turn: Turn, input: RaftInput): void {
  switch (input.kind) {
    case 'tick':
      return onTick(turn);
    case 'persisted':
      return onPersisted(turn, input.records);
    case 'receive':
      return onReceive(turn, input.message);
    case 'propose':
      return onPropose(turn, [input]);
    case 'propose-batch':
      return onPropose(turn, input.proposals);
    case 'read-index':
      return onReadIndex(turn, input.requestId, input.serializable === true);
    case 'transfer-leader':
      return onTransferLeader(turn, input.to);
    case 'change-config':
      return onChangeConfig(turn, input.change, input.requestId);
    case 'snapshot-taken':
      return onSnapshotTaken(turn, input.index, input.data);
    case 'peer-refused':
      return onPeerRefused(turn, input.address);
    default:
      return assertNever(input, 'raft input');
  }
}

function onTick(turn: Turn): void {
  const { state, now } = turn;
  if (state.role !== 'leader') {
    expireForwardedReads(turn);
    if (now >= state.electionDeadlineMs) onElectionTimeout(turn);
    return;
  }
  checkTransfer(turn);
  if (state.checkQuorumDeadlineMs !== undefined && now >= state.checkQuorumDeadlineMs)
    checkQuorum(turn);
  if (
    state.role === 'leader' &&
    state.heartbeatDeadlineMs !== undefined &&
    now >= state.heartbeatDeadlineMs
  )
    broadcastHeartbeat(turn);
}

/** Writes finished: what is durable now, and what a leader may commit for it. */
function onPersisted(turn: Turn, records: readonly RaftRecord[]): void {
  const { state } = turn;
  for (const record of records) {
    if (record.kind === 'entries') entriesDurable(state.log);
    else if (record.kind === 'hard-state')
      state.durableTerm =
        record.hardState.term > state.durableTerm ? record.hardState.term : state.durableTerm;
    else snapshotDurable(turn, record);
  }
  if (state.role === 'leader' && maybeCommit(turn)) broadcastAppend(turn);
}

/**
 * A leader's proposals (one, or one turn's batch): each is refused with its reason or appended;
 * the accepted ones go to the log as ONE `entries` record and to each follower as one append
 * (as far as flow control and appendBytesMax allow), so a batch costs one write and one message
 * per follower instead of one per proposal.
 */
function onPropose(turn: Turn, proposals: readonly Proposal[]): void {
  const { state } = turn;
  const leader = state.leaderState;
  const accepted: Entry[] = [];
  for (const { data, requestId } of proposals) {
    const refusal = proposalRefusal(state, data, requestId, accepted.length);
    if (refusal !== undefined) {
      state.counters.proposalsRefused++;
      if (requestId !== undefined)
        turn.out.effects.push({
          kind: 'propose-result',
          requestId,
          outcome: { ok: false, ...refusal, leader: state.leader },
        });
      continue;
    }
    const entry: Entry = {
      index: logIndex(lastIndex(state.log) + 1 + accepted.length),
      term: state.term,
      kind: 'normal',
      data,
    };
    accepted.push(entry);
    if (requestId !== undefined)
      state.tracked.set(entry.index, { requestId, kind: 'propose', term: state.term });
    state.counters.proposalsAccepted++;
  }
  if (leader === undefined || accepted.length === 0) return;
  appendToLog(turn, accepted);
  for (const [id, pr] of leader.progress) sendAppends(turn, id, pr, false);
}

/** Why a proposal is refused, `pending` proposals of its batch accepted before it; undefined to accept. */
function proposalRefusal(
  state: RaftState,
  data: Uint8Array,
  requestId: number | undefined,
  pending: number,
):
  | {
      reason: 'not-leader' | 'no-leader' | 'transferring' | 'too-large' | 'queue-full';
      detail: string;
    }
  | undefined {
  const leader = state.leaderState;
  if (leader === undefined)
    return {
      reason: state.leader === undefined ? 'no-leader' : 'not-leader',
      detail: 'only the leader takes proposals',
    };
  if (leader.transfer !== undefined)
    return { reason: 'transferring', detail: `leadership is moving to ${leader.transfer.to}` };
  if (data.length > state.config.appendBytesMax)
    return {
      reason: 'too-large',
      detail: `${data.length} bytes exceed appendBytesMax (${state.config.appendBytesMax})`,
    };
  if (lastIndex(state.log) + pending - state.commitIndex >= state.config.uncommittedEntriesMax)
    return {
      reason: 'queue-full',
      detail: `uncommittedEntriesMax (${state.config.uncommittedEntriesMax}) entries are not committed yet`,
    };
  if (requestId !== undefined && state.tracked.size >= state.config.pendingRequestsMax)
    return {
      reason: 'queue-full',
      detail: `pendingRequestsMax (${state.config.pendingRequestsMax}) requests are waiting`,
    };
  return undefined;
}

// ---- messages ----

function onReceive(turn: Turn, m: RaftMessage): void {
  if (!admitSender(turn, m)) return;
  if (!applyTermRule(turn, m)) return;
  switch (m.type) {
    case 'raft-vote-request':
      return onVoteRequest(turn, m);
    case 'raft-vote-response':
      return onVoteResponse(turn, m);
    case 'raft-append':
      return onAppend(turn, m);
    case 'raft-append-response':
      return onAppendResponse(turn, m);
    case 'raft-heartbeat':
      return onHeartbeat(turn, m);
    case 'raft-heartbeat-response':
      return onHeartbeatResponse(turn, m);
    case 'raft-snapshot':
      return onSnapshotChunk(turn, m);
    case 'raft-snapshot-response':
      return onSnapshotResponse(turn, m);
    case 'raft-timeout-now':
      return onTimeoutNow(turn, m);
    case 'raft-read-index':
      return onReadIndexRequest(turn, m);
    case 'raft-read-index-response':
      return onReadIndexResponse(turn, m);
    default:
      return assertNever(m, 'raft message');
  }
}

/**
 * Raft §5.1 for every role, before the message's handler. Returns false when the handler has
 * nothing to do.
 * - Newer term: adopted (we become a follower of it), except a pre-vote request (it asks about a
 *   term nobody is in yet), a real vote request while this node's lease holds (it still hears a
 *   leader: thesis §6.2 / §9.6; a transfer's request is exempt), and a granted pre-vote (it
 *   echoes the proposed term).
 * - Stale term: a stale leader's append, heartbeat or snapshot and a stale (pre-)vote request are
 *   answered with our term, so the sender catches up; anything else is dropped.
 */
function applyTermRule(turn: Turn, m: RaftMessage): boolean {
  const { state } = turn;
  if (m.term > state.term) {
    if (m.type === 'raft-vote-request' && m.preVote) return true;
    if (m.type === 'raft-vote-request' && inLease(turn) && !m.transfer) {
      state.counters.votesRefused++;
      return false;
    }
    if (m.type === 'raft-vote-response' && m.preVote && m.granted) return true;
    adoptTerm(turn, m.term);
    return true;
  }
  if (m.term === state.term) return true;
  state.counters.staleMessages++;
  if (m.type === 'raft-append' || m.type === 'raft-heartbeat' || m.type === 'raft-snapshot')
    send(turn, m.fromAddress, {
      type: 'raft-append-response',
      ...header(state),
      reject: true,
      index: logIndex(0),
      hintIndex: logIndex(0),
      hintTerm: toTerm(0),
    });
  else if (m.type === 'raft-vote-request')
    send(turn, m.fromAddress, {
      type: 'raft-vote-response',
      ...header(state),
      preVote: m.preVote,
      granted: false,
    });
  return false;
}

// ---- the end of every step ----

function finish(turn: Turn, before: string): void {
  const { state } = turn;
  if (removedFromCommittedConfig(state)) {
    state.leader = undefined;
    becomeFollower(turn);
  }
  applyCommitted(turn);
  serveReads(turn);
  maybeRequestSnapshot(turn);
  flushAck(turn);
  writeHardState(turn);
  if (`${state.role}|${state.leader?.id ?? ''}|${state.term}` !== before)
    turn.out.afterPersist.push({
      kind: 'leader',
      leader: state.leader,
      term: state.term,
      role: state.role,
    });
}

/** §5.3: committed entries that are durable here go to the state machine, in order, once each. */
function applyCommitted(turn: Turn): void {
  const { state } = turn;
  if (state.restorePending && state.snapshot !== undefined) {
    state.restorePending = false;
    turn.out.effects.push({
      kind: 'restore-snapshot',
      meta: state.snapshot.meta,
      data: state.snapshot.data,
    });
  }
  state.restorePending = false;
  if (!applyDue(state)) return;
  const upto = Math.min(state.commitIndex, durableIndex(state.log));
  const base = state.log.snapshotIndex;
  const entries = state.log.entries.slice(state.appliedIndex - base, upto - base);
  turn.out.effects.push({ kind: 'apply', entries });
  state.appliedIndex = logIndex(upto);
  for (const entry of entries) {
    const request = state.tracked.get(entry.index);
    if (request === undefined) continue;
    state.tracked.delete(entry.index);
    settle(
      turn,
      request,
      request.term === entry.term
        ? { ok: true, index: entry.index, term: entry.term }
        : {
            ok: false,
            reason: 'dropped',
            detail: `entry ${entry.index} is another leader's`,
            leader: state.leader,
          },
    );
  }
}

/**
 * Writes the hard state when it changed. A new term or vote goes FIRST among the step's records
 * (with the commit index as it was), so every durable prefix of them is a state this core could
 * have been in: never entries or a snapshot of a term above the durable term (a store that makes
 * the records durable one by one, the whole-file store, can stop between any two). The commit
 * goes last, after the entries it covers.
 *
 * A commit that moved alone costs no write of its own (etcd's `MustSync` is false for it): it
 * rides along with the next step that writes anything (entries, a snapshot, a term or vote), in
 * that step's one synced batch. Nothing is sent or reported on the strength of a durable commit:
 * a restart may come back with an older commit and learns the rest from a leader (the entries
 * themselves are durable before they are acked, so a quorum still holds everything committed).
 */
function writeHardState(turn: Turn): void {
  const { state, out } = turn;
  const issued = state.issuedHardState;
  const termOrVote = issued.term !== state.term || issued.vote !== state.vote;
  const commitMoved = issued.commit !== state.commitIndex;
  if (!termOrVote && (!commitMoved || out.persist.length === 0)) return;
  if (termOrVote && out.persist.length > 0) {
    const first: HardState = { term: state.term, vote: state.vote, commit: issued.commit };
    state.issuedHardState = first;
    out.persist.unshift({ kind: 'hard-state', hardState: first });
    if (!commitMoved) return;
  }
  const hardState: HardState = { term: state.term, vote: state.vote, commit: state.commitIndex };
  state.issuedHardState = hardState;
  out.persist.push({ kind: 'hard-state', hardState });
}
