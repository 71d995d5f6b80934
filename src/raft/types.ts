/**
 * The Raft core's state, inputs, effects and type bundle (docs/design/raft.md). The durable
 * vocabulary (Entry, HardState, SnapshotMeta, RaftRecord, RaftPersisted) is log-types.ts,
 * shared with the write-ahead log; the messages are messages.ts; the rules are step.ts and
 * the files it dispatches to.
 *
 * Peers are keyed by NodeId (progress, acks); configuration slots are named by address with the
 * NodeId pinned there (configuration.ts), and `idAt` says who speaks for each slot.
 */
import type { Address } from '../base/address.js';
import type { PersistedInput, SendEffect, TickInput } from '../base/protocol.js';
import type { Millis } from '../base/time.js';
import type { LogIndex, Term } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import type { RaftConfig } from './config.js';
import type { Configuration } from './configuration.js';
import type { RaftLog } from './log.js';
import type { Entry, HardState, RaftPersisted, RaftRecord, SnapshotMeta } from './log-types.js';
import type { RaftMessage } from './messages.js';
import type { Progress } from './progress.js';

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export const COUNTER_NAMES = [
  'preVotesStarted',
  'electionsStarted',
  'votesGranted',
  'votesRefused',
  'becameLeader',
  'steppedDown',
  'checkQuorumStepDowns',
  'staleMessages',
  'identitiesRefused',
  'appendsSent',
  'appendsRejected',
  'entriesAppended',
  'entriesTruncated',
  'heartbeatsSent',
  'snapshotChunksSent',
  'snapshotsInstalled',
  'snapshotsTaken',
  'snapshotsRefused',
  'proposalsAccepted',
  'proposalsRefused',
  'proposalsDropped',
  'readsServed',
  'readsFailed',
  'configChanges',
  'configChangesRefused',
  'transfersStarted',
  'transfersAborted',
  'leaderRefusals',
] as const;
export type Counters = Record<(typeof COUNTER_NAMES)[number], number>;

/** Where to find the leader: for a caller to forward a request there. */
export interface LeaderHint {
  readonly id: NodeId;
  readonly address: Address;
}

/** Why a request failed (a proposal, a read, a configuration change, a transfer). */
export type RequestFailure =
  /** This node is not the leader; `leader` says who is, when known. */
  | 'not-leader'
  /** No leader is known (an election is running, or this node is cut off). */
  | 'no-leader'
  /** Accepted, then lost: the entry was overwritten by another leader's, or the leader changed. */
  | 'dropped'
  /** A leadership transfer is running; proposals wait for the new leader. */
  | 'transferring'
  /** Larger than appendBytesMax. */
  | 'too-large'
  /** Too many uncommitted entries or pending requests (uncommittedEntriesMax, pendingRequestsMax). */
  | 'queue-full'
  /** A forwarded read unanswered within readTimeoutMsFor(config). */
  | 'timeout'
  /** A configuration change is already in progress (one at a time). */
  | 'change-pending'
  /** The request makes no sense for this configuration (the `detail` says why). */
  | 'invalid'
  /**
   * Accepted, then its entry was replaced by a leader's snapshot before it applied here: it may
   * or may not have been committed. Retrying is safe with sessions (thesis §6.3).
   */
  | 'unknown';

export type RequestOutcome =
  | { readonly ok: true; readonly index: LogIndex; readonly term: Term }
  | {
      readonly ok: false;
      readonly reason: RequestFailure;
      readonly detail: string;
      readonly leader: LeaderHint | undefined;
    };

/**
 * One membership change (thesis §4.2-4.3). `add` with `as: 'voter'` adds a `staging` learner that
 * the leader promotes once it has caught up; the NodeId is pinned when given, or as soon as the
 * leader hears the new member. A change of voters goes through joint consensus.
 */
export type ConfigChange =
  | {
      readonly op: 'add';
      readonly address: Address;
      readonly id?: NodeId;
      readonly as: 'voter' | 'learner';
    }
  | { readonly op: 'promote'; readonly id: NodeId }
  | { readonly op: 'remove'; readonly id: NodeId };

/** The configuration in force and where it came from. */
export interface MembershipState {
  config: Configuration;
  /** The log index of the entry that holds it; 0 for the bootstrap configuration. */
  index: LogIndex;
  /** The configuration in force at the snapshot's index (what a new snapshot's meta holds). */
  snapshotConfig: Configuration;
  /** Configuration entries in the log after the snapshot, oldest first (for truncation). */
  history: { index: LogIndex; config: Configuration }[];
}

