/**
 * The Raft log in memory (Raft §5.3, §7): a snapshot base (every entry up to `snapshotIndex`
 * is compacted into the state machine's snapshot) and the entries after it, durable or not, with
 * the core's own mark of what is durable (`stableIndex`).
 *
 * What the log guarantees (checked by invariants.ts):
 * - entries are contiguous from `snapshotIndex + 1` and their terms never decrease (§5.3);
 * - `stableIndex` is the highest index whose entry, as it is in memory now, is on disk. An ack
 *   (`match`) or an apply never goes beyond it, so a crash cannot take back what was claimed.
 *
 * Durability is tracked per `entries` record, not per write: a record replaces the log from its
 * first index, so when an earlier record finishes after a later one that rewrote part of it was
 * issued, only the prefix the later one leaves alone is stable (etcd's "append ABA race",
 * testdata/async_storage_writes_append_aba_race.txt).
 */
import { assert } from '../base/assert.js';
import { logIndex, type LogIndex, type Term } from '../base/units.js';
import type { Entry } from './log-types.js';

/** One issued `entries` record that is not durable yet. */
export interface PendingWrite {
  readonly first: LogIndex;
  readonly last: LogIndex;
}

export interface RaftLog {
  /** Entries up to here are in the snapshot; 0 without one. */
  snapshotIndex: LogIndex;
  snapshotTerm: Term;
  /** entries[k].index === snapshotIndex + 1 + k. */
  entries: Entry[];
  /** The highest index durable with the content it has in memory now. */
  stableIndex: LogIndex;
  /** `entries` records issued and not yet reported durable, oldest first. */
  pendingWrites: PendingWrite[];
  /** How many times a conflicting suffix was replaced (§5.3). */
  truncations: number;
  /**
   * Installed snapshots (`resetTo`) whose record is not durable yet: until it is, nothing in the
   * log is durable (`durableIndex` is 0), since the disk still holds the log the snapshot replaces.
   */
  installsPending: number;
}

/** A log loaded from disk: everything in it is durable. */
export function loadedLog(snapshotIndex: LogIndex, snapshotTerm: Term, entries: Entry[]): RaftLog {
  entries.forEach((e, k) =>
    assert(e.index === snapshotIndex + 1 + k, `entry ${e.index} is not at position ${k}`),
  );
  const last = entries[entries.length - 1];
  return {
    snapshotIndex,
    snapshotTerm,
    entries,
    stableIndex: last?.index ?? snapshotIndex,
    pendingWrites: [],
    truncations: 0,
    installsPending: 0,
  };
}

/** The highest index an ack or an apply may rely on: durable, as it is in memory now. */
export function durableIndex(log: RaftLog): LogIndex {
  return log.installsPending > 0 ? logIndex(0) : log.stableIndex;
}

export function lastIndex(log: RaftLog): LogIndex {
  return logIndex(log.snapshotIndex + log.entries.length);
}

export function lastTerm(log: RaftLog): Term {
  return log.entries[log.entries.length - 1]?.term ?? log.snapshotTerm;
}

/** The first index still in the log (one past the snapshot). */
export function firstIndex(log: RaftLog): LogIndex {
  return logIndex(log.snapshotIndex + 1);
}

/** The term at `index`: the snapshot's term at its index, undefined where it is unknown. */
export function termAt(log: RaftLog, index: number): Term | undefined {
  if (index === log.snapshotIndex) return log.snapshotTerm;
  if (index < log.snapshotIndex) return undefined;
  return log.entries[index - log.snapshotIndex - 1]?.term;
}

export function entryAt(log: RaftLog, index: number): Entry | undefined {
  if (index <= log.snapshotIndex) return undefined;
  return log.entries[index - log.snapshotIndex - 1];
}

/** Whether the log holds an entry (or the snapshot's base) at `index` with `term` (§5.3). */
export function matchTerm(log: RaftLog, index: number, term: number): boolean {
  return termAt(log, index) === term;
}

/** Approximate bytes an entry costs in an append: its data plus its fixed fields. */
export function entryBytes(entry: Entry): number {
  return entry.data.length + 12;
}

/**
 * Entries from `from` on, at most `countMax` and about `bytesMax` (at least one entry, so an
 * entry near the limit still travels). `from` must be past the snapshot.
 */
