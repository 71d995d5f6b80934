/**
 * `static` mode's pure core: a fixed peer list (self included) exchanging heartbeats. A peer
 * silent for `failureThresholdMs` is unhealthy; the leader is the lowest NodeId among healthy
 * peers, self always healthy. With `requireQuorum`, a node that sees less than a majority of
 * the configured peers (self counted, quorum.ts) has no leader: of two sides of a partition at
 * most one can see a majority, so two nodes that each see a majority share a member, and
 * lowest-id over overlapping healthy sets can still differ only while heartbeats are in flight.
 *
 * Freshness by echo: a heartbeat carries the sender's clock (`sentAtMs`) and the latest
 * `sentAtMs` it received from the recipient (`echoMs`). A peer is healthy while one of our own
 * heartbeats that it echoed was sent less than `healthWindowMs` (the failure threshold plus one
 * heartbeat interval, the peer's own send period) ago, on our clock alone. So a heartbeat that
 * arrives late (held in a queue, delivered after its sender crashed, queued while this node was
 * paused) proves only what its echo proves: no clock is compared across nodes, and no delay,
 * however long, makes a silent peer look alive.
 *
 * The term is a fencing token: heartbeats carry it, a node adopts any higher one it hears, and
 * bumps it past everything it has seen whenever its leader changes. It never decreases on a
 * node: a changed term is persisted, and the heartbeats and leader report that carry it wait
 * for the write (`afterPersist`). Nodes converge on the same value once heartbeats flow.
 */
import type { Address } from '../../base/address.js';
import { assertNever } from '../../base/assert.js';
import type { Ready, StepContext } from '../../base/protocol.js';
import { addMs, type Millis } from '../../base/time.js';
import { term as toTerm, type Term } from '../../base/units.js';
import type { ElectionMessage } from '../messages.js';
import { compareNodeId, type NodeId } from '../../identity/node-id.js';
import { majorityOf } from '../quorum.js';
import type { StaticConfig } from './config.js';
import type { StaticEffect, StaticInit, StaticInput, StaticRecord, StaticState } from './types.js';

type Out = Ready<StaticState, StaticEffect, StaticRecord>;

/**
 * How long after one of our heartbeats a peer that echoed it stays healthy: the failure
 * threshold, plus the peer's send period (it echoes a heartbeat of ours in its next one).
 */
export function healthWindowMs(config: StaticConfig): number {
  return config.failureThresholdMs + config.heartbeatIntervalMs;
}

export function initStatic(init: StaticInit, persistedTerm: Term, now: Millis): StaticState {
  const peers = init.peers.includes(init.selfAddress)
    ? [...init.peers]
    : [...init.peers, init.selfAddress];
  return {
    config: init.config,
    selfId: init.selfId,
    selfAddress: init.selfAddress,
    peers,
    heard: new Map(),
    term: persistedTerm,
    leader: undefined,
    nextHeartbeatMs: now,
    echoTo: new Map(),
    strangerMessages: 0,
    staleHeartbeats: 0,
  };
}

export function nextDeadline(state: StaticState): Millis {
  let next: number = state.nextHeartbeatMs;
  for (const record of state.heard.values())
    if (record.healthy) next = Math.min(next, record.lastHeardMs + healthWindowMs(state.config));
  return next as Millis;
}

/** Self and every healthy peer, sorted: the input of the lowest-id rule. */
export function healthyIds(state: StaticState): NodeId[] {
  const ids = [state.selfId];
  for (const [id, record] of state.heard) if (record.healthy) ids.push(id);
  return ids.sort(compareNodeId);
}

/** Lowest id among healthy peers (self always healthy), or none without a required quorum. */
export function computeLeader(state: StaticState): NodeId | undefined {
  const healthy = healthyIds(state);
  if (state.config.requireQuorum && healthy.length < majorityOf(state.peers.length))
    return undefined;
  return healthy[0];
}

