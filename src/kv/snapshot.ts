/**
 * Snapshots of the key-value state machine (docs/design/kv.md, "Snapshots"): the whole replicated
 * state as bytes, produced in bounded chunks while applies go on, and restored in one call.
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
import { logIndex, type LogIndex } from '../base/units.js';
import { DecodeFailure, Reader, Writer } from '../codec/bytes.js';
import { crc32 } from './checksum.js';
import {
  KV_CODEC_VERSION,
  readBlob,
  readFlagBits,
  readLeaseId,
  readOptionalLease,
  readRevision,
  writeBlob,
  writeFlags,
} from './codec-fields.js';
import { snapshotConfig, type KvConfig, type SnapshotConfig } from './config.js';
import { keyText } from './keys.js';
import {
  KEY_TEXT_END,
  keptFrom,
  lastAtOrBelow,
  newMvcc,
  type KeyHistory,
  type KvRecord,
  type Mvcc,
} from './mvcc.js';
import { newStats, type KvState, type LeaseEntry, type SessionEntry } from './state.js';
import { kvError, revision, type KvError, type Revision } from './types.js';

/** "SKVS": Shoal key-value snapshot. */
const SNAPSHOT_MAGIC = Uint8Array.of(0x53, 0x4b, 0x56, 0x53);
const CRC_BYTES = 4;

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

// ---- restore ----

