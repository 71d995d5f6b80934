/**
 * raft-lite's pure core: Raft leader election without a log (docs/design/election.md).
 *
 * - §5.1 terms: every message carries a term; a newer term makes us a follower of that term; a
 *   stale message is answered with our term (or dropped) and changes nothing. This rule runs
 *   first for every message (`applyTermRule`, as etcd's `Step` does for `m.Term`), then the
 *   message's handler.
 * - §5.2 election: randomized timeouts; a candidate votes for itself, persists, asks every
 *   peer; a majority of the known cluster COUNTING SELF makes it leader (quorum.ts).
 * - Thesis §9.6 PreVote: before bumping its term a node asks "would you vote for me?"; only a
 *   pre-vote majority starts a real election, so an isolated node never inflates terms.
 * - etcd check-quorum: a leader that hears acks from less than a majority within an election
 *   timeout steps down; a node that hears a live leader refuses (pre-)votes (leader lease).
 *
 * Ordering is in the type: a step that changed (term, votedFor) persists it once, and every
 * send and leader report of the step waits for that write (`afterPersist`), so a vote grant
 * never leaves before the vote is durable. Invariants (invariants.ts): one vote per term, term
 * never decreases, a leader has self in `peers`, at most one leader per term cluster-wide
 * (checked by the simulator).
 */
import type { Address } from '../../base/address.js';
import { assertNever } from '../../base/assert.js';
import type { Ready, StepContext } from '../../base/protocol.js';
import type { Rng } from '../../base/rng.js';
import { addMs, type Millis } from '../../base/time.js';
import { term as toTerm, type Term } from '../../base/units.js';
import type { ElectionMessage } from '../messages.js';
import type { NodeId } from '../../identity/node-id.js';
import { majorityOf } from '../quorum.js';
import { compareTerm, decidePreVote, decideVote, randomElectionTimeoutMs } from '../term.js';
import {
  COUNTER_NAMES,
  type Counters,
  type Effect,
  type Input,
  type RaftLiteInit,
  type RaftLiteRecord,
  type State,
} from './types.js';

interface Turn {
  state: State;
  now: Millis;
  rng: Rng;
  out: Ready<State, Effect, RaftLiteRecord>;
}

export function initRaftLite(
  init: RaftLiteInit,
  durable: RaftLiteRecord,
  now: Millis,
  rng: Rng,
): State {
  const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Counters;
  const { config } = init;
  return {
    config,
    selfId: init.selfId,
    selfAddress: init.selfAddress,
    peers: new Set<Address>([init.selfAddress, ...init.peers]),
    idAt: new Map(),
    term: durable.term,
    votedFor: durable.votedFor,
    role: 'follower',
    leader: undefined,
    votes: new Set(),
    electionDeadlineMs: addMs(
      now,
      randomElectionTimeoutMs(rng, config.electionTimeoutMinMs, config.electionTimeoutMaxMs),
    ),
    heartbeatDeadlineMs: undefined,
    checkQuorumDeadlineMs: undefined,
    recentAcks: new Set(),
    leaderContactMs: undefined,
    heard: new Map(),
    counters,
  };
}

/** The earliest time `step` must be called with a tick. */
export function nextDeadline(state: State): Millis {
  let next =
    state.role === 'leader'
      ? Math.min(state.heartbeatDeadlineMs ?? Infinity, state.checkQuorumDeadlineMs ?? Infinity)
      : state.electionDeadlineMs;
  for (const peer of state.heard.values())
    if (peer.reachable) next = Math.min(next, peer.lastHeardMs + state.config.peerLeftMs);
  return next as Millis;
}

/** The leader as this node knows it, with the term that fences its writes. */
export function leaderOf(state: State): { id: NodeId; term: Term } | undefined {
  return state.leader === undefined ? undefined : { id: state.leader.id, term: state.term };
}

