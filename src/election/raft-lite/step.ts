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
 * - Configuration (issue 11): the cluster is one replicated value, agreed through the leader as
 *   Raft agrees its log, compressed to its last entry. Its id is (configTerm, configVersion):
 *   the term of the leader that wrote it, then a version. Version 0 is the bootstrap set, the
 *   `peers` a node booted with plus what join requests spread before any leader exists
 *   (guarded by minClusterSize, failure story 3). A new leader first restamps its configuration
 *   with its own term (Raft's no-op entry of a new term) and may change it only once a majority
 *   has acked that; then it adds one joiner at a time (Raft §4.1 single-server changes), and a
 *   change commits only when a majority of the old members AND of the new ones have made it
 *   durable. A vote (or pre-vote) is refused to a candidate whose configuration id is older than
 *   the voter's (the analog of §5.4.1's up-to-date log), so a node that missed a committed
 *   change cannot win, and a follower takes the leader's configuration when it is newer than
 *   its own. A node whose bootstrap list does not name itself, or that learns a configured
 *   cluster exists, is a joiner: it never stands for election and repeats its join request every
 *   election timeout until a leader's configuration includes it.
 *
 * Ordering is in the type: a step that changed the durable record (term, vote, configuration)
 * persists it once, and every send and leader report of the step waits for that write
 * (`afterPersist`), so a vote grant or a configuration ack never leaves before it is durable.
 * Invariants (invariants.ts): one vote per term, term and configuration id never decrease, a
 * leader has self in `peers`; one leader per term cluster-wide is the simulator's checker.
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
  const saved =
    durable.config !== undefined && durable.config.version > 0 ? durable.config : undefined;
  // A node whose bootstrap list leaves itself out asks to be added; so does one that learned
  // (and saved) that a configured cluster exists.
  const joining =
    saved === undefined && (durable.joining === true || !init.peers.includes(init.selfAddress));
  const peers =
    saved === undefined
      ? new Set<Address>([init.selfAddress, ...init.peers, ...(durable.config?.peers ?? [])])
      : new Set<Address>(saved.peers);
  const configTerm = saved?.term ?? toTerm(0);
  const configVersion = saved?.version ?? 0;
  return {
    config,
    selfId: init.selfId,
    selfAddress: init.selfAddress,
    peers,
    pins: new Map(saved?.pins ?? []),
    configTerm,
    configVersion,
    joining,
    durableConfig: { term: configTerm, version: configVersion },
    previousPeers: undefined,
    configCommitted: false,
    configAcks: new Set(),
    joinQueue: [],
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
  const durable = recordKey(state);
  switch (input.kind) {
    case 'tick':
      onTick(turn);
      break;
    case 'persisted':
      onPersisted(turn, input.records);
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
  // §5.1/§5.2: the record is durable before anything this step sends or reports.
  if (recordKey(state) !== durable) turn.out.persist.push(recordOf(state));
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

/** The durable record of `state`. */
export function recordOf(state: State): RaftLiteRecord {
  return {
    term: state.term,
    votedFor: state.votedFor,
    config: {
      term: state.configTerm,
      version: state.configVersion,
      peers: [...state.peers],
      pins: [...state.pins],
    },
    joining: state.joining,
  };
}

/**
 * What decides whether a step must write: term, vote, configuration id and joining. The bootstrap
 * set growing by joins alone is not written (a restart rebuilds it from the bootstrap list).
 */
function recordKey(state: State): string {
  return `${state.term}|${state.votedFor ?? ''}|${state.configTerm}.${state.configVersion}|${state.joining ? 1 : 0}`;
}

/** Orders two configuration ids: the writer's term first, then the version. */
export function compareConfig(
  a: { term: Term; version: number },
  b: { term: Term; version: number },
): number {
  return a.term !== b.term ? a.term - b.term : a.version - b.version;
}

function configOf(state: State): { term: Term; version: number } {
  return { term: state.configTerm, version: state.configVersion };
}

// ---- shared rules: quorum, terms, sends ----

/**
 * Whether `supporters` (self included when it supports) are a majority of the known cluster.
 * A NodeId counts only while it speaks for an address of the cluster, and at a pinned address
 * only if it is the pinned one, so one address gives at most one vote, whoever claims it, and a
 * new identity at a member's address (a node that lost its data dir) gives none.
 */
export function hasQuorum(
  state: State,
  supporters: ReadonlySet<NodeId>,
  members: ReadonlySet<Address> = state.peers,
): boolean {
  let count = 0;
  for (const id of supporters) {
    const address = id === state.selfId ? state.selfAddress : state.heard.get(id)?.address;
    if (address === undefined || !members.has(address) || !holdsPin(state, address, id)) continue;
    if (id === state.selfId || state.idAt.get(address) === id) count++;
  }
  return count >= majorityOf(members.size);
}

/** Whether `id` may speak for `address`: the configuration pins nobody there, or pins `id`. */
function holdsPin(state: State, address: Address, id: NodeId): boolean {
  const pinned = state.pins.get(address);
  return pinned === undefined || pinned === id;
}

/** A node at a member's address with another identity than the pinned one: refused and said so. */
function refuseIdentity(turn: Turn, address: Address, id: NodeId): void {
  const { state } = turn;
  state.counters.identitiesRefused++;
  turn.out.effects.push({
    kind: 'rejected',
    input: 'receive',
    detail: `${address} is a member as ${state.pins.get(address) ?? '?'}, not ${id}: a node that lost its data dir comes back as a new identity and is not admitted in its old place`,
  });
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
  // A change in flight stays in `peers` (as an uncommitted entry stays in a Raft log); the next
  // leader's configuration decides whether it lives.
  state.previousPeers = undefined;
  state.configCommitted = false;
  state.configAcks = new Set();
  state.joinQueue = [];
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
  if (!state.peers.has(address) || id === state.selfId || !holdsPin(state, address, id)) return;
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
    configTerm: state.configTerm,
    configVersion: state.configVersion,
    peers: [...state.peers],
    pins: [...state.pins],
  });
}

