/**
 * The replicated state of the key-value state machine (docs/design/kv.md, "State") and the
 * context of one write transaction. Everything here is a pure function of the applied log: two
 * replicas that applied the same entries hold equal states (snapshot.ts proves it byte for byte).
 *
 * Invariants (invariants.ts checks them):
 * - the MVCC invariants (mvcc.ts): histories in (main, sub) order, revision >= every record,
 *   compactRevision <= revision;
 * - a lease's key set is exactly the keys whose current value carries that lease;
 * - sessions hold at most sessionsMax entries and sessionsBytesMax bytes of results.
 */
import type { LogIndex } from '../base/units.js';
import type { KvConfig } from './config.js';
import type { Mvcc } from './mvcc.js';
import type { KvErrorCode, KvEvent, LeaseChange, LeaseId, Revision } from './types.js';

/** One lease in the replicated table. */
export interface LeaseEntry {
  readonly id: LeaseId;
  /** Granted TTL, ms (after raising to leaseTtlMsMin). */
  readonly ttlMs: number;
  /** The last checkpointed remaining TTL, ms (0: none); a new leader starts from it (lessor.ts). */
  remainingTtlMs: number;
  /** Binary-string keys whose current value carries this lease. */
  readonly keys: Set<string>;
}

/** What a client session remembers: its last seq and that command's encoded result. */
export interface SessionEntry {
  readonly seq: number;
  /** The encoded result, or undefined when it was larger than sessionResultBytesMax. */
  readonly result: Uint8Array | undefined;
}

export interface SessionTable {
  /** In least-recently-used order (Map insertion order; a use moves the entry to the end). */
  readonly entries: Map<string, SessionEntry>;
  /** Bytes of results held. */
  bytes: number;
}

/** Counters for metrics; not replicated state (a restored replica starts them at 0). */
export interface KvStats {
  applied: number;
  duplicates: number;
  refused: Partial<Record<KvErrorCode, number>>;
  sessionsEvicted: number;
}

export interface KvState {
  readonly config: KvConfig;
  readonly mvcc: Mvcc;
  readonly leases: Map<LeaseId, LeaseEntry>;
  readonly sessions: SessionTable;
  /** The last log index applied (0 before any). */
  appliedIndex: LogIndex;
  readonly stats: KvStats;
}

/** One write transaction in progress: every change gets revision `main`, sub-revisions 0, 1, ... */
export interface WriteTxn {
  readonly state: KvState;
  readonly main: Revision;
  /** Changes made so far (the next change's sub-revision). */
  sub: number;
  readonly events: KvEvent[];
  readonly leaseChanges: LeaseChange[];
}

export function newStats(): KvStats {
  return { applied: 0, duplicates: 0, refused: {}, sessionsEvicted: 0 };
}
