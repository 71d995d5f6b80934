/**
 * Leader election (Raft §5.2, §5.4.1; thesis §9.6 PreVote, §6.2 check-quorum, §3.10
 * leadership transfer), on the shared rules of election/term.ts and the slot quorums of
 * configuration.ts.
 *
 * - A voter that hears no leader for a randomized timeout asks for pre-votes at term + 1 without
 *   raising its term; only a pre-vote majority (of every voter set while joint) starts a real
 *   election, so a node cut off and back never inflates terms and deposes a working leader.
 * - A vote (or pre-vote) is granted only to a candidate whose log is at least as up to date
 *   (§5.4.1: last term, then last index), at most once per term (the vote is durable before the
 *   grant leaves: turn.ts `send(..., afterWrite)`), and, with check-quorum, not while this node
 *   heard a leader within electionTimeoutMinMs (the lease), unless the candidate runs a transfer.
 * - A new leader appends a no-op of its term at once (§5.4.2: it can commit nothing of earlier
 *   terms by counting until an entry of its own is committed).
 * - Check-quorum: a leader that has not heard from a majority in electionTimeoutMinMs steps down.
 * - Learners, removed members and a node whose slot is pinned to another identity never stand.
 */
import type { Address } from '../base/address.js';
import { addMs } from '../base/time.js';
import { logIndex, term as toTerm, type Term } from '../base/units.js';
import { decidePreVote, decideVote, randomElectionTimeoutMs } from '../election/term.js';
import { appendAsLeader } from './append.js';
import { hasQuorum, replicaAddresses, voterSets } from './configuration.js';
import { lastIndex, lastTerm } from './log.js';
import type { RaftMessage } from './messages.js';
import { newProgress } from './progress.js';
import { failReadsOnStepDown } from './read-index.js';
import { sendAppends } from './replication.js';
import { header, isVoter, send, type Turn } from './turn.js';

type Msg<T extends RaftMessage['type']> = Extract<RaftMessage, { type: T }>;

export function resetElectionTimer(turn: Turn): void {
  const { config } = turn.state;
  turn.state.electionDeadlineMs = addMs(
    turn.now,
    randomElectionTimeoutMs(turn.rng, config.electionTimeoutMinMs, config.electionTimeoutMaxMs),
  );
}

/** Thesis §6.2 / etcd: this node heard a live leader recently, so it will not help depose it. */
export function inLease(turn: Turn): boolean {
  const { state } = turn;
  if (!state.config.checkQuorum) return false;
  if (state.role === 'leader') return true;
  return (
    state.leader !== undefined &&
    state.leaderContactMs !== undefined &&
    turn.now - state.leaderContactMs < state.config.electionTimeoutMinMs
  );
}

/**
 * When the followers that saw the leader's port refuse stand, as fractions of
 * `electionTimeoutMinMs`: each in its own slot, by a rank that rotates with the term (its place
 * among the voters left, sorted by address), so that two rarely stand together: a split vote costs
 * a full timeout. Slot 0 opens at `FIRST`, late enough that the others, whose connections to the
 * dead process closed at the same moment, have dropped their lease too (or the pre-vote is
 * refused); a slot is `SLOT` wide, a stand falls in its first `JITTER`.
 */
const REFUSED_STAND_FIRST = 0.1;
const REFUSED_STAND_SLOT = 0.2;
const REFUSED_STAND_JITTER = 0.05;

/**
 * A stream connection to `address` was refused: nothing listens on that port (the transport
 * redials a connection its peer closed at once to find out: src/transport/tcp-peer.ts). When it is
 * our leader's address the leader's process is gone (killed, crashed or stopped; a machine that
 * vanished or a partition never says so: the election timeout covers those), so waiting out the
 * timeout buys nothing: the follower drops its lease on that leader (so it grants the other
 * followers' pre-votes, thesis §9.6) and stands in its slot instead.
 *
 * Liveness only: Raft's safety never rests on timing. The one rule that does is the leader lease
 * (`readMode: 'lease'`: a leader serves reads while no follower can have voted since its last
 * heartbeat round): with it a follower keeps waiting out the full timeout.
 */
