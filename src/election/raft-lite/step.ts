/**
 * raft-lite's pure core: Raft leader election without a log (docs/design/election.md).
 *
 * - §5.1 terms: every message carries a term; a newer term makes us a follower of that term; a
 *   stale message is answered with our term (or dropped) and changes nothing.
 * - §5.2 election: randomized timeouts; a candidate votes for itself, persists, asks every
 *   peer; a majority of the known cluster COUNTING SELF makes it leader (quorum.ts).
 * - Thesis §9.6 PreVote: before bumping its term a node asks "would you vote for me?"; only a
 *   pre-vote majority starts a real election, so an isolated node never inflates terms.
 * - etcd check-quorum: a leader that hears acks from less than a majority within an election
 *   timeout steps down; a node that hears a live leader refuses (pre-)votes (leader lease).
 *
 * Effects are ordered: `persist` (term, votedFor) precedes every send that depends on it.
 * Invariants (invariants.ts): one vote per term, term never decreases, a leader has self in
 * `peers`, at most one leader per term cluster-wide (checked by the simulator).
 */
import type { Address } from '../../base/address.js';
import { assertNever } from '../../base/assert.js';
import type { Rng } from '../../base/rng.js';
import { addMs, type Millis } from '../../base/time.js';
import type { ElectionMessage } from '../../codec/messages.js';
import type { NodeId } from '../../identity/node-id.js';
import { isQuorum } from '../quorum.js';
import { compareTerm, decidePreVote, decideVote, randomElectionTimeoutMs } from '../term.js';
import type { RaftLiteConfig } from './config.js';
import { COUNTER_NAMES, type Counters, type Effect, type Input, type State } from './types.js';

export interface StepContext {
  rng: Rng;
}

interface Turn {
  state: State;
  now: Millis;
  rng: Rng;
  effects: Effect[];
}

export interface CreateOptions {
  config: RaftLiteConfig;
  selfId: NodeId;
  selfAddress: Address;
  peers: readonly Address[];
  /** The durable term and vote from before a restart (Raft §5.1: never forget them). */
  term: number;
  votedFor: NodeId | undefined;
  now: Millis;
  rng: Rng;
}

export function createState(o: CreateOptions): State {
  const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Counters;
  const peers = new Set<Address>([o.selfAddress, ...o.peers]);
  return {
    config: o.config, selfId: o.selfId, selfAddress: o.selfAddress, peers, term: o.term, votedFor: o.votedFor,
    role: 'follower', leader: undefined, votes: new Set(),
    electionDeadlineMs: addMs(o.now, randomElectionTimeoutMs(o.rng, o.config.electionTimeoutMinMs, o.config.electionTimeoutMaxMs)),
    heartbeatDeadlineMs: undefined, checkQuorumDeadlineMs: undefined, recentAcks: new Set(), leaderContactMs: undefined,
    lastHeardMs: new Map(), reachable: new Set(), counters,
  };
}

/** The earliest time `step` must be called with a tick. */
export function nextDeadline(state: State): Millis {
  let next = state.role === 'leader' ? Math.min(state.heartbeatDeadlineMs ?? Infinity, state.checkQuorumDeadlineMs ?? Infinity) : state.electionDeadlineMs;
  for (const address of state.reachable) {
    const heard = state.lastHeardMs.get(address);
    if (heard !== undefined) next = Math.min(next, heard + state.config.peerLeftMs);
  }
  return next as Millis;
}

/** The leader as this node knows it, with the term that fences its writes. */
export function leaderOf(state: State): { id: NodeId; term: number } | undefined {
  return state.leader === undefined ? undefined : { id: state.leader.id, term: state.term };
}

export function step(state: State, input: Input, ctx: StepContext): { state: State; effects: Effect[] } {
  const turn: Turn = { state, now: input.now, rng: ctx.rng, effects: [] };
  const before = leaderOf(state);
  switch (input.kind) {
    case 'tick': onTick(turn); break;
    case 'receive': onReceive(turn, input.message, input.from); break;
    case 'join': onJoin(turn, input.address); break;
    case 'broadcast': broadcast(turn, { type: 'peer-broadcast', from: state.selfId, fromAddress: state.selfAddress, term: state.term, payload: input.payload }); break;
    default: assertNever(input, 'raft-lite input');
  }
  const after = leaderOf(state);
  if (before?.id !== after?.id || before?.term !== after?.term) {
    turn.effects.push({ kind: 'leader', leader: after?.id, term: state.term, self: state.role === 'leader' });
  }
  return { state, effects: turn.effects };
}