/** A state from snapshot bytes, or ERR_SNAPSHOT_CORRUPT saying what is wrong (nothing is kept). */
export function restoreSnapshot(bytes: Uint8Array, config: KvConfig): KvState | KvError {
  if (bytes.length < SNAPSHOT_MAGIC.length + 1 + CRC_BYTES)
    return corrupt(`${bytes.length} bytes is too short for a snapshot`);
  const bodyBytes = bytes.length - CRC_BYTES;
  const stored = new DataView(bytes.buffer, bytes.byteOffset + bodyBytes, CRC_BYTES).getUint32(0);
  const computed = crc32(bytes.subarray(0, bodyBytes));
  if (stored !== computed)
    return corrupt(`checksum ${hex(computed)} does not match the stored ${hex(stored)}`);
  try {
    return readSnapshot(new Reader(bytes.subarray(0, bodyBytes), readerLimits(bytes)), config);
  } catch (err) {
    if (err instanceof DecodeFailure) return corrupt(`${err.code}: ${err.detail}`);
    throw err;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function corrupt(detail: string): KvError {
  return kvError('ERR_SNAPSHOT_CORRUPT', `key-value snapshot refused: ${detail}`);
}

function readerLimits(bytes: Uint8Array): {
  decodeListCountMax: number;
  decodeStringBytesMax: number;
} {
  return { decodeListCountMax: bytes.length, decodeStringBytesMax: bytes.length };
}

/** Throws DecodeFailure unless `ok` (a snapshot that parses but breaks a rule is corrupt too). */
function check(ok: boolean, detail: string): void {
  if (!ok) throw new DecodeFailure('ERR_DECODE_MALFORMED', detail);
}

function readSnapshot(r: Reader, config: KvConfig): KvState {
  const magic = r.bytes(SNAPSHOT_MAGIC.length, 'magic');
  check(
    magic.every((b, i) => b === SNAPSHOT_MAGIC[i]),
    'not a key-value snapshot (bad magic)',
  );
  const version = r.u8('version');
  check(
    version === KV_CODEC_VERSION,
    `snapshot version ${version}; this node reads ${KV_CODEC_VERSION}`,
  );
  const appliedIndex = logIndex(r.varint('appliedIndex'));
  const mvcc = newMvcc();
  mvcc.revision = readRevision(r, 'revision');
  mvcc.compactRevision = readRevision(r, 'compactRevision');
  check(mvcc.revision >= 1, 'revision 0');
  check(mvcc.compactRevision <= mvcc.revision, 'compactRevision above revision');
  const state: KvState = {
    config,
    mvcc,
    leases: readLeases(r, config),
    sessions: { entries: new Map(), bytes: 0 },
    appliedIndex,
    stats: newStats(),
  };
  readSessions(r, state);
  readKeys(r, state);
  r.end();
  return state;
}

function readLeases(r: Reader, config: KvConfig): Map<LeaseEntry['id'], LeaseEntry> {
  const count = r.count('leases', 3);
  check(count <= config.leasesMax, `${count} leases exceed leasesMax (${config.leasesMax})`);
  const leases = new Map<LeaseEntry['id'], LeaseEntry>();
  let last = 0;
  for (let i = 0; i < count; i++) {
    const id = readLeaseId(r, 'lease id');
    check(id > last, `lease ${id} out of order`);
    last = id;
    const ttlMs = r.varint('lease ttlMs');
    leases.set(id, {
      id,
      ttlMs,
      remainingTtlMs: r.varint('lease remainingTtlMs'),
      keys: new Set(),
    });
  }
  return leases;
}

function readSessions(r: Reader, state: KvState): void {
  const count = r.count('sessions', 3);
  const { config, sessions } = state;
  check(
    count <= config.sessionsMax,
    `${count} sessions exceed sessionsMax (${config.sessionsMax})`,
  );
  for (let i = 0; i < count; i++) {
    const clientId = r.string('session clientId', config.clientIdBytesMax);
    check(!sessions.entries.has(clientId), `session ${JSON.stringify(clientId)} twice`);
    const seq = r.varint('session seq');
    const [kept] = readFlagBits(r, 1, 'session kept');
    const result = kept === true ? readBlob(r, 'session result') : undefined;
    sessions.entries.set(clientId, { seq, result });
    sessions.bytes += result?.length ?? 0;
  }
  check(sessions.bytes <= config.sessionsBytesMax, 'session results exceed sessionsBytesMax');
}

function readKeys(r: Reader, state: KvState): void {
  const mvcc = state.mvcc;
  let lastText: string | undefined;
  for (;;) {
    const key = readBlob(r, 'key');
    if (key.length === 0) break;
    const text = keyText(key);
    check(lastText === undefined || text > lastText, 'keys out of order');
    lastText = text;
    const history: KeyHistory = { text, records: readRecords(r, key, text, mvcc.revision) };
    mvcc.index.set(text, history);
    const latest = history.records[history.records.length - 1] as KvRecord;
    const lease = latest.kv.lease;
    if (!latest.deleted && lease !== undefined) {
      const entry = state.leases.get(lease);
      check(entry !== undefined, `key attached to missing lease ${lease}`);
      entry?.keys.add(text);
    }
  }
  const log: KvRecord[] = [];
  mvcc.index.forRange('', KEY_TEXT_END, false, (_text, history) => {
    for (const record of history.records) if (record.main >= mvcc.compactRevision) log.push(record);
  });
  log.sort((a, b) => a.main - b.main || a.sub - b.sub);
  mvcc.log = log;
}

function readRecords(r: Reader, key: Uint8Array, text: string, storeRevision: number): KvRecord[] {
  const count = r.count('records', 3);
  check(count > 0, 'a key without records');
  const records: KvRecord[] = [];
  for (let i = 0; i < count; i++) {
    const main = readRevision(r, 'record main');
    const sub = r.varint('record sub');
    const prev = records[records.length - 1];
    check(
      main <= storeRevision && main >= 1,
      `record revision ${main} outside 1..${storeRevision}`,
    );
    check(
      prev === undefined || main > prev.main || (main === prev.main && sub > prev.sub),
      'records out of order',
    );
    const [deleted] = readFlagBits(r, 1, 'record deleted');
    if (deleted === true) {
      const kv = {
        key,
        value: new Uint8Array(0),
        createRevision: revision(0),
        modRevision: main,
        version: 0,
      };
      records.push({ text, main, sub, deleted: true, kv });
      continue;
    }
    const value = readBlob(r, 'record value');
    const createRevision = readRevision(r, 'record createRevision');
    const version = r.varint('record version');
    check(createRevision >= 1 && createRevision <= main && version >= 1, 'bad put record');
    const lease = readOptionalLease(r, 'record lease');
    const base = { key, value, createRevision, modRevision: main, version };
    records.push({
      text,
      main,
      sub,
      deleted: false,
      kv: lease === undefined ? base : { ...base, lease },
    });
  }
  return records;
}
