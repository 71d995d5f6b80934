/**
 * Types of the membership core (SWIM + Lifeguard): the State it keeps, the Inputs it accepts and
 * the Effects it returns from `step`. Wire messages and updates are the codec's (`Message`,
 * `Update`, `MemberRecord`); this file adds what is local.
 *
 * Mutation policy: `step` mutates the State it is given in place and returns the same object.
 * Copying a 10,000-member table per step would be O(N); callers must not keep references into the
 * state across steps (use `memberView` for snapshots). Counters live in `state.counters` (not as
 * metric effects): the driver reads them when exporting metrics.
 */
import type { Address } from '../base/address.js';
import type { PersistedInput, Ready, SendEffect, TickInput } from '../base/protocol.js';
import type { Rng } from '../base/rng.js';
import type { Millis } from '../base/time.js';
import type { ReportLog } from '../base/report-limit.js';
import type { Epoch, Incarnation } from '../base/units.js';
import type { Certificate, Labels, Message, Update } from './messages.js';
import type { NodeId } from '../identity/node-id.js';
import type { MemberCrypto, PublicKey } from '../identity/signed.js';
import type { Channel } from '../base/channel.js';
import type { MembershipConfig } from './config.js';
import type { ViewDigest } from './digest.js';
import type { MemberTable } from './member-table.js';
import type { Tombstone } from './tombstones.js';

/** `joining` is only ever our own state before the first successful push-pull; never on the wire. */
export type MemberState = 'joining' | 'alive' | 'suspect' | 'dead' | 'left';

/** A member as the public API shows it. */
export interface MemberView {
  id: NodeId;
  name: string;
  address: Address;
  state: MemberState;
  incarnation: Incarnation;
  labels: Labels;
  stateChangedAtMs: Millis;
}

/**
 * A tracked member: an accessor over one slot of the member table (member-table.ts). `suspicion`
 * is present exactly when `state` is `suspect` (invariant); `labels` is frozen and may be shared
 * between records and updates (`ownLabels`).
 */
export type { Member } from './member-table.js';

/**
 * Why a record, an accusation or a request was refused as untrustworthy (docs/security.md):
 * each has a counter (`SECURITY_COUNTERS` in security.ts) and a rate-limited `security` effect.
 */
export type SecurityReason =
  /** A record's or an accusation's signature does not verify. */
  | 'signature_invalid'
  /** A record's public key does not hash to its id. */
  | 'key_mismatch'
  /** An accusation from a member that is not live here, about an incarnation its subject never signed, or by the subject itself. */
  | 'accusation_refused'
  /** A ping-req from a non-member, or about one. */
  | 'ping_req_refused'
  /** A push-pull without a valid record of its sender, or a digest from a non-member. */
  | 'push_pull_refused'
  /** A member the admission policy refuses (not allowed, revoked, no valid certificate). */
  | 'admission_refused'
  /** An incarnation above INCARNATION_MAX, or our own incarnation exhausted. */
  | 'incarnation_refused'
  /** A record about this node, signed with its key, that this node did not sign: another process has its identity. */
  | 'identity_conflict'
  /** A record whose reserved labels (leader claims) are invalid. */
  | 'labels_refused';

/** Who is asking to be a member: what admission decides on (docs/security.md, "Admission"). */
export interface AdmissionCandidate {
  id: NodeId;
  publicKey: PublicKey;
  certificate: Certificate | undefined;
}

/**
 * The security capabilities and policy the core is given (docs/security.md): the crypto to sign
 * as this node and verify others, this node's own key and certificate (carried in its records),
 * and the optional admission and reserved-label checks.
 */
export interface MembershipSecurity {
  /** Signed into every record and accusation: a record of another cluster never verifies here. */
  clusterId: string;
  crypto: MemberCrypto;
  publicKey: PublicKey;
  certificate: Certificate | undefined;
  /** The reason a verified member is refused, or undefined to admit it; absent admits everyone. */
  admit?: ((candidate: AdmissionCandidate) => string | undefined) | undefined;
  /** The reason a record's labels are refused (swim: leader claims out of range); absent accepts all. */
  labelsValid?: ((labels: Labels) => string | undefined) | undefined;
  /**
   * Check signatures. Only the simulator's `-unsafe` scenarios turn it off, to show that the
   * forgery checkers catch what it lets through. @defaultValue true
   */
  verifySignatures: boolean;
}

/** Lifeguard §IV-B: a running suspicion and who has confirmed it. */
export interface Suspicion {
  startedAtMs: Millis;
  deadlineMs: Millis;
  minMs: number;
  maxMs: number;
  /** Confirmations expected before the timeout reaches `minMs` (k). */
  expected: number;
  /** Members that accused; the first accuser does not count as a confirmation. */
  accusers: Set<NodeId>;
}

/** Our own probe of one member in this protocol period (SWIM §3.1). */
export interface ProbeInFlight {
  seq: number;
  target: NodeId;
  targetAddress: Address;
  /** Direct ack deadline: past it, indirect probes and the stream fallback go out. */
  ackTimeoutAtMs: Millis;
  /** End of the probe (scaled protocol period): no ack by then means suspect. */
  endAtMs: Millis;
  indirectSent: boolean;
  expectedNacks: number;
  nacksReceived: number;
  /** Helpers asked by `ping-req` whose nack has not come yet; a nack from anyone else is ignored. */
  nacksPending: NodeId[];
}

