/**
 * `swim` leader's state, inputs, effects and durable record (docs/design/election.md, "swim").
 * The core reads the SWIM live set as a `LiveView` the wiring builds in one pass over the
 * member table, and publishes its claim through the membership labels (`publish-claim`).
 */
import type { PersistedInput, TickInput } from '../../base/protocol.js';
import type { Millis } from '../../base/time.js';
import type { Term } from '../../base/units.js';
import type { NodeId } from '../../identity/node-id.js';
import type { SwimLeaderConfig } from './config.js';

export interface LiveMember {
  id: NodeId;
  /** The member's claim label, decoded (claim.ts); undefined when it claims nothing. */
  claimTerm: number | undefined;
  /** The member's `SEEN_LABEL`, decoded. */
  seenTerm?: number | undefined;
  /** Suspected (live, but not counted by a quorum). */
  suspect?: boolean | undefined;
}

/**
 * What the core reads of the live set: its size, the live members that carry a claim or a seen
 * term (everyone else's labels say nothing to the election), and every live id, scored for the
 * HRW winner only when a new claim may be due. The claims are a handful, the live set may be
 * thousands, and the core runs on every view change.
 */
export interface LiveView {
  /** Live members (alive or suspect), self included. */
  size: number;
  /** Members alive and not suspected, self included: what a quorum counts (`isEligible`). */
  aliveCount: number;
  labelled: readonly LiveMember[];
  liveIds: readonly NodeId[];
}

export interface SwimLeaderState {
  config: SwimLeaderConfig;
  selfId: NodeId;
  /** The last live view the core was given, and its key (any string that changes with the set). */
  view: LiveView | undefined;
  liveKey: string;
  viewChangedAtMs: Millis;
  /** The `now` of the last step. */
  lastStepMs: Millis;
  /**
   * The largest live set seen stable: a high-water mark, persisted with the term (a node
   * restarted into a minority must not shrink the quorum back to `minClusterSize`).
   */
  stableSize: number;
  /** The stable size written to disk (or being written). */
  persistedStableSize: number;
  highestTermSeen: Term;
  /** The highest term written to disk (or being written): never claimed or reported above it. */
  persistedTerm: Term;
  /** The term this node claims (its label), or undefined. */
  claim: Term | undefined;
  leader: { id: NodeId; term: Term } | undefined;
  /** The highest term ever reported: a leader below it is ignored, so reported terms only increase. */
  reportedTerm: Term;
  /**
   * `highestTermSeen` when the best live claim is below it (the claimant must learn of the higher
   * term and claim above it), else undefined. Published as `SEEN_LABEL` only then, so a normal
   * election or failover makes no member but the claimant change its labels: no N-wide gossip.
   */
  contestedTerm: Term | undefined;
  /** The claim and contested term last handed to `publish-claim`; undefined before the first. */
  published: { claim: Term | undefined; contested: Term | undefined } | undefined;
  /**
   * The highest term seen is TERM_MAX (claim.ts): no new claim can be made above it. Exposed by
   * the wiring (`swimTermExhausted`); leaving it needs an operator (docs/security.md).
   */
  termExhausted: boolean;
  /**
   * With requireQuorum: the send time (our clock) of the latest lease ping each member answered:
   * when it last reached us and we it, at the earliest, however late the answer came. A
   * claimant holds its claim, and a node may claim, only while a majority (self counted)
   * answered within `leaseMs`.
   */
  leaseAcks: Map<NodeId, Millis>;
  /** Lease rounds run (claiming, or about to claim): when the next one is due; undefined when not. */
  nextLeaseRoundMs: Millis | undefined;
}

export interface SwimLeaderInit {
  config: SwimLeaderConfig;
  selfId: NodeId;
}

/**
 * The durable facts: the highest term seen, so a restart never claims or reports below it, and
 * the largest stable live set seen, so a restart never counts its quorum over a smaller cluster.
 */
export interface SwimLeaderRecord {
  term: Term;
  stableSize: number;
}

export type SwimLeaderInput =
  | TickInput
  | PersistedInput<SwimLeaderRecord>
  /** The SWIM live set (or a live member's labels) may have changed. */
  | { kind: 'view-changed'; now: Millis; viewKey: string; view: LiveView }
  /** A member answered this node's lease ping (membership `lease-ack`). */
  | { kind: 'lease-ack'; now: Millis; id: NodeId; sentAtMs: Millis };

export type SwimLeaderEffect =
  /** Set this node's claim labels (CLAIM_LABEL, SEEN_LABEL) to these; undefined removes one. */
  | { kind: 'publish-claim'; claim: Term | undefined; contested: Term | undefined }
  | { kind: 'leader'; leader: { id: NodeId; term: Term } | undefined; term: Term }
  /** Ping every live member once (membership `lease-round`); the answers come back as `lease-ack`. */
  | { kind: 'lease-round' };

export interface SwimLeaderTypes {
  config: SwimLeaderInit;
  persisted: SwimLeaderRecord;
  state: SwimLeaderState;
  input: SwimLeaderInput;
  effect: SwimLeaderEffect;
  record: SwimLeaderRecord;
  snapshot: { highestTermSeen: Term; reportedTerm: Term };
  message: never;
}