// ---- shared rules: terms, persistence, sends ----

function otherPeers(state: State): Address[] {
  return [...state.peers].filter((p) => p !== state.selfAddress);
}

function broadcast(turn: Turn, message: ElectionMessage): void {
  for (const to of otherPeers(turn.state)) turn.effects.push({ kind: 'send', to, message });
}

function persist(turn: Turn): void {
  turn.effects.push({ kind: 'persist', term: turn.state.term, votedFor: turn.state.votedFor });
}

function resetElectionTimer(turn: Turn): void {
  const { config } = turn.state;
  turn.state.electionDeadlineMs = addMs(turn.now, randomElectionTimeoutMs(turn.rng, config.electionTimeoutMinMs, config.electionTimeoutMaxMs));
}

/** Raft §5.1: a newer term makes any role a follower of that term, with no vote cast yet. */
function adoptTerm(turn: Turn, term: number): void {
  const { state } = turn;
  turn.effects.push({ kind: 'term', oldTerm: state.term, newTerm: term });
  state.term = term;
  state.votedFor = undefined;
  if (state.role !== 'follower') becomeFollower(turn);
  state.leader = undefined;
  persist(turn);
}

function becomeFollower(turn: Turn): void {
  const { state } = turn;
  if (state.role === 'leader') state.counters.steppedDown++;
  state.role = 'follower';
  state.votes = new Set();
  state.heartbeatDeadlineMs = undefined;
  state.checkQuorumDeadlineMs = undefined;
  state.recentAcks = new Set();
  resetElectionTimer(turn);
}

function inLeaderLease(turn: Turn): boolean {
  const { state } = turn;
  if (state.role === 'leader') return true;
  return state.leaderContactMs !== undefined && state.leader !== undefined && turn.now - state.leaderContactMs < state.config.electionTimeoutMinMs;
}

function notePeerHeard(turn: Turn, address: Address): void {
  const { state } = turn;
  if (!state.peers.has(address)) return;
  state.lastHeardMs.set(address, turn.now);
  if (!state.reachable.has(address)) {
    state.reachable.add(address);
    turn.effects.push({ kind: 'peer-joined', address });
  }
}

function addPeer(turn: Turn, address: Address): boolean {
  const { state } = turn;
  if (state.peers.has(address)) return true;
  if (state.peers.size >= state.config.peersMax) {
    state.counters.peersRejected++;
    turn.effects.push({ kind: 'rejected', input: 'join', detail: `known cluster is full (peersMax ${state.config.peersMax}); ${address} not added` });
    return false;
  }
  state.peers.add(address);
  return true;
}

// ---- time ----

function onTick(turn: Turn): void {
  const { state, now } = turn;
  expireSilentPeers(turn);
  if (state.role === 'leader') {
    if (state.checkQuorumDeadlineMs !== undefined && now >= state.checkQuorumDeadlineMs) checkQuorum(turn);
    if (state.role === 'leader' && state.heartbeatDeadlineMs !== undefined && now >= state.heartbeatDeadlineMs) sendHeartbeats(turn);
    return;
  }
  if (now >= state.electionDeadlineMs) startPreVote(turn);
}

function expireSilentPeers(turn: Turn): void {
  const { state, now } = turn;
  for (const address of [...state.reachable]) {
    const heard = state.lastHeardMs.get(address);
    if (heard === undefined || now - heard < state.config.peerLeftMs) continue;
    state.reachable.delete(address);
    turn.effects.push({ kind: 'peer-left', address });
  }
}

/** etcd check-quorum: a leader that cannot hear a majority (self counted) steps down. */
function checkQuorum(turn: Turn): void {
  const { state } = turn;
  const supporters = new Set([...state.recentAcks, state.selfAddress]);
  state.recentAcks = new Set();
  if (isQuorum(supporters, state.peers)) {
    state.checkQuorumDeadlineMs = addMs(turn.now, state.config.electionTimeoutMinMs);
    return;
  }
  state.counters.checkQuorumStepDowns++;
  state.leader = undefined;
  becomeFollower(turn);
}

function sendHeartbeats(turn: Turn): void {
  const { state } = turn;
  state.heartbeatDeadlineMs = addMs(turn.now, state.config.heartbeatIntervalMs);
  broadcast(turn, { type: 'leader-heartbeat', from: state.selfId, fromAddress: state.selfAddress, term: state.term, peers: [...state.peers] });
}