export function entriesFrom(
  log: RaftLog,
  from: number,
  countMax: number,
  bytesMax: number,
): Entry[] {
  assert(
    from > log.snapshotIndex,
    `entries from ${from} are compacted (snapshot ${log.snapshotIndex})`,
  );
  const out: Entry[] = [];
  let bytes = 0;
  for (let i = from - log.snapshotIndex - 1; i < log.entries.length && out.length < countMax; i++) {
    const entry = log.entries[i] as Entry;
    bytes += entryBytes(entry);
    if (out.length > 0 && bytes > bytesMax) break;
    out.push(entry);
  }
  return out;
}

/**
 * The first of `entries` (contiguous, from a leader) the log does not already hold with the same
 * term: where a follower starts writing (§5.3). `undefined` when it holds them all.
 */
export function findConflict(log: RaftLog, entries: readonly Entry[]): Entry | undefined {
  for (const entry of entries) if (!matchTerm(log, entry.index, entry.term)) return entry;
  return undefined;
}

/**
 * The largest index at or below `index` whose term is at most `term` (etcd's
 * findConflictByTerm): the fast backtracking hint of a rejected append, from either side. Stops
 * at the snapshot base, whose term is the last one known.
 */
export function findConflictByTerm(log: RaftLog, index: number, term: number): LogIndex {
  let i = Math.min(index, lastIndex(log));
  while (i > log.snapshotIndex && (termAt(log, i) as number) > term) i--;
  return logIndex(i);
}

/**
 * Appends `entries` (contiguous), replacing the log from the first one's index (a conflicting
 * suffix, §5.3). The first index must be at most one past the end. The caller issues the
 * `entries` record; `issued` notes it for the durability mark.
 */
export function appendEntries(log: RaftLog, entries: readonly Entry[]): void {
  const first = entries[0];
  if (first === undefined) return;
  assert(first.index > log.snapshotIndex, `append at ${first.index} below the snapshot`);
  assert(
    first.index <= lastIndex(log) + 1,
    `append at ${first.index} leaves a gap after ${lastIndex(log)}`,
  );
  const keep = first.index - log.snapshotIndex - 1;
  if (keep < log.entries.length) log.truncations++;
  log.entries.length = keep;
  for (const e of entries) log.entries.push(e);
  issued(log, first.index, lastIndex(log));
}

/** A record rewriting the log from `first` was issued: nothing from `first` on is stable now. */
function issued(log: RaftLog, first: LogIndex, last: LogIndex): void {
  log.pendingWrites.push({ first, last });
  if (log.stableIndex >= first) log.stableIndex = logIndex(first - 1);
}

/**
 * The oldest pending `entries` record is durable: the disk now holds the log as it was when the
 * record was issued, up to its last index; memory still agrees with it below the first index
 * any later pending record rewrites.
 */
export function entriesDurable(log: RaftLog): void {
  const done = log.pendingWrites.shift();
  assert(done !== undefined, 'an entries record became durable but none was pending');
  let stable: number = done.last;
  for (const later of log.pendingWrites) stable = Math.min(stable, later.first - 1);
  log.stableIndex = logIndex(Math.max(Math.min(stable, lastIndex(log)), log.snapshotIndex));
}

/**
 * Drops entries up to `index` (now in a durable snapshot of term `term`); entries after it stay.
 * Used for compaction, where the log holds `index` with `term`.
 */
export function compactTo(log: RaftLog, index: LogIndex, term: Term): void {
  if (index <= log.snapshotIndex) return;
  assert(matchTerm(log, index, term), `compaction at ${index} does not match term ${term}`);
  log.entries = log.entries.slice(index - log.snapshotIndex);
  log.snapshotIndex = index;
  log.snapshotTerm = term;
  if (log.stableIndex < index) log.stableIndex = index;
}

/**
 * Replaces the whole log with a snapshot's base (a follower installing a leader's snapshot that
 * its log does not match, Raft §7: "discard the entire log"). Nothing is durable until the
 * snapshot's record is (`installDurable`).
 */
export function resetTo(log: RaftLog, index: LogIndex, term: Term): void {
  if (log.entries.length > 0) log.truncations++;
  log.entries = [];
  log.snapshotIndex = index;
  log.snapshotTerm = term;
  log.stableIndex = index;
  log.installsPending++;
  // Records issued before the reset describe nothing in memory any more.
  log.pendingWrites = log.pendingWrites.map(() => ({ first: index, last: index }));
}

/** An installed snapshot's record is durable. */
export function installDurable(log: RaftLog): void {
  assert(log.installsPending > 0, 'an installed snapshot became durable but none was pending');
  log.installsPending--;
}
