/**
 * raft-lite's state, inputs, effects and durable record: Raft's leader election (§5.1 terms,
 * §5.2 election) with PreVote (thesis §9.6) and check-quorum (etcd), and no replicated log.
 * See step.ts. The cluster is a configuration of addresses (bootstrap lists and joins name
 * addresses) agreed through the leader, one change at a time; votes, acks and liveness are kept
 * by NodeId, and an address counts toward a quorum through at most one NodeId: the last one
 * heard directly from it.
 */
import type { Address } from '../../base/address.js';
import type { PersistedInput, SendEffect, TickInput } from '../../base/protocol.js';
import type { Millis } from '../../base/time.js';
import type { Term } from '../../base/units.js';
import type { ElectionMessage } from '../messages.js';
import type { NodeId } from '../../identity/node-id.js';
import type { RaftLiteConfig } from './config.js';

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export const COUNTER_NAMES = [
  'electionsStarted',
  'preVotesStarted',
  'votesGranted',
  'votesRefused',
  'becameLeader',
  'steppedDown',
  'checkQuorumStepDowns',
  'staleMessages',
  'strangerMessages',
  'peersRejected',
  'electionsDeferredSmallCluster',
  'electionsDeferredJoining',
  'votesRefusedOlderConfig',
  'configChanges',
  'configsAdopted',
  'joinsForwarded',
  'dualLeaderHeartbeats',
  'identitiesRefused',
] as const;
export type Counters = Record<(typeof COUNTER_NAMES)[number], number>;

export interface PeerLiveness {
  address: Address;
  lastHeardMs: Millis;
  reachable: boolean;
}

export interface State {
  config: RaftLiteConfig;
  selfId: NodeId;
  selfAddress: Address;
  /**
   * The configuration's members, self included: every quorum is a majority of this set. At
   * `configVersion` 0 (bootstrap, no leader yet) the set this node has discovered; for a
   * joining node, the addresses it asks to be added.
   */
  peers: Set<Address>;
  /** The configuration's id: the term of the leader that wrote it, then its version (0 = bootstrap). */
  configTerm: Term;
  configVersion: number;
  /**
   * The configuration's NodeId for each member address whose id its writer knew (a leader pins
   * what it has heard; version 0 pins nothing). A quorum counts at a pinned address only that
   * NodeId: a node that lost its data dir comes back with a new identity, and must not cast the
   * old one's votes again (issue 11, amnesia).
   */
  pins: Map<Address, NodeId>;
  /** Not a member yet: asks to be added (join-cluster) and never stands for election. */
  joining: boolean;
  /** The configuration id last made durable (a node counts itself toward a commit only then). */
  durableConfig: { term: Term; version: number };
  /** Leader only: the configuration before the change in flight (undefined when none is). */
  previousPeers: Set<Address> | undefined;
  /** Leader only: whether the current configuration is committed in this leader's term. */
  configCommitted: boolean;
  /** Leader only: who has acked the current configuration id. */
  configAcks: Set<NodeId>;
  /** Leader only: addresses that asked to join, added one at a time. */
  joinQueue: Address[];
  /** Which NodeId speaks for each address of `peers` (the last heard directly from it). */
  idAt: Map<Address, NodeId>;
  /** Raft §5.1: persisted before any message that depends on it is sent. */
  term: Term;
  votedFor: NodeId | undefined;
  role: Role;
  leader: { id: NodeId; address: Address } | undefined;
  /** Who granted the current pre-vote or vote round (self included). */
  votes: Set<NodeId>;
  electionDeadlineMs: Millis;
  /** Leader only: next heartbeat, and the next check-quorum evaluation. */
  heartbeatDeadlineMs: Millis | undefined;
  checkQuorumDeadlineMs: Millis | undefined;
  /** Leader only: who acknowledged since the last check-quorum evaluation. */
  recentAcks: Set<NodeId>;
  /** When this node last heard a current leader (for the lease). */
  leaderContactMs: Millis | undefined;
  /** Peers heard directly, by NodeId; unheard for `peerLeftMs` means left. */
  heard: Map<NodeId, PeerLiveness>;
  counters: Counters;
}

/** What `init` needs besides the durable term and vote. */
export interface RaftLiteInit {
  config: RaftLiteConfig;
  selfId: NodeId;
  selfAddress: Address;
  peers: readonly Address[];
}

/**
 * The durable part (Raft §5.1, §5.2: never forget them across a restart), with the
 * configuration: a member acks a configuration only once it is durable, so a committed one
 * survives any minority of crashes.
 */
export interface RaftLiteRecord {
  term: Term;
  votedFor: NodeId | undefined;
  /** Absent in a file written before configurations existed (read as the bootstrap list). */
  config?:
    | {
        term: Term;
        version: number;
        peers: readonly Address[];
        /** Absent in a file written before pins existed (nothing pinned). */
        pins?: readonly (readonly [Address, NodeId])[] | undefined;
      }
    | undefined;
  joining?: boolean | undefined;
}

export type Input =
  | TickInput
  | PersistedInput<RaftLiteRecord>
  | { kind: 'receive'; now: Millis; from: Address; message: ElectionMessage }
  /** `join(peer)`: add `address` to the known cluster and ask it to add us. */
  | { kind: 'join'; now: Millis; address: Address }
  /** `broadcast(message)`: send an application payload to every peer. */
  | { kind: 'broadcast'; now: Millis; payload: string };

export type Effect =
  | SendEffect<ElectionMessage>
  | { kind: 'leader'; leader: NodeId | undefined; term: Term; self: boolean }
  | { kind: 'term'; oldTerm: Term; newTerm: Term }
  | { kind: 'peer-joined'; address: Address }
  | { kind: 'peer-left'; address: Address }
  | { kind: 'delivered'; from: NodeId; fromAddress: Address; payload: string }
  | { kind: 'rejected'; input: Input['kind']; detail: string };

/** What the transition check compares between two states of one node. */
export interface RaftLiteSnapshot {
  term: Term;
  role: Role;
  votedFor: NodeId | undefined;
  configTerm: Term;
  configVersion: number;
}

export interface RaftLiteTypes {
  config: RaftLiteInit;
  persisted: RaftLiteRecord;
  state: State;
  input: Input;
  effect: Effect;
  record: RaftLiteRecord;
  snapshot: RaftLiteSnapshot;
  message: ElectionMessage;
}
