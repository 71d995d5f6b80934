/**
 * The leader-side worker liveness tracker's state, inputs and effects (docs/design/
 * worker-tier.md, "Liveness"). Every server follows the replicated worker records (`records`
 * inputs from its applied store), so a server that becomes leader already knows every worker;
 * only the leader keeps deadlines, with one sweep timer for all of them (not one per worker).
 * Heartbeats change only this in-memory state, never the store: the only writes are status
 * changes (`mark` effects: down on expiry, registered again on a heartbeat after down), made by
 * the shell as compare-and-swap txns on the worker record's modRevision.
 */
import type { TickInput, PersistedInput } from '../../../base/protocol.js';
import type { Millis } from '../../../base/time.js';
import type { Tree } from '../../../kv/btree.js';
import type { WorkerServerConfig } from '../config.js';
import type { WorkerStatus } from '../records.js';

/** Most status changes one sweep asks for; the rest wait for the next sweep. */
export const SWEEP_MARKS_MAX = 1_000;

export interface TrackedWorker {
  readonly id: string;
  status: WorkerStatus;
  /** The worker record's modRevision in the store: a mark compares on it. */
  modRevision: number;
  /** Leader only (0 otherwise): the last renewal and the TTL it granted. */
  renewedMs: number;
  ttlMs: number;
  /** Leader only: the key of this worker in `deadlines`, when it has one. */
  deadlineMs: number | undefined;
  /** A mark was asked at this time and has not come back through the store yet. */
  markAskedMs: number | undefined;
}

export interface LivenessCounters {
  heartbeats: number;
  /** Heartbeats answered with something other than a TTL, by reason. */
  refused: Record<string, number>;
  /** Status changes asked for: down on expiry, registered again on a heartbeat after down. */
  downMarksAsked: number;
  upMarksAsked: number;
  /** Leader terms started (each gives every worker the failover TTL). */
  leads: number;
  /** Steps that found the clock moved more than stallThresholdMs since the last one. */
  stalls: number;
  /** Records that came in with a revision below the one already known (ignored). */
  staleRecords: number;
}

export interface LivenessState {
  readonly config: WorkerServerConfig;
  readonly noFailoverTtl: boolean;
  leading: boolean;
  term: number;
  /** Every worker whose record is not revoked, by id. */
  readonly workers: Map<string, TrackedWorker>;
  /** Leader only: [deadlineMs, id] of every registered or drained worker (expiry = deadline passed). */
  readonly deadlines: Tree<[number, string], true>;
  /** Registered or drained workers: the N of the TTL formulas. */
  live: number;
  lastStepMs: number;
  /** Leader only: the earliest time the next sweep may run. */
  nextSweepMs: number;
  readonly counters: LivenessCounters;
}

export interface LivenessInit {
  config: WorkerServerConfig;
  /**
   * A deliberate bug for the simulator's `-unsafe` scenario: a new leader renews workers with an
   * ordinary TTL instead of the failover TTL (Nomad's: parsed, never used). Must be caught.
   */
  noFailoverTtl?: boolean;
}

/** A worker record as the store has it now (or its removal). */
export type RecordChange =
  | { readonly id: string; readonly status: WorkerStatus; readonly modRevision: number }
  | { readonly id: string; readonly removed: true; readonly modRevision: number };

export type HeartbeatOutcome =
  | { readonly kind: 'ok'; readonly ttlMs: number }
  | { readonly kind: 'refused'; readonly reason: 'not-leader' | 'unknown-worker' };

export type LivenessInput =
  | TickInput
  | PersistedInput<never>
  | { kind: 'records'; now: Millis; changes: readonly RecordChange[] }
  | { kind: 'lead'; now: Millis; term: number }
  | { kind: 'unlead'; now: Millis }
  | { kind: 'heartbeat'; now: Millis; id: string; requestId: number }
  /** A mark's txn finished: applied (the record change follows) or refused (conflict, no leader). */
  | { kind: 'marked'; now: Millis; id: string; applied: boolean };

export type LivenessEffect =
  | { kind: 'reply'; requestId: number; id: string; outcome: HeartbeatOutcome }
  | {
      kind: 'mark';
      id: string;
      status: 'down' | 'registered';
      reason: string;
      /** Apply only if the record's modRevision is still this. */
      expectRevision: number;
    };

export interface LivenessTypes {
  config: LivenessInit;
  persisted: undefined;
  state: LivenessState;
  input: LivenessInput;
  effect: LivenessEffect;
  record: never;
  snapshot: { term: number; leading: boolean };
  message: never;
}
