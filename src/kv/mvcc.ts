/**
 * The multi-version store under the state machine (etcd's mvcc/key_index.go and kvstore_txn.go,
 * in memory): every key's history of revisions in an ordered index, plus the same records in
 * revision order for watchers.
 *
 * - `index`: a B+ tree (sorted-btree) from the key's binary string (keys.ts) to its history,
 *   so prefix and [start, end) scans cost O(log n + keys scanned).
 * - A history is the key's records in (main, sub) order: puts and tombstones. A put carries the
 *   whole KeyValue (createRevision, version), so a read at revision R is one binary search for the
 *   last record at or below R; no generations are needed.
 * - `log`: every record with main >= compactRevision, in (main, sub) order: the history a watcher
 *   replays from (etcd scans its revision-keyed bucket for this).
 *
 * Compaction (etcd's keyIndex.compact): after compact(C), reads below C are refused; a key keeps
 * every record above C plus its last record at or below C, unless that one is a tombstone below C
 * (the key did not exist at C). `compactRevision` moves at once (logical); the records are
 * dropped a slice of keys at a time (physical, `compactSlice`), never while a snapshot is being
 * taken, so a snapshot's view of history stays whole. Readers never see the difference: every
 * read below compactRevision is refused, and snapshots filter by the logical rule
 * (`keptFrom`), so their bytes do not depend on how far physical compaction got.
 */
import { assert } from '../base/assert.js';
import { BTree, type Tree } from './btree.js';
import { keyBytes, type KeySpan } from './keys.js';
import { revision, type KeyValue, type LeaseId, type Revision } from './types.js';

/** Above every binary string: each of their code units is at most 0xff. */
export const KEY_TEXT_END = '\u0100';

const EMPTY = new Uint8Array(0);

/** One change to one key: a put (kv is the new value) or a tombstone (kv holds key and modRevision). */
export interface KvRecord {
  readonly text: string;
  readonly main: Revision;
  readonly sub: number;
  readonly deleted: boolean;
  readonly kv: KeyValue;
}

export interface KeyHistory {
  readonly text: string;
  /** In (main, sub) order; never empty while the key is in the index. */
  records: KvRecord[];
}

export interface Mvcc {
  readonly index: Tree<string, KeyHistory>;
  /** Records with main >= compactRevision, in (main, sub) order (at most a prefix older, see compactSlice). */
  log: KvRecord[];
  /** The store's revision: 1 when empty, +1 per write transaction that changed something. */
  revision: Revision;
  /** Reads below this are refused (ERR_COMPACTED). 0 before the first compaction. */
  compactRevision: Revision;
  /** Where physical compaction resumes (a key text), or undefined when it is done. */
  compactCursor: string | undefined;
  /** Snapshots being taken; physical compaction waits while any is open. */
  snapshotsOpen: number;
}

export function newMvcc(): Mvcc {
  return {
    index: new BTree<string, KeyHistory>(),
    log: [],
    revision: revision(1),
    compactRevision: revision(0),
    compactCursor: undefined,
    snapshotsOpen: 0,
  };
}

/** Index of the last record at or below `rev` (by main revision), or -1. */
export function lastAtOrBelow(records: readonly KvRecord[], rev: number): number {
  let lo = 0;
  let hi = records.length - 1;
  if (hi >= 0 && (records[hi] as KvRecord).main <= rev) return hi;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((records[mid] as KvRecord).main <= rev) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}

/** The key's value at `rev`, or undefined when it did not exist then. */
export function visibleAt(history: KeyHistory, rev: number): KeyValue | undefined {
  const i = lastAtOrBelow(history.records, rev);
  if (i < 0) return undefined;
  const record = history.records[i] as KvRecord;
  return record.deleted ? undefined : record.kv;
}

export function getAt(mvcc: Mvcc, text: string, rev: number): KeyValue | undefined {
  const history = mvcc.index.get(text);
  return history === undefined ? undefined : visibleAt(history, rev);
}

/**
 * Calls `visit` for each key of `span` that exists at `rev`, in key order; stops when it returns
 * false.
 */
