/**
 * Membership's wire vocabulary (SWIM, Das et al. 2002, with Lifeguard, Dadgar et al. 2018, after
 * memberlist's message set): probes carry piggybacked membership updates; a push-pull exchanges
 * whole views over a stream. The payload layouts are codec.ts; the envelope is src/codec.
 *
 * APPEND ONLY: every number below is on the wire. Never renumber, never reuse a retired number;
 * add new entries with the next free number and document them in docs/design/wire.md.
 */
import type { Address } from '../base/address.js';
import type { Incarnation } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import type { PublicKey, Signature } from '../identity/signed.js';

/** Member metadata: small string labels (a size limit applies, see membership config). */
export type Labels = Readonly<Record<string, string>>;

/** Member state as gossiped. `joining` is local-only and never on the wire. */
export type WireMemberState = 'alive' | 'suspect' | 'dead' | 'left';

/**
 * A node certificate (admission by a cluster CA, docs/security.md): the CA's Ed25519 signature
 * over `certificateBytes(clusterId, publicKey, notBeforeMs, notAfterMs)` (record.ts). The public
 * key is the record's own, so it is not repeated. Times are Unix milliseconds (wall clock).
 */
export interface Certificate {
  notBeforeMs: number;
  notAfterMs: number;
  signature: Signature;
}

/**
 * What a member says about itself, signed by itself (record.ts): its incarnation, name,
 * address, labels and public key, in state `alive` or `left`. The id is the hash of the key, so
 * the key cannot be swapped, and only the key's owner can sign a record for the id
 * (docs/security.md, "Self-certifying records"). The certificate is the CA's, not the member's.
 */
export interface RecordFields {
  id: NodeId;
  incarnation: Incarnation;
  name: string;
  address: Address;
  labels: Labels;
  publicKey: PublicKey;
  certificate: Certificate | undefined;
  /** The member's signature over `recordBytes` of every field above but the certificate. */
  signature: Signature;
}

/** A member's own record (alive or left), gossiped unchanged from its originator. */
export interface RecordUpdate extends RecordFields {
  kind: 'alive' | 'left';
}

/**
 * An accusation (SWIM §4.2 suspect, or a suspicion that ran out: dead): by member `from`, about
 * `id` at an incarnation `id` signed, signed by `from` over `accusationBytes` (record.ts).
 */
export interface AccusationUpdate {
  kind: 'suspect' | 'dead';
  id: NodeId;
  incarnation: Incarnation;
  from: NodeId;
  signature: Signature;
}

/** A membership update, piggybacked on probes and gossip (SWIM §4.1 dissemination). */
export type Update = RecordUpdate | AccusationUpdate;

/** Narrows an update to an accusation (each kind union has two literals, so `kind` checks narrow one way only). */
export function isAccusation(update: Update): update is AccusationUpdate {
  return update.kind === 'suspect' || update.kind === 'dead';
}

/** An accusation as a push-pull record carries it: the subject and incarnation are the record's. */
export interface Accusation {
  from: NodeId;
  signature: Signature;
}

/**
 * One member's full record, as exchanged in a push-pull (anti-entropy): its own signed record
 * (`left` when `state` is left, else `alive`) plus, when the sender holds it suspect or dead,
 * the accusation that made it so.
 */
export interface MemberRecord extends RecordFields {
  state: WireMemberState;
  /** Present exactly when `state` is suspect or dead. */
  accusation: Accusation | undefined;
}

/** Why a join or push-pull was refused, readable by an operator. */
export type RejectReason =
  | 'wrong_cluster'
  | 'bad_version'
  | 'config_mismatch'
  | 'too_many_members'
  | 'shutting_down'
  | 'not_admitted';

export type Message =
  /** SWIM §3.1 direct probe. `target` lets a node reused at another address refuse a stale probe. */
  | {
      type: 'ping';
      seq: number;
      from: NodeId;
      fromAddress: Address;
      target: NodeId;
      updates: Update[];
    }
  /** Reply to `ping` (also relayed by an indirect prober, with the requester's seq). */
  | { type: 'ack'; seq: number; from: NodeId; updates: Update[] }
  /** Lifeguard §IV-A: an intermediary that got no ack says so, so the requester can tell its own slowness apart. */
  | { type: 'nack'; seq: number; from: NodeId }
  /**
   * SWIM §3.1 indirect probe request: ping `target` for me and relay the ack. Addresses are the
   * helper's own records of both (docs/security.md, "Probing"): a ping-req cannot aim a probe
   * or an answer anywhere else.
   */
  | {
      type: 'ping-req';
      seq: number;
      from: NodeId;
      target: NodeId;
      nack: boolean;
      updates: Update[];
    }
  /** Gossip tick: updates only. */
  | { type: 'gossip'; from: NodeId; updates: Update[] }
  /** Push-pull anti-entropy over a stream; `join` is set on the first exchange; `reply` asks for the peer's view back. */
  | {
      type: 'push-pull';
      from: NodeId;
      fromAddress: Address;
      join: boolean;
      reply: boolean;
      configFingerprint: string;
      members: MemberRecord[];
    }
  /**
   * Digest-first periodic anti-entropy (membership.md "Push-pull digest"): the sender's view digest
   * and a digest of its config fingerprint, each 16 lowercase hex characters (8 bytes on the wire),
   * instead of its members. Equal digests are answered with a digest (`reply` false: "in sync");
   * different ones with a full `push-pull` that asks for the sender's view back.
   */
  | {
      type: 'push-pull-digest';
      from: NodeId;
      fromAddress: Address;
      reply: boolean;
      configDigest: string;
      viewDigest: string;
    }
  /** A refused join or push-pull, with a reason an operator can read. */
  | { type: 'reject'; from: NodeId; reason: RejectReason; detail: string };

export type MessageType = Message['type'];

// APPEND ONLY: message type numbers are on the wire, one space shared with the other protocols
// (election/messages.ts has 8..14; 15 is the compressed wrapper, codec/compressed.ts).
export const MEMBERSHIP_TYPE_NUMBERS = {
  ping: 1,
  ack: 2,
  nack: 3,
  'ping-req': 4,
  gossip: 5,
  'push-pull': 6,
  reject: 7,
  'push-pull-digest': 16,
  // Next free number across protocols: 17.
} as const satisfies Record<MessageType, number>;

// APPEND ONLY: update kind numbers are on the wire. 0 is reserved.
export const UPDATE_KIND_NUMBERS = {
  alive: 1,
  suspect: 2,
  dead: 3,
  left: 4,
} as const satisfies Record<Update['kind'], number>;

// APPEND ONLY: member state numbers are on the wire. 0 is reserved.
export const MEMBER_STATE_NUMBERS = {
  alive: 1,
  suspect: 2,
  dead: 3,
  left: 4,
} as const satisfies Record<WireMemberState, number>;

// APPEND ONLY: reject reason numbers are on the wire. 0 is reserved.
export const REJECT_REASON_NUMBERS = {
  wrong_cluster: 1,
  bad_version: 2,
  config_mismatch: 3,
  too_many_members: 4,
  shutting_down: 5,
  not_admitted: 6,
} as const satisfies Record<RejectReason, number>;