export function onPeerRefused(turn: Turn, address: Address): void {
  const { state } = turn;
  if (state.role !== 'follower' || state.leader?.address !== address) return;
  if (state.config.readMode === 'lease') return;
  state.counters.leaderRefusals++;
  state.leaderContactMs = undefined;
  const left = [...otherVoters(turn), state.selfAddress].filter((a) => a !== address).sort();
  const rank = (Math.max(0, left.indexOf(state.selfAddress)) + state.term) % left.length;
  const minMs = state.config.electionTimeoutMinMs;
  const standAt = addMs(
    turn.now,
    Math.round(minMs * (REFUSED_STAND_FIRST + rank * REFUSED_STAND_SLOT)) +
      turn.rng.range(0, Math.max(1, Math.floor(minMs * REFUSED_STAND_JITTER))),
  );
  if (standAt < state.electionDeadlineMs) state.electionDeadlineMs = standAt;
}

export function becomeFollower(turn: Turn): void {
  const { state } = turn;
  if (state.role === 'leader') {
    state.counters.steppedDown++;
    failReadsOnStepDown(turn);
    state.leaderState = undefined;
  }
  state.role = 'follower';
  state.votes = new Set();
  state.heartbeatDeadlineMs = undefined;
  state.checkQuorumDeadlineMs = undefined;
  resetElectionTimer(turn);
}

/** Raft §5.1: a newer term makes any role a follower of it, with no vote cast and no leader known. */
export function adoptTerm(turn: Turn, newTerm: Term): void {
  const { state } = turn;
  state.term = newTerm;
  state.vote = undefined;
  state.leader = undefined;
  state.ackPending = undefined;
  state.ackedIndex = logIndex(0);
  becomeFollower(turn);
}

/** The election timer fired on a follower or candidate. */
export function onElectionTimeout(turn: Turn): void {
  const { state } = turn;
  resetElectionTimer(turn);
  state.leader = undefined;
  if (!isVoter(state)) {
    // A learner, a removed member, or a node not yet in any configuration waits to be told.
    if (state.role !== 'follower') becomeFollower(turn);
    return;
  }
  campaign(turn, false);
}

/** Starts a (pre-)vote round; `transfer` (a TimeoutNow) skips PreVote and the voters' lease. */
export function campaign(turn: Turn, transfer: boolean): void {
  if (turn.state.config.preVote && !transfer) startPreVote(turn);
  else startElection(turn, transfer);
}

function otherVoters(turn: Turn): Address[] {
  const addresses = new Set<Address>();
  for (const set of voterSets(turn.state.membership.config))
    for (const m of set) if (m.address !== turn.state.selfAddress) addresses.add(m.address);
  return [...addresses].sort();
}

function hasVotes(turn: Turn): boolean {
  const { state } = turn;
  return hasQuorum(state.membership.config, (m) => state.votes.has(m.address));
}

function requestVotes(turn: Turn, proposedTerm: Term, preVote: boolean, transfer: boolean): void {
  const { state } = turn;
  for (const to of otherVoters(turn))
    send(turn, to, {
      type: 'raft-vote-request',
      ...header(state),
      term: proposedTerm,
      lastIndex: lastIndex(state.log),
      lastTerm: lastTerm(state.log),
      preVote,
      transfer,
    });
}

function startPreVote(turn: Turn): void {
  const { state } = turn;
  state.counters.preVotesStarted++;
  state.role = 'pre-candidate';
  state.votes = new Set([state.selfAddress]);
  if (hasVotes(turn)) return startElection(turn, false);
  requestVotes(turn, toTerm(state.term + 1), true, false);
}

/** §5.2: raise the term, vote for self (durable before the requests leave), ask every voter. */
function startElection(turn: Turn, transfer: boolean): void {
  const { state } = turn;
  state.counters.electionsStarted++;
  adoptTerm(turn, toTerm(state.term + 1));
  state.vote = state.selfId;
  state.role = 'candidate';
  state.votes = new Set([state.selfAddress]);
  if (hasVotes(turn)) return becomeLeader(turn);
  requestVotes(turn, state.term, false, transfer);
}

/** §5.4.1: the candidate's log is at least as up to date as ours. */
function upToDate(turn: Turn, m: Msg<'raft-vote-request'>): boolean {
  const mine = lastTerm(turn.state.log);
  return m.lastTerm > mine || (m.lastTerm === mine && m.lastIndex >= lastIndex(turn.state.log));
}