export function step(
  state: State,
  input: Input,
  ctx: StepContext,
): Ready<State, Effect, RaftLiteRecord> {
  const turn: Turn = {
    state,
    now: input.now,
    rng: ctx.rng,
    out: { state, effects: [], persist: [], afterPersist: [] },
  };
  const before = leaderOf(state);
  const durable = { term: state.term, votedFor: state.votedFor };
  switch (input.kind) {
    case 'tick':
      onTick(turn);
      break;
    case 'persisted':
      break;
    case 'receive':
      onReceive(turn, input.message, input.from);
      break;
    case 'join':
      onJoin(turn, input.address);
      break;
    case 'broadcast':
      broadcast(turn, {
        type: 'peer-broadcast',
        from: state.selfId,
        fromAddress: state.selfAddress,
        term: state.term,
        payload: input.payload,
      });
      break;
    default:
      assertNever(input, 'raft-lite input');
  }
  // §5.1/§5.2: (term, votedFor) is durable before anything this step sends or reports.
  if (state.term !== durable.term || state.votedFor !== durable.votedFor)
    turn.out.persist.push({ term: state.term, votedFor: state.votedFor });
  const after = leaderOf(state);
  if (before?.id !== after?.id || before?.term !== after?.term) {
    turn.out.afterPersist.push({
      kind: 'leader',
      leader: after?.id,
      term: state.term,
      self: state.role === 'leader',
    });
  }
  return turn.out;
}

// ---- shared rules: quorum, terms, sends ----

/**
 * Whether `supporters` (self included when it supports) are a majority of the known cluster.
 * A NodeId counts only while it speaks for an address of the cluster, so one address gives at
 * most one vote, whoever claims it.
 */
export function hasQuorum(state: State, supporters: ReadonlySet<NodeId>): boolean {
  let count = 0;
  for (const id of supporters) {
    if (id === state.selfId) count++;
    else {
      const address = state.heard.get(id)?.address;
      if (address !== undefined && state.idAt.get(address) === id) count++;
    }
  }
  return count >= majorityOf(state.peers.size);
}

function send(turn: Turn, to: Address, message: ElectionMessage): void {
  turn.out.afterPersist.push({ kind: 'send', to, channel: 'packet', message });
}

function otherPeers(state: State): Address[] {
  return [...state.peers].filter((p) => p !== state.selfAddress);
}

function broadcast(turn: Turn, message: ElectionMessage): void {
  for (const to of otherPeers(turn.state)) send(turn, to, message);
}

function resetElectionTimer(turn: Turn): void {
  const { config } = turn.state;
  turn.state.electionDeadlineMs = addMs(
    turn.now,
    randomElectionTimeoutMs(turn.rng, config.electionTimeoutMinMs, config.electionTimeoutMaxMs),
  );
}

/** Raft §5.1: a newer term makes any role a follower of that term, with no vote cast yet. */
function adoptTerm(turn: Turn, newTerm: Term): void {
  const { state } = turn;
  turn.out.afterPersist.push({ kind: 'term', oldTerm: state.term, newTerm });
  state.term = newTerm;
  state.votedFor = undefined;
  if (state.role !== 'follower') becomeFollower(turn);
  state.leader = undefined;
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
  return (
    state.leaderContactMs !== undefined &&
    state.leader !== undefined &&
    turn.now - state.leaderContactMs < state.config.electionTimeoutMinMs
  );
}

/** `id` spoke to us directly from `address`: it now speaks for that address, and is alive. */
function notePeerHeard(turn: Turn, id: NodeId, address: Address): void {
  const { state } = turn;
  if (!state.peers.has(address) || id === state.selfId) return;
  const previous = state.idAt.get(address);
  if (previous !== undefined && previous !== id) forget(turn, previous);
  const known = state.heard.get(id);
  if (known !== undefined && known.address !== address) {
    if (state.idAt.get(known.address) === id) state.idAt.delete(known.address);
    if (known.reachable) turn.out.effects.push({ kind: 'peer-left', address: known.address });
  }
  state.idAt.set(address, id);
  const wasReachable = known?.address === address && known.reachable;
  state.heard.set(id, { address, lastHeardMs: turn.now, reachable: true });
  if (!wasReachable) turn.out.effects.push({ kind: 'peer-joined', address });
}

/** Another NodeId now speaks for `id`'s address: `id`'s votes and acks no longer count. */
function forget(turn: Turn, id: NodeId): void {
  const { state } = turn;
  const peer = state.heard.get(id);
  state.heard.delete(id);
  state.votes.delete(id);
  state.recentAcks.delete(id);
  if (peer?.reachable === true) turn.out.effects.push({ kind: 'peer-left', address: peer.address });
}