/** Thesis §9.6: ask for pre-votes at term+1 without changing our term. */
function startPreVote(turn: Turn): void {
  const { state } = turn;
  resetElectionTimer(turn);
  state.leader = undefined;
  if (state.peers.size < state.config.minClusterSize) {
    // Too few known to elect safely (failure story 3): ask the known peers again to spread us.
    state.counters.electionsDeferredSmallCluster++;
    state.role = 'follower';
    broadcast(turn, joinRequest(state));
    return;
  }
  state.counters.preVotesStarted++;
  state.role = 'pre-candidate';
  state.votes = new Set([state.selfAddress]);
  if (isQuorum(state.votes, state.peers)) return startElection(turn);
  broadcast(turn, { type: 'vote-request', from: state.selfId, fromAddress: state.selfAddress, term: state.term + 1, preVote: true });
}

/** §5.2: increment the term, vote for self, persist, then ask every peer. */
function startElection(turn: Turn): void {
  const { state } = turn;
  state.counters.electionsStarted++;
  turn.effects.push({ kind: 'term', oldTerm: state.term, newTerm: state.term + 1 });
  state.term++;
  state.votedFor = state.selfId;
  state.role = 'candidate';
  state.votes = new Set([state.selfAddress]);
  resetElectionTimer(turn);
  persist(turn);
  if (isQuorum(state.votes, state.peers)) return becomeLeader(turn);
  broadcast(turn, { type: 'vote-request', from: state.selfId, fromAddress: state.selfAddress, term: state.term, preVote: false });
}

function becomeLeader(turn: Turn): void {
  const { state } = turn;
  state.counters.becameLeader++;
  state.role = 'leader';
  state.leader = { id: state.selfId, address: state.selfAddress };
  state.votes = new Set();
  state.recentAcks = new Set();
  state.checkQuorumDeadlineMs = addMs(turn.now, state.config.electionTimeoutMinMs);
  sendHeartbeats(turn);
}

// ---- messages ----

function onReceive(turn: Turn, message: ElectionMessage, from: Address): void {
  const { state } = turn;
  if (message.type === 'join-cluster') return onJoinRequest(turn, message, from);
  if (message.type === 'heartbeat') return void state.counters.strangerMessages++;
  if (!state.peers.has(message.fromAddress) && message.type !== 'leader-heartbeat') {
    // A vote from outside the known cluster is not a vote of this cluster.
    state.counters.strangerMessages++;
    return;
  }
  notePeerHeard(turn, message.fromAddress);
  switch (message.type) {
    case 'vote-request': return message.preVote ? onPreVoteRequest(turn, message) : onVoteRequest(turn, message);
    case 'vote-response': return onVoteResponse(turn, message);
    case 'leader-heartbeat': return onLeaderHeartbeat(turn, message);
    case 'heartbeat-ack': return onHeartbeatAck(turn, message);
    case 'peer-broadcast': return void turn.effects.push({ kind: 'delivered', from: message.from, fromAddress: message.fromAddress, payload: message.payload });
    default: return assertNever(message, 'raft-lite message');
  }
}

type Msg<T extends ElectionMessage['type']> = Extract<ElectionMessage, { type: T }>;

function reply(turn: Turn, to: Address, granted: boolean, preVote: boolean, term: number): void {
  const { state } = turn;
  turn.effects.push({ kind: 'send', to, message: { type: 'vote-response', from: state.selfId, fromAddress: state.selfAddress, term, preVote, granted } });
  if (granted) state.counters.votesGranted++;
  else state.counters.votesRefused++;
}

function onPreVoteRequest(turn: Turn, m: Msg<'vote-request'>): void {
  const { state } = turn;
  const decision = decidePreVote({ currentTerm: state.term, votedFor: state.votedFor, inLeaderLease: inLeaderLease(turn) }, m.term);
  // A granted pre-vote echoes the proposed term; a refusal carries ours so a stale asker catches up.
  reply(turn, m.fromAddress, decision.granted, true, decision.granted ? m.term : state.term);
}