export function scanAt(
  mvcc: Mvcc,
  span: KeySpan,
  rev: number,
  visit: (kv: KeyValue, text: string) => boolean,
): void {
  if (span.end === undefined) {
    const kv = getAt(mvcc, span.start, rev);
    if (kv !== undefined) visit(kv, span.start);
    return;
  }
  if (span.end !== null && span.end <= span.start) return;
  mvcc.index.editRange(span.start, span.end ?? KEY_TEXT_END, false, (text, history) => {
    const kv = visibleAt(history, rev);
    if (kv !== undefined && !visit(kv, text)) return { break: true };
    return undefined;
  });
}

/** Appends a put of `text` at (main, sub); returns the new KeyValue and the previous one. */
export function putRecord(
  mvcc: Mvcc,
  text: string,
  value: Uint8Array,
  lease: LeaseId | undefined,
  main: Revision,
  sub: number,
): { kv: KeyValue; prev: KeyValue | undefined } {
  let history = mvcc.index.get(text);
  const last = history?.records[history.records.length - 1];
  const prev = last === undefined || last.deleted ? undefined : last.kv;
  const key = prev?.key ?? last?.kv.key ?? keyBytes(text);
  const base = {
    key,
    value,
    createRevision: prev === undefined ? main : prev.createRevision,
    modRevision: main,
    version: prev === undefined ? 1 : prev.version + 1,
  };
  const kv: KeyValue = lease === undefined ? base : { ...base, lease };
  const record: KvRecord = { text, main, sub, deleted: false, kv };
  if (history === undefined) {
    history = { text, records: [] };
    mvcc.index.set(text, history);
  }
  append(mvcc, history, record);
  return { kv, prev };
}

/** Appends a tombstone of an existing key at (main, sub); returns the value it removed and the tombstone's kv. */
export function deleteRecord(
  mvcc: Mvcc,
  history: KeyHistory,
  main: Revision,
  sub: number,
): { prev: KeyValue; tombstone: KeyValue } {
  const last = history.records[history.records.length - 1];
  assert(
    last !== undefined && !last.deleted,
    `delete of absent key ${JSON.stringify(history.text)}`,
  );
  const kv: KeyValue = {
    key: last.kv.key,
    value: EMPTY,
    createRevision: revision(0),
    modRevision: main,
    version: 0,
  };
  append(mvcc, history, { text: history.text, main, sub, deleted: true, kv });
  return { prev: last.kv, tombstone: kv };
}

function append(mvcc: Mvcc, history: KeyHistory, record: KvRecord): void {
  const last = history.records[history.records.length - 1];
  assert(
    last === undefined ||
      record.main > last.main ||
      (record.main === last.main && record.sub > last.sub),
    `revision (${record.main}, ${record.sub}) of ${JSON.stringify(record.text)} is not above its last`,
  );
  history.records.push(record);
  mvcc.log.push(record);
}

/**
 * The first record of `records` that compaction at `compactRevision` keeps (records.length when
 * none: the key can go). etcd keyIndex.compact: keep the last record at or below the compacted
 * revision, unless it is a tombstone below it, and everything after.
 */
export function keptFrom(records: readonly KvRecord[], compactRevision: number): number {
  const i = lastAtOrBelow(records, compactRevision);
  if (i < 0) return 0;
  const record = records[i] as KvRecord;
  return record.deleted && record.main < compactRevision ? i + 1 : i;
}

/** Moves compactRevision to `rev` (the caller checked current >= rev > compactRevision). */
export function compact(mvcc: Mvcc, rev: Revision): void {
  mvcc.compactRevision = rev;
  const log = mvcc.log;
  let drop = 0;
  while (drop < log.length && (log[drop] as KvRecord).main < rev) drop++;
  if (drop > 0) mvcc.log = log.slice(drop);
  mvcc.compactCursor = '';
}

/** Physically compacts up to `keysMax` keys; returns how many it visited (0 when idle or paused). */
export function compactSlice(mvcc: Mvcc, keysMax: number): number {
  const from = mvcc.compactCursor;
  if (from === undefined || mvcc.snapshotsOpen > 0) return 0;
  const floor = mvcc.compactRevision;
  let visited = 0;
  let next: string | undefined;
  mvcc.index.editRange(from, KEY_TEXT_END, false, (text, history) => {
    if (visited === keysMax) {
      next = text;
      return { break: true };
    }
    visited++;
    const start = keptFrom(history.records, floor);
    if (start === history.records.length) return { delete: true };
    if (start > 0) history.records = history.records.slice(start);
    return undefined;
  });
  mvcc.compactCursor = next;
  return visited;
}