function reply(turn: Turn, m: Msg<'raft-vote-request'>, granted: boolean, replyTerm: Term): void {
  const { state } = turn;
  if (granted) state.counters.votesGranted++;
  else state.counters.votesRefused++;
  // A grant waits for the vote's write (§5.2); a refusal for the term's, like any message.
  send(
    turn,
    m.fromAddress,
    {
      type: 'raft-vote-response',
      ...header(state),
      term: replyTerm,
      preVote: m.preVote,
      granted,
    },
    granted && !m.preVote,
  );
}

export function onVoteRequest(turn: Turn, m: Msg<'raft-vote-request'>): void {
  const { state } = turn;
  const lease = inLease(turn) && !m.transfer;
  const ctx = { currentTerm: state.term, votedFor: state.vote, inLeaderLease: lease };
  if (m.preVote) {
    const granted = upToDate(turn, m) && decidePreVote(ctx, m.term).granted;
    // A granted pre-vote echoes the proposed term; a refusal carries ours so the asker catches up.
    return reply(turn, m, granted, granted ? m.term : state.term);
  }
  const granted = upToDate(turn, m) && decideVote(ctx, m.from, m.term).granted;
  if (granted && state.vote !== m.from) {
    state.vote = m.from;
    resetElectionTimer(turn);
  }
  reply(turn, m, granted, state.term);
}

export function onVoteResponse(turn: Turn, m: Msg<'raft-vote-response'>): void {
  const { state } = turn;
  const round = m.preVote ? 'pre-candidate' : 'candidate';
  const expected = m.preVote ? state.term + 1 : state.term;
  if (state.role !== round || m.term !== expected) return void state.counters.staleMessages++;
  if (!m.granted) return;
  state.votes.add(m.fromAddress);
  if (!hasVotes(turn)) return;
  if (m.preVote) startElection(turn, false);
  else becomeLeader(turn);
}

export function becomeLeader(turn: Turn): void {
  const { state } = turn;
  state.counters.becameLeader++;
  state.role = 'leader';
  state.leader = { id: state.selfId, address: state.selfAddress };
  state.votes = new Set();
  state.leaderState = {
    progress: new Map(),
    committedInTerm: false,
    readSeq: 0,
    roundSentMs: new Map(),
    reads: [],
    leaseUntilMs: turn.now,
    leaseDisabled: false,
    transfer: undefined,
  };
  const next = logIndex(lastIndex(state.log) + 1);
  for (const address of replicaAddresses(state.membership.config)) {
    const id = state.idAt.get(address);
    if (address !== state.selfAddress && id !== undefined)
      state.leaderState.progress.set(id, newProgress(next));
  }
  state.checkQuorumDeadlineMs = state.config.checkQuorum
    ? addMs(turn.now, state.config.electionTimeoutMinMs)
    : undefined;
  // §5.4.2 / thesis §6.4: an entry of this term, committed, fixes what is committed.
  appendAsLeader(turn, 'noop', new Uint8Array(0));
  for (const [id, pr] of state.leaderState.progress) sendAppends(turn, id, pr, true);
  // Members whose NodeId is not known yet get no append: the first heartbeat reaches them.
  state.heartbeatDeadlineMs = addMs(turn.now, state.config.heartbeatIntervalMs);
}

/** Check-quorum (thesis §6.2): steps down when a majority was not heard since the last check. */
export function checkQuorum(turn: Turn): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined) return;
  const active = new Set<Address>([state.selfAddress]);
  for (const [address, id] of state.idAt) {
    const pr = leader.progress.get(id);
    if (pr?.recentActive === true) active.add(address);
  }
  for (const pr of leader.progress.values()) pr.recentActive = false;
  if (hasQuorum(state.membership.config, (m) => active.has(m.address))) {
    state.checkQuorumDeadlineMs = addMs(turn.now, state.config.electionTimeoutMinMs);
    return;
  }
  state.counters.checkQuorumStepDowns++;
  state.leader = undefined;
  becomeFollower(turn);
}

/** Thesis §3.10: the leader asked this node to take over now. */
export function onTimeoutNow(turn: Turn, m: Msg<'raft-timeout-now'>): void {
  const { state } = turn;
  if (state.role === 'leader' || m.term !== state.term || !isVoter(state)) return;
  campaign(turn, true);
}