function addPeer(turn: Turn, address: Address): boolean {
  const { state } = turn;
  if (state.peers.has(address)) return true;
  if (state.peers.size >= state.config.peersMax) {
    state.counters.peersRejected++;
    turn.out.effects.push({
      kind: 'rejected',
      input: 'join',
      detail: `known cluster is full (peersMax ${state.config.peersMax}); ${address} not added`,
    });
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
    if (state.checkQuorumDeadlineMs !== undefined && now >= state.checkQuorumDeadlineMs)
      checkQuorum(turn);
    if (
      state.role === 'leader' &&
      state.heartbeatDeadlineMs !== undefined &&
      now >= state.heartbeatDeadlineMs
    )
      sendHeartbeats(turn);
    return;
  }
  if (now >= state.electionDeadlineMs) startPreVote(turn);
}

function expireSilentPeers(turn: Turn): void {
  const { state, now } = turn;
  for (const peer of state.heard.values()) {
    if (!peer.reachable || now - peer.lastHeardMs < state.config.peerLeftMs) continue;
    peer.reachable = false;
    turn.out.effects.push({ kind: 'peer-left', address: peer.address });
  }
}

/** etcd check-quorum: a leader that cannot hear a majority (self counted) steps down. */
function checkQuorum(turn: Turn): void {
  const { state } = turn;
  const supporters = new Set([...state.recentAcks, state.selfId]);
  state.recentAcks = new Set();
  if (hasQuorum(state, supporters)) {
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
  broadcast(turn, {
    type: 'leader-heartbeat',
    from: state.selfId,
    fromAddress: state.selfAddress,
    term: state.term,
    peers: [...state.peers],
  });
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
  state.votes = new Set([state.selfId]);
  if (hasQuorum(state, state.votes)) return startElection(turn);
  broadcast(turn, {
    type: 'vote-request',
    from: state.selfId,
    fromAddress: state.selfAddress,
    term: toTerm(state.term + 1),
    preVote: true,
  });
}

/** §5.2: increment the term, vote for self, persist (step does), then ask every peer. */
function startElection(turn: Turn): void {
  const { state } = turn;
  state.counters.electionsStarted++;
  const next = toTerm(state.term + 1);
  turn.out.afterPersist.push({ kind: 'term', oldTerm: state.term, newTerm: next });
  state.term = next;
  state.votedFor = state.selfId;
  state.role = 'candidate';
  state.votes = new Set([state.selfId]);
  resetElectionTimer(turn);
  if (hasQuorum(state, state.votes)) return becomeLeader(turn);
  broadcast(turn, {
    type: 'vote-request',
    from: state.selfId,
    fromAddress: state.selfAddress,
    term: state.term,
    preVote: false,
  });
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

type Msg<T extends ElectionMessage['type']> = Extract<ElectionMessage, { type: T }>;

function onReceive(turn: Turn, message: ElectionMessage, from: Address): void {
  const { state } = turn;
  if (message.type === 'join-cluster') return onJoinRequest(turn, message, from);
  if (message.type === 'heartbeat') return void state.counters.strangerMessages++;
  if (!state.peers.has(message.fromAddress) && message.type !== 'leader-heartbeat') {
    // A vote from outside the known cluster is not a vote of this cluster.
    state.counters.strangerMessages++;
    return;
  }
  notePeerHeard(turn, message.from, message.fromAddress);
  if (!applyTermRule(turn, message)) return;
  switch (message.type) {
    case 'vote-request':
      return message.preVote ? onPreVoteRequest(turn, message) : onVoteRequest(turn, message);
    case 'vote-response':
      return onVoteResponse(turn, message);
    case 'leader-heartbeat':
      return onLeaderHeartbeat(turn, message);
    case 'heartbeat-ack':
      return onHeartbeatAck(turn, message);
    case 'peer-broadcast':
      return void turn.out.effects.push({
        kind: 'delivered',
        from: message.from,
        fromAddress: message.fromAddress,
        payload: message.payload,
      });
    default:
      return assertNever(message, 'raft-lite message');
  }
}

/**
 * Raft §5.1 for every role, before the message's handler (etcd's `Step` on `m.Term`). Returns
 * false when nothing is left for the handler to do.
 * - Newer term: adopted and we become a follower, except (etcd) a pre-vote request (it asks
 *   about a term nobody is in yet), a real vote request while a live leader's lease holds (so a
 *   node rejoining from a partition cannot depose it), a granted pre-vote (it echoes the
 *   proposed term), and an application broadcast. A newer response only teaches the term.
 * - Stale term: a stale leader's heartbeat is answered with our term so it steps down; the
 *   other handlers refuse or ignore stale messages themselves.
 */
function applyTermRule(
  turn: Turn,
  m: Exclude<ElectionMessage, Msg<'join-cluster'> | Msg<'heartbeat'>>,
): boolean {
  const { state } = turn;
  const order = compareTerm(state.term, m.term);
  if (order === 'newer') {
    if (m.type === 'peer-broadcast') return true;
    if (m.type === 'vote-request' && (m.preVote || inLeaderLease(turn))) return true;
    if (m.type === 'vote-response' && m.preVote && m.granted) return true;
    adoptTerm(turn, m.term);
    return m.type !== 'vote-response' && m.type !== 'heartbeat-ack';
  }
  if (order === 'stale' && m.type === 'leader-heartbeat') {
    state.counters.staleMessages++;
    send(turn, m.fromAddress, {
      type: 'heartbeat-ack',
      from: state.selfId,
      fromAddress: state.selfAddress,
      term: state.term,
    });
    return false;
  }
  return true;
}

function reply(turn: Turn, to: Address, granted: boolean, preVote: boolean, replyTerm: Term): void {
  const { state } = turn;
  send(turn, to, {
    type: 'vote-response',
    from: state.selfId,
    fromAddress: state.selfAddress,
    term: replyTerm,
    preVote,
    granted,
  });
  if (granted) state.counters.votesGranted++;
  else state.counters.votesRefused++;
}

function onPreVoteRequest(turn: Turn, m: Msg<'vote-request'>): void {
  const { state } = turn;
  const decision = decidePreVote(
    { currentTerm: state.term, votedFor: state.votedFor, inLeaderLease: inLeaderLease(turn) },
    m.term,
  );
  // A granted pre-vote echoes the proposed term; a refusal carries ours so a stale asker catches up.
  reply(turn, m.fromAddress, decision.granted, true, decision.granted ? m.term : state.term);
}

function onVoteRequest(turn: Turn, m: Msg<'vote-request'>): void {
  const { state } = turn;
  const decision = decideVote(
    { currentTerm: state.term, votedFor: state.votedFor, inLeaderLease: inLeaderLease(turn) },
    m.from,
    m.term,
  );
  if (decision.granted && state.votedFor !== m.from) {
    state.votedFor = m.from;
    resetElectionTimer(turn);
  }
  // §5.2: the grant waits in afterPersist until the vote is durable.
  reply(turn, m.fromAddress, decision.granted, false, state.term);
}

function onVoteResponse(turn: Turn, m: Msg<'vote-response'>): void {
  const { state } = turn;
  const round = m.preVote ? 'pre-candidate' : 'candidate';
  const expectedTerm = m.preVote ? state.term + 1 : state.term;
  if (state.role !== round || m.term !== expectedTerm) return void state.counters.staleMessages++;
  if (!m.granted) return;
  state.votes.add(m.from);
  if (!hasQuorum(state, state.votes)) return;
  if (m.preVote) startElection(turn);
  else becomeLeader(turn);
}

function onLeaderHeartbeat(turn: Turn, m: Msg<'leader-heartbeat'>): void {
  const { state } = turn;
  if (state.role !== 'follower') becomeFollower(turn);
  for (const peer of m.peers) addPeer(turn, peer);
  // The leader itself was just heard (a stranger leader joins the known cluster this way).
  notePeerHeard(turn, m.from, m.fromAddress);
  state.leader = { id: m.from, address: m.fromAddress };
  state.leaderContactMs = turn.now;
  resetElectionTimer(turn);
  send(turn, m.fromAddress, {
    type: 'heartbeat-ack',
    from: state.selfId,
    fromAddress: state.selfAddress,
    term: state.term,
  });
}

function onHeartbeatAck(turn: Turn, m: Msg<'heartbeat-ack'>): void {
  const { state } = turn;
  if (state.role === 'leader' && m.term === state.term) state.recentAcks.add(m.from);
}

function onJoin(turn: Turn, address: Address): void {
  const { state } = turn;
  if (address === state.selfAddress) return;
  if (!addPeer(turn, address)) return;
  send(turn, address, joinRequest(state));
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
  if (direct) notePeerHeard(turn, m.from, m.fromAddress);
  if (isNew) send(turn, m.fromAddress, joinRequest(state));
  if (isNew || direct)
    for (const peer of otherPeers(state))
      if (peer !== m.fromAddress && peer !== from) send(turn, peer, m);
}

function joinRequest(state: State): Msg<'join-cluster'> {
  return { type: 'join-cluster', from: state.selfId, fromAddress: state.selfAddress };
}