/** A linearizable read a leader confirms (thesis §6.4). */
export interface PendingRead {
  readonly requestId: number;
  /** Undefined for a read of this node; the follower that asked otherwise. */
  readonly from: { id: NodeId; address: Address } | undefined;
  /** The commit index once the term has a commit: what the read must see. */
  index: LogIndex;
  /** The heartbeat round a majority must answer; 0 once confirmed; -1 before the term's first commit. */
  seq: number;
}

export interface LeaderState {
  progress: Map<NodeId, Progress>;
  /** Whether an entry of this leader's term is committed (§5.4.2; ReadIndex waits for it). */
  committedInTerm: boolean;
  /** The last heartbeat round sent, and when each recent round was sent (the lease starts there). */
  readSeq: number;
  roundSentMs: Map<number, Millis>;
  /** Reads waiting for their round, then (local ones) for the apply. */
  reads: PendingRead[];
  /** Lease reads (readMode lease): the lease holds until this time. */
  leaseUntilMs: Millis;
  /**
   * Set once a TimeoutNow left: voters grant a transfer's votes despite their lease, so no lease
   * read is served again in this term.
   */
  leaseDisabled: boolean;
  transfer: { to: NodeId; deadlineMs: Millis } | undefined;
}

/** A snapshot being received in chunks (Raft §7). */
export interface IncomingSnapshot {
  readonly leader: NodeId;
  readonly term: Term;
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  /** totalBytes long; the first `received` bytes are in. */
  readonly data: Uint8Array;
  received: number;
}

/** A request accepted into the log and waiting for its entry to apply (or be dropped). */
export interface TrackedRequest {
  readonly requestId: number;
  readonly kind: 'propose' | 'change-config';
  readonly term: Term;
}

export interface RaftState {
  readonly config: RaftConfig;
  readonly selfId: NodeId;
  readonly selfAddress: Address;
  /** Raft Fig. 2 persistent state (§5.1, §5.2) and the commit index (never decreases in a life). */
  term: Term;
  vote: NodeId | undefined;
  commitIndex: LogIndex;
  /**
   * The hard state last handed to the driver: a step writes one when its term or vote differs,
   * or when its commit differs and the step writes anything else (step.ts `writeHardState`).
   */
  issuedHardState: HardState;
  /** The term of the newest hard state known durable: a message carrying a newer term waits. */
  durableTerm: Term;
  log: RaftLog;
  membership: MembershipState;
  role: Role;
  leader: LeaderHint | undefined;
  electionDeadlineMs: Millis;
  heartbeatDeadlineMs: Millis | undefined;
  checkQuorumDeadlineMs: Millis | undefined;
  /** When this node last heard a current leader (followers refuse votes within a timeout of it). */
  leaderContactMs: Millis | undefined;
  /** Slots that granted this (pre-)vote round, by address. */
  votes: Set<Address>;
  /** Who speaks for each member address: the pinned NodeId, or the last heard at an unpinned one. */
  idAt: Map<Address, NodeId>;
  leaderState: LeaderState | undefined;
  /**
   * Follower: the highest index known to match the current leader's log, to ack once durable;
   * `floor`: the smallest index worth acking (the end of the oldest append not yet acked, so a
   * new leader's first append is not answered with the prefix it already assumed); `fresh`: an
   * append arrived this step and is answered even if it tells nothing new.
   */
  ackPending:
    { to: Address; term: Term; index: LogIndex; floor: LogIndex; fresh: boolean } | undefined;
  /** Follower: the last index acked to the current leader in this term. */
  ackedIndex: LogIndex;
  /** The last index handed to the state machine (`apply`). */
  appliedIndex: LogIndex;
  /** The newest durable snapshot (sent to followers too far behind), undefined before the first. */
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | undefined;
  /** The state machine was asked for a snapshot at this index and has not answered. */
  snapshotRequested: LogIndex | undefined;
  /** Snapshot records issued and not durable yet, oldest first (`install`: a leader's snapshot). */
  snapshotWrites: {
    meta: SnapshotMeta;
    data: Uint8Array;
    install: boolean;
    /** An install: the leader to ack once durable, in this term. */
    ackTo: Address | undefined;
    term: Term;
  }[];
  incoming: IncomingSnapshot | undefined;
  /** The state machine must be restored from `snapshot` before anything is applied (a boot). */
  restorePending: boolean;
  /** Requests accepted into the log, by entry index. */
  tracked: Map<LogIndex, TrackedRequest>;
  /** Follower: reads forwarded to the leader, by request id. */
  forwardedReads: Map<number, { deadlineMs: Millis; index: LogIndex | undefined }>;
  /** The `now` of the last step (deadlines are never before it). */
  nowMs: Millis;
  counters: Counters;
}

