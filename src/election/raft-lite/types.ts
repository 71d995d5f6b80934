/**
 * raft-lite's state, inputs and effects: Raft's leader election (§5.1 terms, §5.2 election)
 * with PreVote (thesis §9.6) and check-quorum (etcd), and no replicated log. See step.ts.
 */
import type { Address } from '../../base/address.js';
import type { Millis } from '../../base/time.js';
import type { ElectionMessage } from '../../codec/messages.js';
import type { NodeId } from '../../identity/node-id.js';
import type { RaftLiteConfig } from './config.js';

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export const COUNTER_NAMES = [
  'electionsStarted', 'preVotesStarted', 'votesGranted', 'votesRefused', 'becameLeader', 'steppedDown',
  'checkQuorumStepDowns', 'staleMessages', 'strangerMessages', 'peersRejected', 'electionsDeferredSmallCluster',
] as const;
export type Counters = Record<(typeof COUNTER_NAMES)[number], number>;

export interface State {
  config: RaftLiteConfig;
  selfId: NodeId;
  selfAddress: Address;
  /** The known cluster, self included: every quorum is a majority of this set. */
  peers: Set<Address>;
  /** Raft §5.1: persisted before any message that depends on it is sent. */
  term: number;
  votedFor: NodeId | undefined;
  role: Role;
  leader: { id: NodeId; address: Address } | undefined;
  /** Addresses that granted the current pre-vote or vote round (self included). */
  votes: Set<Address>;
  electionDeadlineMs: Millis;
  /** Leader only: next heartbeat, and the next check-quorum evaluation. */
  heartbeatDeadlineMs: Millis | undefined;
  checkQuorumDeadlineMs: Millis | undefined;
  /** Leader only: peers that acknowledged since the last check-quorum evaluation. */
  recentAcks: Set<Address>;
  /** When this node last heard a current leader (for the lease). */
  leaderContactMs: Millis | undefined;
  /** Last time each peer was heard from; unheard for `peerLeftMs` means left. */
  lastHeardMs: Map<Address, Millis>;
  reachable: Set<Address>;
  counters: Counters;
}

export type Input =
  | { kind: 'tick'; now: Millis }
  | { kind: 'receive'; now: Millis; from: Address; message: ElectionMessage }
  /** `join(peer)`: add `address` to the known cluster and ask it to add us. */
  | { kind: 'join'; now: Millis; address: Address }
  /** `broadcast(message)`: send an application payload to every peer. */
  | { kind: 'broadcast'; now: Millis; payload: string };

/** Effects in the order the driver performs them: a `persist` precedes the sends after it. */
export type Effect =
  | { kind: 'persist'; term: number; votedFor: NodeId | undefined }
  | { kind: 'send'; to: Address; message: ElectionMessage }
  | { kind: 'leader'; leader: NodeId | undefined; term: number; self: boolean }
  | { kind: 'term'; oldTerm: number; newTerm: number }
  | { kind: 'peer-joined'; address: Address }
  | { kind: 'peer-left'; address: Address }
  | { kind: 'delivered'; from: NodeId; fromAddress: Address; payload: string }
  | { kind: 'rejected'; input: Input['kind']; detail: string };