function onVoteRequest(turn: Turn, m: Msg<'vote-request'>): void {
  const { state } = turn;
  const lease = inLeaderLease(turn);
  // etcd: while a leader is known alive, a newer-term request is ignored rather than adopted,
  // so a node rejoining from a partition cannot depose a healthy leader.
  if (compareTerm(state.term, m.term) === 'newer' && !lease) adoptTerm(turn, m.term);
  const decision = decideVote({ currentTerm: state.term, votedFor: state.votedFor, inLeaderLease: lease }, m.from, m.term);
  if (decision.granted && state.votedFor !== m.from) {
    state.votedFor = m.from;
    resetElectionTimer(turn);
    persist(turn); // §5.2: the vote is durable before the grant leaves.
  }
  reply(turn, m.fromAddress, decision.granted, false, state.term);
}

function onVoteResponse(turn: Turn, m: Msg<'vote-response'>): void {
  const { state } = turn;
  if (compareTerm(state.term, m.term) === 'newer' && !(m.preVote && m.granted)) return adoptTerm(turn, m.term);
  const round = m.preVote ? 'pre-candidate' : 'candidate';
  const expectedTerm = m.preVote ? state.term + 1 : state.term;
  if (state.role !== round || m.term !== expectedTerm) return void state.counters.staleMessages++;
  if (!m.granted) return;
  state.votes.add(m.fromAddress);
  if (!isQuorum(state.votes, state.peers)) return;
  if (m.preVote) startElection(turn);
  else becomeLeader(turn);
}

function onLeaderHeartbeat(turn: Turn, m: Msg<'leader-heartbeat'>): void {
  const { state } = turn;
  const order = compareTerm(state.term, m.term);
  if (order === 'stale') {
    state.counters.staleMessages++;
    // Tell the stale leader our term so it steps down (§5.1).
    turn.effects.push({ kind: 'send', to: m.fromAddress, message: { type: 'heartbeat-ack', from: state.selfId, fromAddress: state.selfAddress, term: state.term } });
    return;
  }
  if (order === 'newer') adoptTerm(turn, m.term);
  if (state.role !== 'follower') becomeFollower(turn);
  for (const peer of m.peers) if (addPeer(turn, peer)) notePeerHeardOnce(turn, peer, m.fromAddress);
  state.leader = { id: m.from, address: m.fromAddress };
  state.leaderContactMs = turn.now;
  resetElectionTimer(turn);
  turn.effects.push({ kind: 'send', to: m.fromAddress, message: { type: 'heartbeat-ack', from: state.selfId, fromAddress: state.selfAddress, term: state.term } });
}

/** The leader itself was just heard; the other addresses of its list were only learned. */
function notePeerHeardOnce(turn: Turn, peer: Address, leaderAddress: Address): void {
  if (peer === leaderAddress) notePeerHeard(turn, peer);
}

function onHeartbeatAck(turn: Turn, m: Msg<'heartbeat-ack'>): void {
  const { state } = turn;
  if (compareTerm(state.term, m.term) === 'newer') return adoptTerm(turn, m.term);
  if (state.role === 'leader' && m.term === state.term) state.recentAcks.add(m.fromAddress);
}

function onJoin(turn: Turn, address: Address): void {
  const { state } = turn;
  if (address === state.selfAddress) return;
  if (!addPeer(turn, address)) return;
  turn.effects.push({ kind: 'send', to: address, message: joinRequest(state) });
}

/**
 * A join request, direct or forwarded: how bootstrap lists that only overlap spread the whole
 * cluster before any leader exists. A request sent by the joiner itself is forwarded as is to
 * every other peer we know (a node still short of minClusterSize repeats its request every
 * election timeout, so a request lost to a partition is retried after the heal); a joiner new
 * to us also gets our own request, so it learns us. A forwarded request is acted on only when
 * it names a joiner new to us, so each forward wave ends after one hop per node.
 */
function onJoinRequest(turn: Turn, m: Msg<'join-cluster'>, from: Address): void {
  const { state } = turn;
  const isNew = !state.peers.has(m.fromAddress);
  if (m.fromAddress === state.selfAddress || !addPeer(turn, m.fromAddress)) return;
  const direct = from === m.fromAddress;
  // Only a request sent by the joiner itself is news of its liveness; a forwarded one is hearsay.
  if (direct) notePeerHeard(turn, m.fromAddress);
  if (isNew) turn.effects.push({ kind: 'send', to: m.fromAddress, message: joinRequest(state) });
  if (isNew || direct) for (const peer of otherPeers(state)) if (peer !== m.fromAddress && peer !== from) turn.effects.push({ kind: 'send', to: peer, message: m });
}

function joinRequest(state: State): Msg<'join-cluster'> {
  return { type: 'join-cluster', from: state.selfId, fromAddress: state.selfAddress };
}
