/**
 * The log a sequence of WAL records describes (docs/design/raft-log.md, "Recovery rules"): the
 * newest hard state, the snapshot the log starts after, and the entries since. Recovery replays
 * every batch into one; the running WAL keeps one too (terms only, not the entries' bytes: the
 * core holds those), to check the core's records and to decide a snapshot's `reset`.
 *
 * Rules (log-types.ts; Raft §5.3, §7):
 * - `hard-state` replaces the previous one.
 * - `entries` starting at index i replaces every entry from i on and appends; entries at or
 *   below the snapshot are dropped; i must be at most one past the last entry (no gap).
 * - `snapshot` at (index S, term T) moves the base to S: with `reset` the whole log goes
 *   (§7: no entry at S with term T), without it the entries up to S go and the rest stay. The
 *   same marker again (a segment's head restating it) changes nothing.
 *
 * A replay that starts at a later segment (the older ones compacted away) begins unanchored: it
 * does not know the entries before its first record, so its first `entries` record sets where
 * the log starts. `finish` then checks that no entry above the snapshot is missing.
 */
import { logIndex, term, type LogIndex, type Term } from '../../base/units.js';
import type { Entry, HardState } from '../log-types.js';
import type { SnapshotMarker, WalRecord } from './format.js';

export const INITIAL_HARD_STATE: HardState = {
  term: term(0),
  vote: undefined,
  commit: logIndex(0),
};

export class LogImage {
  hardState: HardState = INITIAL_HARD_STATE;
  snapshot: SnapshotMarker | undefined;
  /** Index of the first entry held (meaningful when `terms` is not empty). */
  private start = 1;
  /** Term of each entry from `start` on. */
  private terms: number[] = [];
  /** The entries themselves, when this image keeps them (recovery). */
  private entries: Entry[] = [];

  /**
   * @param keepEntries keep the entries' bytes (recovery) or only their terms (the running WAL).
   * @param anchored the replay starts at the beginning of the log (index 1, no snapshot).
   */
  constructor(
    private keepEntries: boolean,
    private anchored: boolean,
  ) {}

  get baseIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  get baseTerm(): number {
    return this.snapshot?.meta.term ?? 0;
  }

  get lastIndex(): LogIndex {
    return logIndex(this.terms.length === 0 ? this.baseIndex : this.start + this.terms.length - 1);
  }

  /** The term of the entry at `index` (the snapshot's at its index), undefined if not held. */
  termAt(index: number): Term | undefined {
    if (index === this.baseIndex) return term(this.baseTerm);
    const t = this.terms[index - this.start];
    return t === undefined || index < this.start ? undefined : term(t);
  }

  /** Applies one record; returns why it cannot follow the log so far, if it cannot. */
  apply(record: WalRecord): string | undefined {
    switch (record.kind) {
      case 'hard-state':
        this.hardState = record.hardState;
        return undefined;
      case 'entries':
        return this.append(record.entries);
      case 'snapshot':
        return this.moveBase(record.marker);
    }
  }

  private append(given: readonly Entry[]): string | undefined {
    const base = this.baseIndex;
    const list = given.filter((e) => e.index > base);
    const first = list[0];
    if (first === undefined) return undefined;
    const from = first.index;
    if (this.terms.length === 0) {
      if (this.anchored && from !== base + 1)
        return `entries start at ${from}, but the log ends at ${base}`;
      this.start = from;
    } else if (from > this.lastIndex + 1) {
      return `entries start at ${from}, past the log's end at ${this.lastIndex}`;
    } else if (from < this.start) {
      this.clear();
      this.start = from;
    } else this.truncateFrom(from);
    for (const entry of list) {
      this.terms.push(entry.term);
      if (this.keepEntries) this.entries.push(entry);
    }
    return undefined;
  }

  private moveBase(marker: SnapshotMarker): string | undefined {
    const { index, term: t } = marker.meta;
    if (index < this.baseIndex) return `a snapshot at ${index} after one at ${this.baseIndex}`;
    if (index === this.baseIndex && this.snapshot !== undefined) {
      if (t !== this.baseTerm)
        return `a snapshot at ${index} with term ${t}, after term ${this.baseTerm}`;
      this.snapshot = marker;
      return undefined;
    }
    if (marker.reset) {
      this.clear();
      this.anchored = true;
    } else this.dropThrough(index);
    this.snapshot = marker;
    return undefined;
  }

  /** Where the log does not hold every entry above its snapshot: a reason, else undefined. */
  finish(): string | undefined {
    if (this.terms.length > 0 && this.start > this.baseIndex + 1)
      return `entries ${this.baseIndex + 1} to ${this.start - 1} are missing`;
    this.anchored = true;
    return undefined;
  }

  /** The entries after the snapshot (an image that keeps them); keeps only terms from then on. */
  releaseEntries(): Entry[] {
    const out = this.entries;
    this.entries = [];
    this.keepEntries = false;
    return out;
  }

  private clear(): void {
    this.terms = [];
    this.entries = [];
  }

  private truncateFrom(index: number): void {
    this.terms.length = index - this.start;
    if (this.keepEntries) this.entries.length = index - this.start;
  }

  private dropThrough(index: number): void {
    const drop = Math.min(this.terms.length, Math.max(0, index - this.start + 1));
    this.terms.splice(0, drop);
    if (this.keepEntries) this.entries.splice(0, drop);
    this.start = Math.max(this.start, index + 1);
    if (this.terms.length === 0) this.start = index + 1;
  }
}