/** Thesis §9.6: ask for pre-votes at term+1 without changing our term. */
function startPreVote(turn: Turn): void {
  const { state } = turn;
  resetElectionTimer(turn);
  state.leader = undefined;
  if (state.joining) {
    // Not a member yet: ask again (the request, or the leader's answer, may have been lost).
    state.counters.electionsDeferredJoining++;
    state.role = 'follower';
    broadcast(turn, joinRequest(state));
    return;
  }
  if (state.configVersion === 0 && state.peers.size < state.config.minClusterSize) {
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
    configTerm: state.configTerm,
    configVersion: state.configVersion,
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
    configTerm: state.configTerm,
    configVersion: state.configVersion,
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
  // Raft's no-op of a new term: the configuration is restamped with this term (the bootstrap
  // set becomes version 1) and must be acked by a majority before it may change.
  state.configTerm = state.term;
  state.configVersion = Math.max(1, state.configVersion);
  pinKnownIds(state);
  state.previousPeers = undefined;
  state.configCommitted = false;
  state.configAcks = new Set();
  sendHeartbeats(turn);
}

/** The leader's configuration is committed once a majority of it (and of the previous one) has it durable. */
function checkConfigCommit(turn: Turn): void {
  const { state } = turn;
  if (state.role !== 'leader' || state.configCommitted) return;
  const acks = new Set(state.configAcks);
  if (compareConfig(state.durableConfig, configOf(state)) === 0) acks.add(state.selfId);
  if (!hasQuorum(state, acks)) return;
  if (state.previousPeers !== undefined && !hasQuorum(state, acks, state.previousPeers)) return;
  state.configCommitted = true;
  state.previousPeers = undefined;
  proposeNextJoin(turn);
}

/**
 * Pins every member whose NodeId this leader knows (itself, and whoever speaks for an address
 * it has heard directly) and that the configuration does not pin yet. Pins are only ever added
 * to an address: a pin only narrows who counts there.
 */
function pinKnownIds(state: State): boolean {
  let added = false;
  for (const address of state.peers) {
    if (state.pins.has(address)) continue;
    const id = address === state.selfAddress ? state.selfId : state.idAt.get(address);
    if (id === undefined) continue;
    state.pins.set(address, id);
    added = true;
  }
  return added;
}

/**
 * One change at a time, once the configuration is committed: the next queued joiner, else the
 * pins of members whose NodeIds this leader has learned since (same members, next version).
 */
function proposeNextJoin(turn: Turn): void {
  const { state } = turn;
  if (
    state.role === 'leader' &&
    state.configCommitted &&
    state.joinQueue.length === 0 &&
    pinKnownIds(state)
  ) {
    state.configVersion++;
    state.configCommitted = false;
    state.configAcks = new Set();
    sendHeartbeats(turn);
    return;
  }
  while (state.role === 'leader' && state.configCommitted && state.joinQueue.length > 0) {
    const joiner = state.joinQueue.shift() as Address;
    if (state.peers.has(joiner)) continue;
    if (state.peers.size >= state.config.peersMax) {
      state.counters.peersRejected++;
      turn.out.effects.push({
        kind: 'rejected',
        input: 'receive',
        detail: `cluster is full (peersMax ${state.config.peersMax}); ${joiner} not added`,
      });
      continue;
    }
    state.counters.configChanges++;
    state.previousPeers = new Set(state.peers);
    state.peers = new Set([...state.peers, joiner]);
    state.configVersion++;
    state.configCommitted = false;
    state.configAcks = new Set();
    sendHeartbeats(turn);
    return;
  }
}

/** A write finished: what this node may now count for itself. */
function onPersisted(turn: Turn, records: readonly RaftLiteRecord[]): void {
  const { state } = turn;
  const last = records[records.length - 1]?.config;
  if (last === undefined) return;
  state.durableConfig = { term: last.term, version: last.version };
  checkConfigCommit(turn);
}

// ---- messages ----

type Msg<T extends ElectionMessage['type']> = Extract<ElectionMessage, { type: T }>;

function onReceive(turn: Turn, message: ElectionMessage, from: Address): void {
  const { state } = turn;
  if (message.type === 'join-cluster') return onJoinRequest(turn, message, from);
  if (message.type === 'heartbeat') return void state.counters.strangerMessages++;
  if (
    !state.peers.has(message.fromAddress) &&
    message.type !== 'leader-heartbeat' &&
    !(message.type === 'vote-request' && compareConfig(configFrom(message), configOf(state)) > 0)
  ) {
    // A vote from outside the cluster is not a vote of this cluster, unless the candidate holds
    // a newer configuration than ours (one that may well include us).
    state.counters.strangerMessages++;
    // A candidate our configuration leaves out is a member the cluster removed (silent too long)
    // that came back with its old configuration: its request is a join request, passed to the
    // leader like a direct one, or it would ask forever with a configuration nobody shares.
    if (message.type === 'vote-request' && state.configVersion > 0)
      onJoinRequestAsMember(turn, joinRequestOf(message), true);
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
      configTerm: state.configTerm,
      configVersion: state.configVersion,
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

function configFrom(m: { configTerm: Term; configVersion: number }): {
  term: Term;
  version: number;
} {
  return { term: m.configTerm, version: m.configVersion };
}

/** The vote rule's configuration half: never for a candidate whose configuration is older. */
function olderConfig(turn: Turn, m: Msg<'vote-request'>): boolean {
  if (compareConfig(configFrom(m), configOf(turn.state)) >= 0) return false;
  turn.state.counters.votesRefusedOlderConfig++;
  return true;
}

function onPreVoteRequest(turn: Turn, m: Msg<'vote-request'>): void {
  const { state } = turn;
  if (olderConfig(turn, m)) return reply(turn, m.fromAddress, false, true, state.term);
  const decision = decidePreVote(
    { currentTerm: state.term, votedFor: state.votedFor, inLeaderLease: inLeaderLease(turn) },
    m.term,
  );
  // A granted pre-vote echoes the proposed term; a refusal carries ours so a stale asker catches up.
  reply(turn, m.fromAddress, decision.granted, true, decision.granted ? m.term : state.term);
}

function onVoteRequest(turn: Turn, m: Msg<'vote-request'>): void {
  const { state } = turn;
  if (olderConfig(turn, m)) return reply(turn, m.fromAddress, false, false, state.term);
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
  if (state.role === 'leader') {
    // Two leaders in one term: Election Safety is broken somewhere. Not a case to handle by
    // stepping down (that would hide it): counted, refused, and the simulator's checker fails.
    state.counters.dualLeaderHeartbeats++;
    turn.out.effects.push({
      kind: 'rejected',
      input: 'receive',
      detail: `leader heartbeat from ${m.from} in our own term ${state.term}`,
    });
    return;
  }
  if (state.role !== 'follower') becomeFollower(turn);
  adoptConfig(turn, m);
  // The leader itself was just heard.
  if (state.joining) state.peers.add(m.fromAddress);
  notePeerHeard(turn, m.from, m.fromAddress);
  state.leader = { id: m.from, address: m.fromAddress };
  state.leaderContactMs = turn.now;
  resetElectionTimer(turn);
  // Sent after the step's write: the configuration acked here is durable.
  send(turn, m.fromAddress, {
    type: 'heartbeat-ack',
    from: state.selfId,
    fromAddress: state.selfAddress,
    term: state.term,
    configTerm: state.configTerm,
    configVersion: state.configVersion,
  });
}

/**
 * The current leader's configuration replaces ours when it is newer (as a follower's log takes
 * the leader's) and names us; a configuration without us is not ours to take (we keep asking).
 */
function adoptConfig(turn: Turn, m: Msg<'leader-heartbeat'>): void {
  const { state } = turn;
  if (compareConfig(configFrom(m), configOf(state)) <= 0) return;
  if (!m.peers.includes(state.selfAddress)) return;
  const pins = new Map(m.pins);
  const mine = pins.get(state.selfAddress);
  if (mine !== undefined && mine !== state.selfId) {
    // Our address is a member under another identity: our earlier life's, whose data dir is
    // gone. Not ours to take: we never stand for election in its place.
    if (state.configVersion === 0 && !state.joining) {
      state.joining = true;
      turn.out.effects.push({
        kind: 'rejected',
        input: 'receive',
        detail: `this node's address ${state.selfAddress} is a member of the cluster as ${mine}, and this node is ${state.selfId}: its data dir was lost or replaced, so it is a new identity; it is not admitted in the old one's place (restore the data dir, or replace the member once member removal exists)`,
      });
    }
    state.counters.identitiesRefused++;
    return;
  }
  if (m.peers.length > state.config.peersMax) {
    state.counters.peersRejected++;
    turn.out.effects.push({
      kind: 'rejected',
      input: 'receive',
      detail: `leader's configuration of ${m.peers.length} exceeds peersMax ${state.config.peersMax}`,
    });
    return;
  }
  state.counters.configsAdopted++;
  const peers = new Set(m.peers);
  for (const [address, id] of state.idAt)
    if (!peers.has(address)) {
      state.idAt.delete(address);
      forget(turn, id);
    }
  for (const [address, id] of state.idAt)
    if (pins.has(address) && pins.get(address) !== id) {
      state.idAt.delete(address);
      forget(turn, id);
    }
  state.peers = peers;
  state.pins = pins;
  state.configTerm = m.configTerm;
  state.configVersion = m.configVersion;
  state.joining = false;
}

function onHeartbeatAck(turn: Turn, m: Msg<'heartbeat-ack'>): void {
  const { state } = turn;
  if (state.role !== 'leader' || m.term !== state.term) return;
  state.recentAcks.add(m.from);
  if (compareConfig(configFrom(m), configOf(state)) !== 0) return proposeNextJoin(turn);
  state.configAcks.add(m.from);
  checkConfigCommit(turn);
  proposeNextJoin(turn);
}

function onJoin(turn: Turn, address: Address): void {
  const { state } = turn;
  if (address === state.selfAddress) return;
  // Bootstrap and joining nodes remember whom to ask; a member's configuration changes only
  // through the leader, so it only introduces itself.
  if (state.configVersion === 0 && !addPeer(turn, address)) return;
  send(turn, address, joinRequest(state));
}

/**
 * A join request, direct or forwarded.
 * - Bootstrap (configuration version 0, not joining): how bootstrap lists that only overlap
 *   spread the whole set before any leader exists. A request sent by the joiner itself is
 *   forwarded as is to every other peer we know (a node still short of minClusterSize repeats
 *   its request every election timeout); a joiner new to us also gets our own request, so it
 *   learns us. A forwarded request is acted on only when it names a joiner new to us, so each
 *   forward wave ends after one hop per node. A request from a configured node tells us a
 *   cluster already exists: we stop bootstrapping and join it. A joiner's request is left for
 *   the leader to come (the joiner repeats it).
 * - Configured member: a stranger's request goes to the leader, which adds one joiner at a time
 *   (`proposeNextJoin`); a direct one is answered with our request, so the joiner learns a
 *   member it can ask.
 * - Joining: a configured node that asks us is one more address to ask.
 */
function onJoinRequest(turn: Turn, m: Msg<'join-cluster'>, from: Address): void {
  const { state } = turn;
  if (m.fromAddress === state.selfAddress) return;
  const direct = from === m.fromAddress;
  if (state.joining) {
    if (m.configVersion > 0 && direct) addPeer(turn, m.fromAddress);
    return;
  }
  if (state.configVersion === 0 && m.configVersion > 0) {
    // A configured cluster exists: bootstrapping on our own could split it.
    state.joining = true;
    if (state.role !== 'follower') becomeFollower(turn);
    if (direct) addPeer(turn, m.fromAddress);
    broadcast(turn, joinRequest(state));
    return;
  }
  if (state.configVersion > 0) return onJoinRequestAsMember(turn, m, direct);
  // A joiner waits for a leader: a bootstrap set grown by joiners would not be agreed.
  if (m.joining) return;
  const isNew = !state.peers.has(m.fromAddress);
  if (!addPeer(turn, m.fromAddress)) return;
  // Only a request sent by the joiner itself is news of its liveness; a forwarded one is hearsay.
  if (direct) notePeerHeard(turn, m.from, m.fromAddress);
  if (isNew) send(turn, m.fromAddress, joinRequest(state));
  if (isNew || direct)
    for (const peer of otherPeers(state))
      if (peer !== m.fromAddress && peer !== from) send(turn, peer, m);
}

function onJoinRequestAsMember(turn: Turn, m: Msg<'join-cluster'>, direct: boolean): void {
  const { state } = turn;
  if (state.peers.has(m.fromAddress)) {
    if (!holdsPin(state, m.fromAddress, m.from)) return refuseIdentity(turn, m.fromAddress, m.from);
    if (direct) notePeerHeard(turn, m.from, m.fromAddress);
    return;
  }
  if (direct) send(turn, m.fromAddress, joinRequest(state));
  if (state.role === 'leader') {
    if (!state.joinQueue.includes(m.fromAddress) && state.joinQueue.length < state.config.peersMax)
      state.joinQueue.push(m.fromAddress);
    return proposeNextJoin(turn);
  }
  if (state.leader !== undefined && direct) {
    state.counters.joinsForwarded++;
    send(turn, state.leader.address, m);
  }
}

function joinRequestOf(m: Msg<'vote-request'>): Msg<'join-cluster'> {
  return {
    type: 'join-cluster',
    from: m.from,
    fromAddress: m.fromAddress,
    configVersion: m.configVersion,
    joining: true,
  };
}

function joinRequest(state: State): Msg<'join-cluster'> {
  return {
    type: 'join-cluster',
    from: state.selfId,
    fromAddress: state.selfAddress,
    configVersion: state.configVersion,
    joining: state.joining,
  };
}