/** An indirect probe we relay for another member (we are the ping-req intermediary). */
export interface RelayedProbe {
  requesterAddress: Address;
  requesterSeq: number;
  target: NodeId;
  wantNack: boolean;
  deadlineMs: Millis;
}

/** One queued update and how often it was sent (SWIM §4.1 piggyback dissemination). */
export interface QueuedUpdate {
  update: Update;
  transmits: number;
  /** Insertion order: larger is newer. */
  order: number;
  /** The update's encoded size, measured at its first selection (an update never changes). */
  bytes: number | undefined;
  /** Sends after which it leaves the queue when below the retransmit limit (a relayed update, `broadcast`). */
  sendsMax: number | undefined;
}

export interface BroadcastQueue {
  byMember: Map<NodeId, QueuedUpdate>;
  nextOrder: number;
}

/** Randomized round-robin probe order (SWIM §4.3) over member-table slots. */
export interface ProbeOrder {
  /** The walk: `slots[0..length)` are member-table slots; capacity grows by half. */
  slots: Int32Array;
  length: number;
  index: number;
  /** Members to probe before the walk continues (suspects we heard of); at most `URGENT_PROBES_MAX`. */
  urgent: NodeId[];
}

export interface JoinAttempt {
  pending: Set<Address>;
  deadlineMs: Millis;
}

export type Phase = 'idle' | 'running' | 'leaving' | 'stopped';

