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
  /** A refused join or push-pull, with a reason an operator can read. */
  | { type: 'reject'; from: NodeId; reason: RejectReason; detail: string };

export type MessageType = Message['type'];
