/**
 * Shoal's wire messages, as TypeScript values. `codec.ts` turns them into bytes inside the
 * envelope (see docs/design/wire.md); protocol cores produce and consume these values only.
 *
 * SWIM (Das et al. 2002) with Lifeguard (Dadgar et al. 2018), after memberlist's message set:
 * probes carry piggybacked membership updates; a push-pull exchanges whole views over a stream.
 */
import type { Address } from '../base/address.js';
import type { NodeId } from '../identity/node-id.js';

/** Member metadata: small string labels (a size limit applies, see membership config). */
export type Labels = Readonly<Record<string, string>>;

/** Member state as gossiped. `joining` is local-only and never on the wire. */
export type WireMemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** A membership update, piggybacked on probes and gossip (SWIM §4.1 dissemination). */
export type Update =
  | { kind: 'alive'; id: NodeId; incarnation: number; name: string; address: Address; labels: Labels }
  | { kind: 'suspect'; id: NodeId; incarnation: number; from: NodeId }
  | { kind: 'dead'; id: NodeId; incarnation: number; from: NodeId }
  | { kind: 'left'; id: NodeId; incarnation: number };

/** One member's full record, as exchanged in a push-pull (anti-entropy). */
export interface MemberRecord {
  id: NodeId;
  name: string;
  address: Address;
  state: WireMemberState;
  incarnation: number;
  labels: Labels;
}

/** Why a join or push-pull was refused, readable by an operator. */
export type RejectReason = 'wrong_cluster' | 'bad_version' | 'config_mismatch' | 'too_many_members' | 'shutting_down';

export type Message =
  /** SWIM §3.1 direct probe. `target` lets a node reused at another address refuse a stale probe. */
  | { type: 'ping'; seq: number; from: NodeId; fromAddress: Address; target: NodeId; updates: Update[] }
  /** Reply to `ping` (also relayed by an indirect prober, with the requester's seq). */
  | { type: 'ack'; seq: number; from: NodeId; updates: Update[] }
  /** Lifeguard §IV-A: an intermediary that got no ack says so, so the requester can tell its own slowness apart. */
  | { type: 'nack'; seq: number; from: NodeId }
  /** SWIM §3.1 indirect probe request: ping `target` at `targetAddress` for me and relay the ack. */
  | { type: 'ping-req'; seq: number; from: NodeId; fromAddress: Address; target: NodeId; targetAddress: Address; nack: boolean; updates: Update[] }
  /** Gossip tick: updates only. */
  | { type: 'gossip'; from: NodeId; updates: Update[] }
  /** Push-pull anti-entropy over a stream; `join` is set on the first exchange; `reply` asks for the peer's view back. */
  | { type: 'push-pull'; from: NodeId; fromAddress: Address; join: boolean; reply: boolean; configFingerprint: string; members: MemberRecord[] }
  /**
   * Digest-first periodic anti-entropy (membership.md "Push-pull digest"): the sender's view digest
   * and a digest of its config fingerprint, each 16 lowercase hex characters (8 bytes on the wire),
   * instead of its members. Equal digests are answered with a digest (`reply` false: "in sync");
   * different ones with a full `push-pull` that asks for the sender's view back.
   */
  | { type: 'push-pull-digest'; from: NodeId; fromAddress: Address; reply: boolean; configDigest: string; viewDigest: string }
  /** A refused join or push-pull, with a reason an operator can read. */
  | { type: 'reject'; from: NodeId; reason: RejectReason; detail: string };

export type MessageType = Message['type'];

/**
 * Leader-election messages (docs/design/election.md). `static` mode sends `heartbeat`;
 * `raft-lite` sends the rest (Raft §5.2 RequestVote without log fields, §9.6 PreVote, and
 * AppendEntries reduced to a heartbeat that also spreads the known cluster).
 */
export type ElectionMessage =
  /** static mode: "I am alive, this is my id and my leadership token". */
  | { type: 'heartbeat'; from: NodeId; fromAddress: Address; term: number }
  /** raft-lite RequestVote (Raft §5.2); `preVote` asks without bumping terms (Raft thesis §9.6). */
  | { type: 'vote-request'; from: NodeId; fromAddress: Address; term: number; preVote: boolean }
  | { type: 'vote-response'; from: NodeId; fromAddress: Address; term: number; preVote: boolean; granted: boolean }
  /** raft-lite leader heartbeat: asserts leadership for `term` and shares the cluster's addresses. */
  | { type: 'leader-heartbeat'; from: NodeId; fromAddress: Address; term: number; peers: Address[] }
  /** Follower's answer; the leader's check-quorum counts these. */
  | { type: 'heartbeat-ack'; from: NodeId; fromAddress: Address; term: number }
  /** raft-lite dynamic join: "add me to your known cluster". */
  | { type: 'join-cluster'; from: NodeId; fromAddress: Address }
  /** raft-lite `broadcast(message)`: an application payload to every peer. */
  | { type: 'peer-broadcast'; from: NodeId; fromAddress: Address; term: number; payload: string };

/** Every message on the wire: membership (`Message`) and election (`ElectionMessage`). */
export type WireMessage = Message | ElectionMessage;

const ELECTION_TYPES: ReadonlySet<string> = new Set<ElectionMessage['type']>([
  'heartbeat', 'vote-request', 'vote-response', 'leader-heartbeat', 'heartbeat-ack', 'join-cluster', 'peer-broadcast',
]);

export function isElectionMessageType(type: WireMessage['type']): type is ElectionMessage['type'] {
  return ELECTION_TYPES.has(type);
}

export function isElectionMessage(message: WireMessage): message is ElectionMessage {
  return isElectionMessageType(message.type);
}