export const COUNTER_NAMES = [
  'probesSent',
  'probesAcked',
  'probesFailed',
  'indirectProbesSent',
  'tcpFallbackAcks',
  'nacksReceived',
  'nacksUnexpected',
  'acksUnexpected',
  'nacksMissed',
  'relayedProbes',
  'relayedProbesDropped',
  'refutes',
  'suspicionsStarted',
  'suspicionConfirmations',
  'membersDeclaredDead',
  'updatesApplied',
  'updatesIgnored',
  'updatesDropped',
  'labelsRejected',
  'membersRejected',
  'pushPullsSent',
  'pushPullsReceived',
  'configMismatchRejected',
  'rejectsReceived',
  'pingsWrongTarget',
  'inputsIgnored',
  'loopDelaysHigh',
  'sendFailures',
  'membersReaped',
  'pushPullDigestsSent',
  'pushPullsInSync',
  'probesRefused',
  'resurrectionsRefused',
  'leasePingsSent',
  'leaseAcks',
  // Security (docs/security.md): one counter per refusal reason (`SECURITY_COUNTERS`).
  'signaturesInvalid',
  'keysMismatched',
  'accusationsRefused',
  'pingReqsRefused',
  'pushPullsRefused',
  'admissionRefused',
  'incarnationsRefused',
  'identityConflicts',
  /** Signatures this node made (its own records and accusations), and checked (cache hits included). */
  'recordsSigned',
  'signaturesChecked',
  /** Inputs at least a probe timeout after the core's own next deadline (a stall or a clock step: late-wakeup.ts). */
  'lateWakeups',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;

export interface State {
  config: MembershipConfig;
  /** Precomputed `configFingerprint(clusterWideOf(config))`. */
  fingerprint: string;
  /** `textDigest(fingerprint)`: what a push-pull-digest carries instead of the ~280-byte fingerprint. */
  fingerprintDigest: string;
  /** XOR of `hashHi/hashLo(id, incarnation)` over live members (digest.ts); kept by state.ts in O(1) per change. */
  viewDigest: ViewDigest;
  selfId: NodeId;
  phase: Phase;
  /** Every member, self included (always at slot 0); dense slots give O(1) random picks. */
  members: MemberTable;
  /** Ids of members in state `suspect` (each has a `suspicion`): scanned for deadlines. */
  suspects: Set<NodeId>;
  /** Ids of members in state `dead` or `left`: scanned for reaping and reconnects. */
  departed: Set<NodeId>;
  /**
   * Forgotten members: id -> the incarnation and departure they were forgotten at, in order of
   * forgetting (oldest first), at most `tombstonesMax` (tombstones.ts). Never a member's id.
   */
  tombstones: Map<NodeId, Tombstone>;
  /** Members whose state is alive or suspect (self included when alive). */
  liveCount: number;
  /** Increases only when the live set changes. */
  epoch: Epoch;
  awareness: number;
  probeOrder: ProbeOrder;
  probe: ProbeInFlight | undefined;
  relays: Map<number, RelayedProbe>;
  /** The last lease round's pings (`lease-round`): seq -> the member pinged, and when. */
  leasePings: Map<number, { id: NodeId; sentAtMs: Millis }>;
  queue: BroadcastQueue;
  nextProbeAtMs: Millis;
  nextGossipAtMs: Millis;
  /** When the last gossip round sent anything (-Infinity before the first): news waits newsGossipDelayMs after it. */
  lastGossipAtMs: number;
  /** The `now` of the last step: a deadline that fell due while nothing waited on it is due now, not in the past. */
  lastStepMs: Millis;
  nextPushPullAtMs: Millis;
  /** The next periodic push-pull is a join's sync: full, not digest-first (push-pull.ts). */
  joinSyncDue: boolean;
  nextReconnectAtMs: Millis;
  nextReapAtMs: Millis;
  /** Configured seeds (ours excluded), retried while any is outside the live view (`retrySeeds`). */
  seeds: Address[];
  nextSeedRetryAtMs: Millis;
  seedRetryDelayMs: number;
  join: JoinAttempt | undefined;
  leaveDeadlineMs: Millis | undefined;
  counters: Counters;
  security: MembershipSecurity;
  /**
   * The incarnation this life started at: a record about us signed with our key at or above it,
   * that we did not sign, comes from another process with our identity (`identity_conflict`).
   */
  lifeStartIncarnation: Incarnation;
  /** The incarnation and state our held self record was signed for (invariants.ts checks it is current). */
  selfSigned: { incarnation: Incarnation; left: boolean };
  /** Rate limit of `security` effects: per reason, when the last one went out and how many were suppressed since. */
  securityLog: Map<SecurityReason, ReportLog>;
}

/** The one durable fact: the highest incarnation this identity has used. */
export interface MembershipRecord {
  incarnation: Incarnation;
}

export type Input =
  | TickInput
  | PersistedInput<MembershipRecord>
  | { kind: 'start'; now: Millis; seeds: Address[] }
  | { kind: 'receive'; now: Millis; from: Address; channel: Channel; message: Message }
  | { kind: 'join'; now: Millis; addresses: Address[] }
  | { kind: 'leave'; now: Millis }
  | { kind: 'update-labels'; now: Millis; labels: Labels }
  | { kind: 'loop-delay'; now: Millis; delayMs: number }
  /** A send to `to` failed (stream connect refused, reset); used for join, push-pull and the TCP fallback. */
  | { kind: 'send-failed'; now: Millis; to: Address; channel: Channel }
  /**
   * `from` answered in a way that refuses our join without a decodable `reject` (it speaks
   * another protocol version: the driver cannot decode its frames); handled like a `reject`.
   */
  | { kind: 'refused'; now: Millis; from: Address; reason: JoinFailureReason; detail: string }
  /**
   * A leader's lease round (swim mode, election/swim): ping every live member once, outside
   * the probe schedule; each direct ack becomes a `lease-ack`.
   */
  | { kind: 'lease-round'; now: Millis };

export type MemberEventType = 'joined' | 'alive' | 'suspect' | 'dead' | 'left' | 'updated';

export type MembershipEvent =
  { type: MemberEventType; member: MemberView } | { type: 'epoch'; epoch: Epoch };

export type JoinFailureReason =
  | 'unreachable'
  | 'config_mismatch'
  | 'wrong_cluster'
  | 'bad_version'
  | 'too_many_members'
  | 'shutting_down'
  | 'not_admitted';

/**
 * Effects. Every send waits for the writes of its step and of every earlier step (`afterPersist`:
 * a refuting alive, or any message that may carry our new incarnation, never leaves before that
 * incarnation is durable); local outputs go at once.
 */
export type Effect =
  | SendEffect<Message>
  | { kind: 'emit'; event: MembershipEvent }
  | { kind: 'join-result'; ok: true; contacted: number }
  | { kind: 'join-result'; ok: false; reason: JoinFailureReason; detail: string }
  | { kind: 'left-done' }
  /**
   * A member answered this node's last lease round directly: it and we reached each other
   * after `sentAtMs` (the ping's send time, on our clock: a late ack proves no more than that).
   */
  | { kind: 'lease-ack'; id: NodeId; sentAtMs: Millis }
  /** A local request was refused (e.g. labels over labelsBytesMax); the driver surfaces it to the caller. */
  | { kind: 'rejected'; input: Input['kind']; detail: string }
  /**
   * Something untrustworthy was refused (and counted): at most one per reason per
   * `securityLogIntervalMs`, with how many of that reason went unreported since the last one.
   */
  | { kind: 'security'; reason: SecurityReason; detail: string; suppressed: number };

export interface StepContext {
  rng: Rng;
}

/** Encoded size of one update in bytes (the codec's exact count, or `estimateUpdateBytes`). */
export type SizeOf = (update: Update) => number;

export type StepResult = Ready<State, Effect, MembershipRecord>;

/** What `init` needs besides the persisted incarnation. */
export interface MembershipInit {
  config: MembershipConfig;
  self: { id: NodeId; name: string; address: Address; labels: Labels };
  security: MembershipSecurity;
}

export interface MembershipTypes {
  config: MembershipInit;
  persisted: number;
  state: State;
  input: Input;
  effect: Effect;
  record: MembershipRecord;
  snapshot: {
    epoch: Epoch;
    incarnations: Map<NodeId, Incarnation>;
    tombstones: ReadonlyMap<NodeId, Tombstone>;
  };
  message: Message;
}
