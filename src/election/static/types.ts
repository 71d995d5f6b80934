/**
 * `static` mode's state, inputs, effects and durable record (docs/design/election.md,
 * "static"). Peers are configured by address; each one is tracked by the NodeId it heartbeats
 * with (STYLE.md section 3: an address can change or be claimed), at most one NodeId per address.
 */
import type { Address } from '../../base/address.js';
import type { PersistedInput, SendEffect, TickInput } from '../../base/protocol.js';
import type { Millis } from '../../base/time.js';
import type { Term } from '../../base/units.js';
import type { ElectionMessage } from '../messages.js';
import type { NodeId } from '../../identity/node-id.js';
import type { StaticConfig } from './config.js';

export interface PeerRecord {
  /** The configured peer address it heartbeats from. */
  address: Address;
  /** The latest of our own heartbeats it echoed (our clock): when it last heard us, at the latest. */
  lastHeardMs: Millis;
  healthy: boolean;
  /** Whether `joined` was reported (on the first heartbeat that proved it fresh). */
  announced: boolean;
}

export interface StaticState {
  config: StaticConfig;
  selfId: NodeId;
  selfAddress: Address;
  /** Every configured member's address, self included. */
  peers: readonly Address[];
  /** Peers heard from, by NodeId. */
  heard: Map<NodeId, PeerRecord>;
  /** The fencing term: persisted before it is sent or reported, so it never decreases on a node. */
  term: Term;
  leader: NodeId | undefined;
  nextHeartbeatMs: Millis;
  /** By peer address: the `sentAtMs` of the last heartbeat heard from it, echoed in our next heartbeat to it. */
  echoTo: Map<Address, number>;
  strangerMessages: number;
  /** Heartbeats that echoed none of our recent heartbeats (late, queued, or from a peer that never heard us). */
  staleHeartbeats: number;
}

/** What `init` needs besides the persisted term. */
export interface StaticInit {
  config: StaticConfig;
  selfId: NodeId;
  selfAddress: Address;
  peers: readonly Address[];
}

/** The one durable fact: the fencing term. */
export interface StaticRecord {
  term: Term;
}

export type StaticInput =
  | TickInput
  | PersistedInput<StaticRecord>
  | { kind: 'receive'; now: Millis; message: ElectionMessage };

export type StaticEffect =
  | SendEffect<ElectionMessage>
  | { kind: 'leader'; leader: NodeId | undefined; term: Term }
  | { kind: 'member'; type: 'joined' | 'alive' | 'dead'; address: Address; id: NodeId };

export interface StaticTypes {
  config: StaticInit;
  persisted: Term;
  state: StaticState;
  input: StaticInput;
  effect: StaticEffect;
  record: StaticRecord;
  snapshot: { term: Term };
  message: ElectionMessage;
}
