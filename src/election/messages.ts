/**
 * The election protocols' wire vocabulary (docs/design/election.md): `static` mode sends
 * `heartbeat`; `raft-lite` sends the rest. The payload layouts are codec.ts; the envelope is
 * src/codec.
 *
 * APPEND ONLY: every number below is on the wire. Never renumber, never reuse a retired number.
 */
import type { Address } from '../base/address.js';
import type { Term } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';

/**
 * Raft §5.2 RequestVote without log fields, §9.6 PreVote, and AppendEntries reduced to a
 * heartbeat that also spreads the known cluster.
 */
export type ElectionMessage =
  /** static mode: "I am alive, this is my id and my leadership token". */
  | { type: 'heartbeat'; from: NodeId; fromAddress: Address; term: Term }
  /** raft-lite RequestVote (Raft §5.2); `preVote` asks without bumping terms (Raft thesis §9.6). */
  | { type: 'vote-request'; from: NodeId; fromAddress: Address; term: Term; preVote: boolean }
  | {
      type: 'vote-response';
      from: NodeId;
      fromAddress: Address;
      term: Term;
      preVote: boolean;
      granted: boolean;
    }
  /** raft-lite leader heartbeat: asserts leadership for `term` and shares the cluster's addresses. */
  | { type: 'leader-heartbeat'; from: NodeId; fromAddress: Address; term: Term; peers: Address[] }
  /** Follower's answer; the leader's check-quorum counts these. */
  | { type: 'heartbeat-ack'; from: NodeId; fromAddress: Address; term: Term }
  /** raft-lite dynamic join: "add me to your known cluster". */
  | { type: 'join-cluster'; from: NodeId; fromAddress: Address }
  /** raft-lite `broadcast(message)`: an application payload to every peer. */
  | { type: 'peer-broadcast'; from: NodeId; fromAddress: Address; term: Term; payload: string };

// APPEND ONLY: message type numbers are on the wire, one space shared with membership
// (membership/messages.ts has 1..7 and 16; 15 is the compressed wrapper).
export const ELECTION_TYPE_NUMBERS = {
  heartbeat: 8,
  'vote-request': 9,
  'vote-response': 10,
  'leader-heartbeat': 11,
  'heartbeat-ack': 12,
  'join-cluster': 13,
  'peer-broadcast': 14,
} as const satisfies Record<ElectionMessage['type'], number>;
