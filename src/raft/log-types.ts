/**
 * The durable vocabulary shared by the Raft core (src/raft/step.ts) and its write-ahead log
 * (src/raft/wal/): what a Raft node must never lose (Raft §5.1-§5.4, Fig. 2 "Persistent state on
 * all servers"; snapshots §7; etcd-io/raft's HardState, Entry and SnapshotMetadata).
 *
 * The core emits `RaftRecord`s in a step's `persist`; the WAL makes them durable in order, one
 * fdatasync per batch, and reads them back at boot as a `RaftPersisted`. Nothing here does I/O.
 *
 * Rules the core guarantees and the WAL relies on:
 * - `entries` records are contiguous: the first entry's index is at most one past the last
 *   durable entry, and an entry at an index already in the log replaces it and every entry
 *   after it (a follower truncating a conflicting suffix, Raft §5.3).
 * - A `snapshot` record is written only after the snapshot's state-machine bytes are complete;
 *   once durable, entries at or below its index may be dropped from the log.
 * - `hard-state` replaces the previous one; `term` never decreases and `vote` changes only with
 *   a new term (Raft §5.2: one vote per term, durable before the grant leaves).
 */
import type { LogIndex, Term } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';

/** What an entry carries: a client command, a configuration, or nothing (a new leader's no-op, §5.4.2). */
export type EntryKind = 'normal' | 'config' | 'noop';

/** One log entry (Raft Fig. 2). `data` is opaque to the log: a command, or an encoded configuration. */
export interface Entry {
  readonly index: LogIndex;
  readonly term: Term;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/** Raft Fig. 2 persistent state, plus the commit index (etcd's HardState) so a restart re-applies less. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId | undefined;
  readonly commit: LogIndex;
}

/** What a snapshot stands for: every entry up to `index` applied, and the configuration then. */
export interface SnapshotMeta {
  readonly index: LogIndex;
  readonly term: Term;
  /** The configuration in force at `index`, encoded by the core (opaque to the log). */
  readonly config: Uint8Array;
}

/** One durable write the core asks for, in the order given. */
export type RaftRecord =
  | { readonly kind: 'hard-state'; readonly hardState: HardState }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | {
      readonly kind: 'snapshot';
      readonly meta: SnapshotMeta;
      readonly data: Uint8Array;
      /**
       * A leader's snapshot a follower installs (Raft §7, "discard the entire log"): the log after
       * this record is the snapshot alone, so every entry written before it is gone, those after
       * its index included. Absent (or false) for a compaction of this node's own log, which keeps
       * the entries after the index. Added by the Raft core (issue 13).
       */
      readonly install?: boolean;
    };

/** What the log reads back at boot: the newest snapshot, then the entries after it. */
export interface RaftPersisted {
  readonly hardState: HardState;
  readonly snapshot: { readonly meta: SnapshotMeta; readonly data: Uint8Array } | undefined;
  /** Contiguous, starting right after the snapshot's index (or at 1 without one). */
  readonly entries: readonly Entry[];
}
