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
 * heartbeat that carries the cluster's configuration. raft-lite's configuration is the one
 * replicated value: its id (`configTerm`, `configVersion`), compared term first, plays the part
 * of Raft's (last log term, last log index) in the vote rule; version 0 is the unagreed
 * bootstrap set (raft-lite/step.ts).
 */
export type ElectionMessage =
  /**
   * static mode: "I am alive, this is my id and my leadership token". `sentAtMs` is the sender's
   * monotonic clock; `echoMs` the latest `sentAtMs` it received from the recipient, so the
   * recipient can tell from its own clock how fresh the heartbeat is, however late it arrived.
   */
  | {
      type: 'heartbeat';
      from: NodeId;
      fromAddress: Address;
      term: Term;
      sentAtMs: number;
      echoMs: number | undefined;
    }
  /** raft-lite RequestVote (Raft §5.2); `preVote` asks without bumping terms (Raft thesis §9.6). */
  | {
      type: 'vote-request';
      from: NodeId;
      fromAddress: Address;
      term: Term;
      preVote: boolean;
      configTerm: Term;
      configVersion: number;
    }
  | {
      type: 'vote-response';
      from: NodeId;
      fromAddress: Address;
      term: Term;
      preVote: boolean;
      granted: boolean;
    }
  /** raft-lite leader heartbeat: asserts leadership for `term` and carries the configuration. */
  | {
      type: 'leader-heartbeat';
      from: NodeId;
      fromAddress: Address;
      term: Term;
      configTerm: Term;
      configVersion: number;
      peers: Address[];
      /** The configuration's pinned NodeIds, by member address (raft-lite/types.ts `pins`). */
      pins: (readonly [Address, NodeId])[];
    }
  /** Follower's answer, with the configuration it has made durable; check-quorum counts these. */
  | {
      type: 'heartbeat-ack';
      from: NodeId;
      fromAddress: Address;
      term: Term;
      configTerm: Term;
      configVersion: number;
    }
  /**
   * raft-lite join: "add me to the cluster". `configVersion` is the sender's (0 before any
   * leader agreed a configuration), so a bootstrapping node learns that a cluster already exists;
   * `joining` says the sender is not a member of any configuration yet (only a leader adds it).
   */
  | {
      type: 'join-cluster';
      from: NodeId;
      fromAddress: Address;
      configVersion: number;
      joining: boolean;
    }
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
