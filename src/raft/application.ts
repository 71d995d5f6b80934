/**
 * What a state machine plugged into Raft implements (the key-value store, the simulator's
 * checker machine). The node's wiring turns the core's effects into these calls, in order:
 * `restore` before anything is applied when a snapshot stands for the log's beginning, `apply`
 * with committed entries exactly once each per process life (thesis §6.3: a retried client
 * command is recognized by its session in the data, never re-applied by Raft), `snapshot` when
 * the log is long enough to compact (the state right after the last applied entry).
 */
import type { LogIndex } from '../base/units.js';
import type { Entry, SnapshotMeta } from './log-types.js';
import type { RaftEffect } from './types.js';

/** The core's answers to requests: proposals, reads, configuration changes, transfers. */
export type RaftOutcome = Extract<
  RaftEffect,
  { kind: 'propose-result' | 'config-result' | 'read-ready' | 'read-failed' | 'transfer-failed' }
>;

export interface RaftApplication {
  /** Committed, locally durable entries, in index order (no-op and configuration entries too). */
  apply(entries: readonly Entry[]): void;
  /** Replaces the whole state with a snapshot's (at boot, or a leader's snapshot installed). */
  restore(meta: SnapshotMeta, data: Uint8Array): void;
  /**
   * The state as it is right after applying `index` (the last entry applied), as bytes. Called
   * synchronously; writes resume as soon as it returns (docs/design/raft.md, "Snapshots").
   */
  snapshot(index: LogIndex): Uint8Array;
  /** Outcomes of requests, for whoever made them. */
  outcome?(outcome: RaftOutcome): void;
}