/** What `init` needs besides the durable part. */
export interface RaftInit {
  config: RaftConfig;
  selfId: NodeId;
  selfAddress: Address;
  /** The bootstrap voters' addresses (self included, the same list on every node); [] to join. */
  peers: readonly Address[];
}

/** A command for the state machine, with the request id its outcome is reported under. */
export interface Proposal {
  readonly data: Uint8Array;
  readonly requestId?: number | undefined;
}

export type RaftInput =
  | TickInput
  | PersistedInput<RaftRecord>
  | { kind: 'receive'; now: Millis; from: Address; message: RaftMessage }
  /** A command for the state machine (thesis §6.3: the data carries the client id and sequence). */
  | { kind: 'propose'; now: Millis; data: Uint8Array; requestId?: number }
  /**
   * One turn's proposals as one input: one append to the log, one `entries` record and one
   * append per follower for all of them; each is refused or accepted as `propose` would.
   */
  | { kind: 'propose-batch'; now: Millis; proposals: readonly Proposal[] }
  /** A linearizable read (thesis §6.4), or a local one with `serializable`. */
  | { kind: 'read-index'; now: Millis; requestId: number; serializable?: boolean }
  | { kind: 'transfer-leader'; now: Millis; to: NodeId }
  | { kind: 'change-config'; now: Millis; change: ConfigChange; requestId?: number }
  /** The state machine finished the snapshot `take-snapshot` asked for: its state at `index`. */
  | { kind: 'snapshot-taken'; now: Millis; index: LogIndex; data: Uint8Array }
  /**
   * A stream connection to `address` was refused (TCP RST: nothing listens on that port). From
   * the driver's `refused` (src/base/protocol.ts); election.ts `onPeerRefused`.
   */
  | { kind: 'peer-refused'; now: Millis; address: Address };

export type RaftEffect =
  | SendEffect<RaftMessage>
  /** Committed and locally durable entries, in order, each once per node life. */
  | { kind: 'apply'; entries: readonly Entry[] }
  /** Replace the state machine with this snapshot (at boot, or a leader's snapshot installed). */
  | { kind: 'restore-snapshot'; meta: SnapshotMeta; data: Uint8Array }
  /** Snapshot the state machine at `index` (its state right after applying it), then answer `snapshot-taken`. */
  | { kind: 'take-snapshot'; index: LogIndex }
  /** A proposal's outcome: applied at index (ok), or why not. */
  | { kind: 'propose-result'; requestId: number; outcome: RequestOutcome }
  | { kind: 'config-result'; requestId: number; outcome: RequestOutcome }
  /** A linearizable read may be served: the state machine has applied `index`. */
  | { kind: 'read-ready'; requestId: number; index: LogIndex }
  | {
      kind: 'read-failed';
      requestId: number;
      reason: RequestFailure;
      leader: LeaderHint | undefined;
    }
  /** A leadership transfer was refused or abandoned (its success shows as a `leader` change). */
  | { kind: 'transfer-failed'; to: NodeId; reason: RequestFailure; detail: string }
  /** The role or the known leader changed; reported once the term is durable. */
  | { kind: 'leader'; leader: LeaderHint | undefined; term: Term; role: Role }
  /** Input refused for a reason an operator should read (an identity that is not the pinned one). */
  | { kind: 'rejected'; detail: string };

/** What the transition check compares between two states of one node. */
export interface RaftSnapshot {
  term: Term;
  vote: NodeId | undefined;
  commitIndex: LogIndex;
  appliedIndex: LogIndex;
  role: Role;
}

export interface RaftTypes {
  config: RaftInit;
  persisted: RaftPersisted;
  state: RaftState;
  input: RaftInput;
  effect: RaftEffect;
  record: RaftRecord;
  snapshot: RaftSnapshot;
  message: RaftMessage;
}
