/**
 * Snapshots of the key-value state machine (docs/design/kv.md, "Snapshots"): the whole replicated
 * state as bytes, produced in bounded chunks while applies go on. snapshot-restore.ts reads them back.
 *
 * Point in time without a stop: `beginSnapshot` fixes revision R, the compacted revision C and the
 * applied index, and copies the lease and session tables (small: bounded by leasesMax and
 * sessionsMax, entries are shared, not cloned). The keys are then read chunk by chunk from the live
 * index: MVCC history makes "the store at R" a filter (each key's records at or below R, as
 * compaction at C keeps them), so a write applied between two chunks, which only appends records
 * above R or adds keys that have none at or below R, changes nothing already or still to be
 * written. Physical compaction (the only thing that drops records or keys) waits while a snapshot
 * is open (`mvcc.snapshotsOpen`); logical compaction goes on.
 *
 * Deterministic: the bytes depend only on the state at R (keys in order, leases by id, sessions in
 * eviction order, records filtered by the logical compaction rule), never on chunk sizes or on how
 * far physical compaction got, so two replicas at the same index produce the same bytes.
 *
 * Layout: magic "SKVS", version byte, appliedIndex, revision, compactRevision; leases (count, then
 * id, ttlMs, remainingTtlMs); sessions (count, then clientId, seq, kept flag, result); keys (key,
 * record count, then per record main, sub, deleted flag and, for a put, value, createRevision,
 * version, lease), ended by an empty key; a CRC-32 of everything before it, 4 bytes big-endian.
 */
import { assert } from '../base/assert.js';
import type { LogIndex } from '../base/units.js';
import { Writer } from '../codec/bytes.js';
import { crc32 } from './checksum.js';
import { KV_CODEC_VERSION, writeBlob, writeFlags } from './codec-fields.js';
import { snapshotConfig, type SnapshotConfig } from './config.js';
import {
  KEY_TEXT_END,
  keptFrom,
  lastAtOrBelow,
  type KeyHistory,
  type KvRecord,
  type Mvcc,
} from './mvcc.js';
import type { KvState, SessionEntry } from './state.js';
import type { Revision } from './types.js';

/** "SKVS": Shoal key-value snapshot. */
export const SNAPSHOT_MAGIC = Uint8Array.of(0x53, 0x4b, 0x56, 0x53);
export const CRC_BYTES = 4;

type Phase = 'header' | 'keys' | 'trailer' | 'done';

/** A snapshot being taken: hand it to `nextSnapshotChunk` until that returns undefined. */
export interface SnapshotWriter {
  readonly revision: Revision;
  readonly compactRevision: Revision;
  readonly appliedIndex: LogIndex;
  readonly mvcc: Mvcc;
  readonly leases: readonly (readonly [number, number, number])[];
  readonly sessions: readonly (readonly [string, SessionEntry])[];
  readonly chunkBytes: number;
  phase: Phase;
  /** The next key to write (undefined: from the first). */
  cursor: string | undefined;
  crc: number;
  /** Bytes handed out so far. */
  bytes: number;
}

/** Starts a snapshot of `state` as it is now; physical compaction waits until it ends. */
export function beginSnapshot(
  state: KvState,
  config: SnapshotConfig = snapshotConfig(),
): SnapshotWriter {
  state.mvcc.snapshotsOpen++;
  return {
    revision: state.mvcc.revision,
    compactRevision: state.mvcc.compactRevision,
    appliedIndex: state.appliedIndex,
    mvcc: state.mvcc,
    leases: [...state.leases.values()]
      .map((l) => [l.id, l.ttlMs, l.remainingTtlMs] as const)
      .sort((a, b) => a[0] - b[0]),
    sessions: [...state.sessions.entries],
    chunkBytes: config.snapshotChunkBytes,
    phase: 'header',
    cursor: undefined,
    crc: 0,
    bytes: 0,
  };
}

