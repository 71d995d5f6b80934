/**
 * `static` mode's pure core: a fixed peer list (self included) exchanging heartbeats. A peer
 * silent for `failureThresholdMs` is unhealthy; the leader is the lowest NodeId among healthy
 * peers, self always healthy. With `requireQuorum`, a node that sees less than a majority of
 * the configured peers (self counted, quorum.ts) has no leader: of two sides of a partition at
 * most one can see a majority, so two nodes that each see a majority share a member, and
 * lowest-id over overlapping healthy sets can still differ only while heartbeats are in flight.
 *
 * Stalls (a paused process, a blocked event loop): the packets that queued up meanwhile are
 * delivered at once when the node runs again and look fresh, though their senders may have been
 * cut off since. A node that sees a gap of more than `stallGapMs` between two of its own steps
 * (it steps at least every heartbeat interval) ignores heartbeats for `stallQuarantineMs`
 * after it: a peer counts as healthy again only from a heartbeat sent after the stall.
 *
 * The term is a fencing token: heartbeats carry it, a node adopts any higher one it hears, and
 * bumps it past everything it has seen whenever its leader changes. It never decreases on a
 * node (it is persisted), and nodes converge on the same value once heartbeats flow.
 */
import type { Address } from '../../base/address.js';
import { addMs, type Millis } from '../../base/time.js';
import type { ElectionMessage } from '../../codec/messages.js';
import { compareNodeId, type NodeId } from '../../identity/node-id.js';
import { majorityOf } from '../quorum.js';

export interface StaticConfig {
  /** A peer unheard this long is unhealthy, ms. Trade-off: lower fails over faster but flaps on loss. @defaultValue 1000 */
  failureThresholdMs: number;
  /** Heartbeat period, ms; at most failureThresholdMs / 2. @defaultValue 200 */
  heartbeatIntervalMs: number;
  /** No leader without a majority of `peers` in sight. @defaultValue true for 3+ peers */
  requireQuorum: boolean;
}

export interface PeerRecord {
  id: NodeId;
  lastHeardMs: Millis;
  healthy: boolean;
}

export interface StaticState {
  config: StaticConfig;
  selfId: NodeId;
  selfAddress: Address;
  peers: readonly Address[];
  heard: Map<Address, PeerRecord>;
  term: number;
  leader: NodeId | undefined;
  nextHeartbeatMs: Millis;
  /** The `now` of the last step, to detect a stall; heartbeats before `quarantineUntilMs` may be stale. */
  lastStepMs: Millis;
  quarantineUntilMs: Millis;
  strangerMessages: number;
  heartbeatsIgnoredAfterStall: number;
}

/** A gap between two steps longer than this is a stall: a running node steps every heartbeat interval. */
export function stallGapMs(config: StaticConfig): number {
  return Math.floor((config.heartbeatIntervalMs * 3) / 2);
}

/** Heartbeats delivered this soon after a stall may have queued during it and are not trusted. */
export function stallQuarantineMs(config: StaticConfig): number {
  return Math.max(1, Math.floor(config.heartbeatIntervalMs / 2));
}

export type StaticInput =
  | { kind: 'tick'; now: Millis }
  | { kind: 'receive'; now: Millis; message: ElectionMessage };

export type StaticEffect =
  | { kind: 'persist'; term: number }
  | { kind: 'send'; to: Address; message: ElectionMessage }
  | { kind: 'leader'; leader: NodeId | undefined; term: number }
  | { kind: 'member'; type: 'joined' | 'alive' | 'dead'; address: Address; id: NodeId };

export function createStaticState(config: StaticConfig, selfId: NodeId, selfAddress: Address, peers: readonly Address[], term: number, now: Millis): StaticState {
  const all = peers.includes(selfAddress) ? [...peers] : [...peers, selfAddress];
  return {
    config, selfId, selfAddress, peers: all, heard: new Map(), term, leader: undefined, nextHeartbeatMs: now,
    lastStepMs: now, quarantineUntilMs: now, strangerMessages: 0, heartbeatsIgnoredAfterStall: 0,
  };
}

export function nextDeadline(state: StaticState): Millis {
  let next: number = state.nextHeartbeatMs;
  for (const record of state.heard.values()) if (record.healthy) next = Math.min(next, record.lastHeardMs + state.config.failureThresholdMs);
  return next as Millis;
}

/** Lowest id among healthy peers (self always healthy), or none without a required quorum. */
export function computeLeader(state: StaticState): NodeId | undefined {
  const healthy = [state.selfId, ...[...state.heard.values()].filter((r) => r.healthy).map((r) => r.id)];
  if (state.config.requireQuorum && healthy.length < majorityOf(state.peers.length)) return undefined;
  return healthy.sort(compareNodeId)[0];
}

export function step(state: StaticState, input: StaticInput): { state: StaticState; effects: StaticEffect[] } {
  const effects: StaticEffect[] = [];
  const termBefore = state.term;
  if (input.now - state.lastStepMs > stallGapMs(state.config)) state.quarantineUntilMs = addMs(input.now, stallQuarantineMs(state.config));
  state.lastStepMs = input.now;
  if (input.kind === 'receive') onHeartbeat(state, input.now, input.message, effects);
  expire(state, input.now, effects);
  if (input.now >= state.nextHeartbeatMs) {
    state.nextHeartbeatMs = addMs(input.now, state.config.heartbeatIntervalMs);
    const message: ElectionMessage = { type: 'heartbeat', from: state.selfId, fromAddress: state.selfAddress, term: state.term };
    for (const to of state.peers) if (to !== state.selfAddress) effects.push({ kind: 'send', to, message });
  }
  const leader = computeLeader(state);
  const changed = leader !== state.leader;
  if (changed) {
    state.leader = leader;
    state.term++;
  }
  if (state.term !== termBefore) {
    // Persist before the new token is reported or sent.
    effects.unshift({ kind: 'persist', term: state.term });
    effects.push({ kind: 'leader', leader: state.leader, term: state.term });
  }
  return { state, effects };
}

function onHeartbeat(state: StaticState, now: Millis, message: ElectionMessage, effects: StaticEffect[]): void {
  if (message.type !== 'heartbeat' || !state.peers.includes(message.fromAddress) || message.fromAddress === state.selfAddress) {
    state.strangerMessages++;
    return;
  }
  if (message.term > state.term) state.term = message.term;
  if (now < state.quarantineUntilMs) {
    state.heartbeatsIgnoredAfterStall++;
    return;
  }
  const record = state.heard.get(message.fromAddress);
  if (record === undefined || record.id !== message.from) {
    state.heard.set(message.fromAddress, { id: message.from, lastHeardMs: now, healthy: true });
    effects.push({ kind: 'member', type: 'joined', address: message.fromAddress, id: message.from });
    return;
  }
  record.lastHeardMs = now;
  if (!record.healthy) {
    record.healthy = true;
    effects.push({ kind: 'member', type: 'alive', address: message.fromAddress, id: record.id });
  }
}

function expire(state: StaticState, now: Millis, effects: StaticEffect[]): void {
  for (const [address, record] of state.heard) {
    if (record.healthy && now - record.lastHeardMs >= state.config.failureThresholdMs) {
      record.healthy = false;
      effects.push({ kind: 'member', type: 'dead', address, id: record.id });
    }
  }
}