export function step(state: StaticState, input: StaticInput, _ctx?: StepContext): Out {
  const out: Out = { state, effects: [], persist: [], afterPersist: [] };
  const termBefore = state.term;
  switch (input.kind) {
    case 'receive':
      onHeartbeat(state, input.now, input.message, out);
      break;
    case 'tick':
    case 'persisted':
      break;
    default:
      assertNever(input, 'static input');
  }
  expire(state, input.now, out);
  if (input.now >= state.nextHeartbeatMs) sendHeartbeats(state, input.now, out);
  const leader = computeLeader(state);
  if (leader !== state.leader) {
    state.leader = leader;
    state.term = toTerm(state.term + 1);
  }
  if (state.term !== termBefore) {
    // The new token is durable before any heartbeat carries it or the leader is reported with it.
    out.persist.push({ term: state.term });
    out.afterPersist.push({ kind: 'leader', leader: state.leader, term: state.term });
  }
  return out;
}

function sendHeartbeats(state: StaticState, now: Millis, out: Out): void {
  state.nextHeartbeatMs = addMs(now, state.config.heartbeatIntervalMs);
  for (const to of state.peers) {
    if (to === state.selfAddress) continue;
    const message: ElectionMessage = {
      type: 'heartbeat',
      from: state.selfId,
      fromAddress: state.selfAddress,
      term: state.term,
      sentAtMs: now,
      echoMs: state.echoTo.get(to),
    };
    out.afterPersist.push({ kind: 'send', to, channel: 'packet', message });
  }
}

function onHeartbeat(state: StaticState, now: Millis, message: ElectionMessage, out: Out): void {
  if (
    message.type !== 'heartbeat' ||
    !state.peers.includes(message.fromAddress) ||
    message.fromAddress === state.selfAddress ||
    message.from === state.selfId
  ) {
    state.strangerMessages++;
    return;
  }
  // Shared rule first: a higher fencing term is adopted whatever else the heartbeat says.
  if (message.term > state.term) state.term = message.term;
  // Echo the latest heard, not the highest: a restarted peer's clock starts again from a new
  // origin (a reordered older one only makes our echo look older, never fresher).
  state.echoTo.set(message.fromAddress, message.sentAtMs);
  // Fresh only if it echoes one of our recent heartbeats (an echo from our future is forged
  // or from an earlier life of ours: not proof either).
  const echo = message.echoMs;
  if (echo === undefined || echo > now || now - echo >= healthWindowMs(state.config)) {
    state.staleHeartbeats++;
    return;
  }
  let record = state.heard.get(message.from);
  if (record === undefined) {
    claimAddress(state, message.fromAddress, message.from, out);
    record = {
      address: message.fromAddress,
      lastHeardMs: echo as Millis,
      healthy: false,
      announced: false,
    };
    state.heard.set(message.from, record);
  } else if (record.address !== message.fromAddress) {
    claimAddress(state, message.fromAddress, message.from, out);
    record.address = message.fromAddress;
  }
  if (echo > record.lastHeardMs) record.lastHeardMs = echo as Millis;
  if (record.healthy) return;
  record.healthy = true;
  out.effects.push({
    kind: 'member',
    type: record.announced ? 'alive' : 'joined',
    address: message.fromAddress,
    id: message.from,
  });
  record.announced = true;
}

/** One NodeId per peer address: a node that now heartbeats from `address` replaces the one that did. */
function claimAddress(state: StaticState, address: Address, id: NodeId, out: Out): void {
  for (const [other, record] of state.heard) {
    if (other === id || record.address !== address) continue;
    state.heard.delete(other);
    if (record.healthy) out.effects.push({ kind: 'member', type: 'dead', address, id: other });
  }
}

function expire(state: StaticState, now: Millis, out: Out): void {
  for (const [id, record] of state.heard) {
    if (record.healthy && now - record.lastHeardMs >= healthWindowMs(state.config)) {
      record.healthy = false;
      out.effects.push({ kind: 'member', type: 'dead', address: record.address, id });
    }
  }
}