/** The next chunk of bytes (about chunkBytes), or undefined once the snapshot is complete. */
export function nextSnapshotChunk(writer: SnapshotWriter): Uint8Array | undefined {
  if (writer.phase === 'done') return undefined;
  const w = new Writer(writer.chunkBytes + 1024);
  if (writer.phase === 'header') {
    writeHeader(w, writer);
    writer.phase = 'keys';
  }
  if (writer.phase === 'keys' && writeKeys(w, writer)) {
    w.varint(0); // the empty key ends the key section
    writer.phase = 'trailer';
  }
  let chunk = w.finish();
  writer.crc = crc32(chunk, writer.crc);
  if (writer.phase === 'trailer') {
    const withCrc = new Uint8Array(chunk.length + CRC_BYTES);
    withCrc.set(chunk);
    new DataView(withCrc.buffer).setUint32(chunk.length, writer.crc);
    chunk = withCrc;
    endSnapshot(writer);
  }
  writer.bytes += chunk.length;
  return chunk;
}

/** Stops a snapshot before its end (physical compaction may resume). */
export function abortSnapshot(writer: SnapshotWriter): void {
  if (writer.phase !== 'done') endSnapshot(writer);
}

function endSnapshot(writer: SnapshotWriter): void {
  writer.phase = 'done';
  writer.mvcc.snapshotsOpen--;
  assert(writer.mvcc.snapshotsOpen >= 0, 'more snapshots ended than begun');
}

/** The whole snapshot at once (tests, and small stores). */
export function takeSnapshot(state: KvState, config?: SnapshotConfig): Uint8Array {
  const writer = beginSnapshot(state, config);
  const chunks: Uint8Array[] = [];
  for (let chunk = nextSnapshotChunk(writer); chunk; chunk = nextSnapshotChunk(writer))
    chunks.push(chunk);
  const out = new Uint8Array(writer.bytes);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function writeHeader(w: Writer, s: SnapshotWriter): void {
  w.bytes(SNAPSHOT_MAGIC);
  w.u8(KV_CODEC_VERSION);
  w.varint(s.appliedIndex);
  w.varint(s.revision);
  w.varint(s.compactRevision);
  w.varint(s.leases.length);
  for (const [id, ttlMs, remainingTtlMs] of s.leases) {
    w.varint(id);
    w.varint(ttlMs);
    w.varint(remainingTtlMs);
  }
  w.varint(s.sessions.length);
  for (const [clientId, entry] of s.sessions) {
    w.string(clientId, Number.MAX_SAFE_INTEGER);
    w.varint(entry.seq);
    writeFlags(w, [entry.result !== undefined]);
    if (entry.result !== undefined) writeBlob(w, entry.result);
  }
}

/** Writes keys from the cursor until the chunk is full; true once every key is written. */
function writeKeys(w: Writer, s: SnapshotWriter): boolean {
  let finished = true;
  s.mvcc.index.editRange(s.cursor ?? '', KEY_TEXT_END, false, (text, history) => {
    if (w.length >= s.chunkBytes) {
      s.cursor = text;
      finished = false;
      return { break: true };
    }
    writeKey(w, history, s.revision, s.compactRevision);
    return undefined;
  });
  return finished;
}

/** One key's records as of `rev`, as compaction at `compactRevision` keeps them (none: nothing). */
function writeKey(w: Writer, history: KeyHistory, rev: number, compactRevision: number): void {
  const records = history.records;
  const from = keptFrom(records, compactRevision);
  const to = lastAtOrBelow(records, rev) + 1;
  if (to <= from) return;
  const first = records[from] as KvRecord;
  writeBlob(w, first.kv.key);
  w.varint(to - from);
  for (let i = from; i < to; i++) {
    const r = records[i] as KvRecord;
    w.varint(r.main);
    w.varint(r.sub);
    writeFlags(w, [r.deleted]);
    if (r.deleted) continue;
    writeBlob(w, r.kv.value);
    w.varint(r.kv.createRevision);
    w.varint(r.kv.version);
    w.varint(r.kv.lease ?? 0);
  }
}
