/**
 * The WAL's bytes (docs/design/raft-log.md, "On-disk format"): records, batches, segment and
 * snapshot file names, and the snapshot file. Pure encoding and decoding; recovery (recover.ts)
 * decides what a bad batch means.
 *
 * A record is `u32 payloadBytes | u8 type | payload | u32 crc32c(everything before)`, integers
 * little-endian, 64-bit ones as two u32 halves (safe integers only). A batch is a BEGIN record
 * (format version, batch sequence number, the batch's length and record count), the records,
 * and a COMMIT record (the sequence number again and a CRC-32C over every record's CRC). A batch
 * is valid only whole: every CRC good, the COMMIT where the BEGIN said, the counts equal. So a
 * torn batch, or one that lost any sector, is dropped whole, never half applied.
 *
 * APPEND ONLY: record type numbers and layouts are on disk; a change is a new format version.
 */
import { assert, assertNever } from '../../base/assert.js';
import { fromHex, toHex } from '../../base/hex.js';
import { logIndex, term, type LogIndex, type Term } from '../../base/units.js';
import { NODE_ID_BYTES, type NodeId } from '../../identity/node-id.js';
import type { Entry, EntryKind, HardState, SnapshotMeta } from '../log-types.js';
import { crc32c } from './crc32c.js';

/** The format this code writes and reads (in every BEGIN record and snapshot file). */
export const WAL_FORMAT_VERSION = 1;
/** Where segments live, relative to the data dir. */
export const WAL_DIR = 'raft/wal';
/** Where snapshot files live, relative to the data dir. */
export const SNAPSHOT_DIR = 'raft/snap';

/** `u32 payloadBytes` and `u8 type`. */
export const RECORD_HEADER_BYTES = 5;
/** Header plus the trailing CRC: the framing of every record. */
export const RECORD_FRAME_BYTES = RECORD_HEADER_BYTES + 4;
/** BEGIN payload: u8 version, u64 batch sequence, u32 batch bytes, u32 record count. */
export const BEGIN_PAYLOAD_BYTES = 17;
/** COMMIT payload: u64 batch sequence, u32 CRC-32C over the CRCs of the batch's records. */
export const COMMIT_PAYLOAD_BYTES = 12;
/** Bytes a batch adds around its records: its BEGIN and COMMIT records. */
export const BATCH_OVERHEAD_BYTES =
  2 * RECORD_FRAME_BYTES + BEGIN_PAYLOAD_BYTES + COMMIT_PAYLOAD_BYTES;
/** Bytes an entry adds inside an entries record: u64 term, u8 kind, u32 data length. */
export const ENTRY_OVERHEAD_BYTES = 13;
/** An entries record's fixed part: u64 first index, u32 count. */
export const ENTRIES_HEADER_BYTES = 12;
/**
 * Largest entries record payload the WAL writes; a longer run of entries is split over several
 * records of the same batch (one entry larger than this gets a record of its own). Bounds what
 * recovery allocates per record.
 */
export const ENTRIES_RECORD_BYTES_MAX = 1024 * 1024;

/** APPEND ONLY: record type numbers are on disk. 0 is never a type (zeroed, preallocated space). */
export const RECORD_TYPES = {
  begin: 1,
  'hard-state': 2,
  entries: 3,
  snapshot: 4,
  commit: 5,
} as const;

/** APPEND ONLY: entry kind numbers are on disk. */
const ENTRY_KINDS: readonly EntryKind[] = ['normal', 'config', 'noop'];

/**
 * What a snapshot record says: the snapshot, the file holding its bytes, and whether it
 * replaced the whole log (Raft §7: an entry at its index with its term keeps the entries after
 * it; otherwise the log is discarded). `reset` is decided when the record is written, from the
 * log as it was then, so a replay that starts at a later segment reaches the same log.
 */
export interface SnapshotMarker {
  readonly meta: SnapshotMeta;
  /** The batch sequence number the file is named by (`snapshotPath`). */
  readonly fileSeq: number;
  readonly reset: boolean;
  /** Length and CRC-32C (its trailing CRC) of the snapshot file. */
  readonly fileBytes: number;
  readonly fileCrc: number;
}

/** A record as the WAL stores it (the BEGIN and COMMIT framing records are not among them). */
export type WalRecord =
  | { readonly kind: 'hard-state'; readonly hardState: HardState }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'snapshot'; readonly marker: SnapshotMarker };

// ---- little-endian fields ----

const HI = 0x1_0000_0000;

function putU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = (value >>> 8) & 0xff;
  buf[at + 2] = (value >>> 16) & 0xff;
  buf[at + 3] = (value >>> 24) & 0xff;
}

function getU32(buf: Uint8Array, at: number): number {
  return (
    ((buf[at] as number) |
      ((buf[at + 1] as number) << 8) |
      ((buf[at + 2] as number) << 16) |
      ((buf[at + 3] as number) << 24)) >>>
    0
  );
}

function putU64(buf: Uint8Array, at: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `WAL field ${value} is not a safe integer`);
  putU32(buf, at, value % HI);
  putU32(buf, at + 4, Math.floor(value / HI));
}

/** A u64 field, or -1 when it is not a safe integer (only a damaged record holds one). */
function getU64(buf: Uint8Array, at: number): number {
  const high = getU32(buf, at + 4);
  return high > 0x1f_ffff ? -1 : high * HI + getU32(buf, at);
}

// ---- records ----

/** Bytes of a record's payload. */
function payloadBytes(record: WalRecord): number {
  switch (record.kind) {
    case 'hard-state':
      return record.hardState.vote === undefined ? 17 : 17 + NODE_ID_BYTES;
    case 'entries':
      return record.entries.reduce(
        (sum, e) => sum + ENTRY_OVERHEAD_BYTES + e.data.length,
        ENTRIES_HEADER_BYTES,
      );
    case 'snapshot':
      return 41 + record.marker.meta.config.length;
    default:
      return assertNever(record, 'WAL record');
  }
}

function writePayload(buf: Uint8Array, at: number, record: WalRecord): void {
  switch (record.kind) {
    case 'hard-state': {
      const { term: t, commit, vote } = record.hardState;
      putU64(buf, at, t);
      putU64(buf, at + 8, commit);
      buf[at + 16] = vote === undefined ? 0 : 1;
      if (vote !== undefined) buf.set(fromHex(vote), at + 17);
      return;
    }
    case 'entries': {
      const first = record.entries[0];
      assert(first !== undefined, 'an entries record holds at least one entry');
      putU64(buf, at, first.index);
      putU32(buf, at + 8, record.entries.length);
      let pos = at + ENTRIES_HEADER_BYTES;
      for (const [i, entry] of record.entries.entries()) {
        assert(entry.index === first.index + i, `entries record not contiguous at ${entry.index}`);
        putU64(buf, pos, entry.term);
        buf[pos + 8] = ENTRY_KINDS.indexOf(entry.kind);
        putU32(buf, pos + 9, entry.data.length);
        buf.set(entry.data, pos + ENTRY_OVERHEAD_BYTES);
        pos += ENTRY_OVERHEAD_BYTES + entry.data.length;
      }
      return;
    }
    case 'snapshot': {
      const { meta, fileSeq, reset, fileBytes, fileCrc } = record.marker;
      putU64(buf, at, fileSeq);
      putU64(buf, at + 8, meta.index);
      putU64(buf, at + 16, meta.term);
      buf[at + 24] = reset ? 1 : 0;
      putU64(buf, at + 25, fileBytes);
      putU32(buf, at + 33, fileCrc);
      putU32(buf, at + 37, meta.config.length);
      buf.set(meta.config, at + 41);
      return;
    }
    default:
      assertNever(record, 'WAL record');
  }
}

/** Writes one framed record at `at`; returns its CRC. */
function writeFrame(
  buf: Uint8Array,
  at: number,
  type: number,
  bytes: number,
  fill: () => void,
): number {
  putU32(buf, at, bytes);
  buf[at + 4] = type;
  fill();
  const crc = crc32c(buf, at, at + RECORD_HEADER_BYTES + bytes);
  putU32(buf, at + RECORD_HEADER_BYTES + bytes, crc);
  return crc;
}

/** Bytes `records` take inside a batch (without its BEGIN and COMMIT). */
export function recordsBytes(records: readonly WalRecord[]): number {
  return records.reduce((sum, r) => sum + RECORD_FRAME_BYTES + payloadBytes(r), 0);
}

/** Encodes a whole batch: BEGIN, the records, COMMIT. */
export function encodeBatch(seq: number, records: readonly WalRecord[]): Uint8Array {
  const total = BATCH_OVERHEAD_BYTES + recordsBytes(records);
  assert(total < HI, `a WAL batch of ${total} bytes is too large`);
  const buf = new Uint8Array(total);
  const crcs = new Uint8Array(4 * (records.length + 1));
  let pos = 0;
  const begin = writeFrame(buf, pos, RECORD_TYPES.begin, BEGIN_PAYLOAD_BYTES, () => {
    buf[pos + RECORD_HEADER_BYTES] = WAL_FORMAT_VERSION;
    putU64(buf, pos + RECORD_HEADER_BYTES + 1, seq);
    putU32(buf, pos + RECORD_HEADER_BYTES + 9, total);
    putU32(buf, pos + RECORD_HEADER_BYTES + 13, records.length);
  });
  putU32(crcs, 0, begin);
  pos += RECORD_FRAME_BYTES + BEGIN_PAYLOAD_BYTES;
  for (const [i, record] of records.entries()) {
    const bytes = payloadBytes(record);
    const at = pos;
    const crc = writeFrame(buf, at, RECORD_TYPES[record.kind], bytes, () =>
      writePayload(buf, at + RECORD_HEADER_BYTES, record),
    );
    putU32(crcs, 4 * (i + 1), crc);
    pos += RECORD_FRAME_BYTES + bytes;
  }
  const at = pos;
  writeFrame(buf, at, RECORD_TYPES.commit, COMMIT_PAYLOAD_BYTES, () => {
    putU64(buf, at + RECORD_HEADER_BYTES, seq);
    putU32(buf, at + RECORD_HEADER_BYTES + 8, crc32c(crcs));
  });
  return buf;
}

/**
 * Splits entries into records of at most ENTRIES_RECORD_BYTES_MAX payload bytes each (an entry
 * larger than that gets a record of its own).
 */
export function entriesRecords(entries: readonly Entry[]): WalRecord[] {
  const out: WalRecord[] = [];
  let chunk: Entry[] = [];
  let bytes = ENTRIES_HEADER_BYTES;
  for (const entry of entries) {
    const size = ENTRY_OVERHEAD_BYTES + entry.data.length;
    if (chunk.length > 0 && bytes + size > ENTRIES_RECORD_BYTES_MAX) {
      out.push({ kind: 'entries', entries: chunk });
      chunk = [];
      bytes = ENTRIES_HEADER_BYTES;
    }
    chunk.push(entry);
    bytes += size;
  }
  if (chunk.length > 0) out.push({ kind: 'entries', entries: chunk });
  return out;
}

// ---- decoding ----

/** What is at an offset of a segment. */
export type BatchRead =
  | {
      readonly kind: 'batch';
      readonly seq: number;
      readonly records: WalRecord[];
      readonly end: number;
    }
  /** Zero bytes where a BEGIN would start: preallocated space, the clean end of the log. */
  | { readonly kind: 'zero' }
  /** A valid BEGIN of another format version: written by another Shoal. */
  | { readonly kind: 'foreign'; readonly version: number }
  /** Not a whole valid batch; `extent` is its length when at least its BEGIN record is intact. */
  | { readonly kind: 'invalid'; readonly why: string; readonly extent: number | undefined };

/** A framed record's type and payload bounds, or why there is none at `at`. */
function readFrame(
  buf: Uint8Array,
  at: number,
  end: number,
): { type: number; from: number; to: number; crc: number } | string {
  if (at + RECORD_FRAME_BYTES > end) return 'a record runs past the end of the segment';
  const bytes = getU32(buf, at);
  if (bytes > end - at - RECORD_FRAME_BYTES) return 'a record length runs past the end';
  const to = at + RECORD_HEADER_BYTES + bytes;
  const crc = getU32(buf, to);
  if (crc32c(buf, at, to) !== crc) return 'a record fails its CRC-32C';
  return { type: buf[at + 4] as number, from: at + RECORD_HEADER_BYTES, to, crc };
}

/** True when the 5 bytes of a record header at `at` are all zero (or past the end). */
function zeroHeader(buf: Uint8Array, at: number, end: number): boolean {
  for (let i = at; i < Math.min(end, at + RECORD_HEADER_BYTES); i++) if (buf[i] !== 0) return false;
  return true;
}

/** Reads the batch at `at` of a segment whose bytes end at `end`. */
export function readBatch(buf: Uint8Array, at: number, end: number): BatchRead {
  if (zeroHeader(buf, at, end)) return { kind: 'zero' };
  const begin = readFrame(buf, at, end);
  if (typeof begin === 'string') return { kind: 'invalid', why: begin, extent: undefined };
  if (begin.type !== RECORD_TYPES.begin || begin.to - begin.from !== BEGIN_PAYLOAD_BYTES)
    return { kind: 'invalid', why: 'no BEGIN record where a batch starts', extent: undefined };
  const version = buf[begin.from] as number;
  if (version !== WAL_FORMAT_VERSION) return { kind: 'foreign', version };
  const seq = getU64(buf, begin.from + 1);
  const total = getU32(buf, begin.from + 9);
  const count = getU32(buf, begin.from + 13);
  if (seq < 0 || total < BATCH_OVERHEAD_BYTES || total > end - at)
    return { kind: 'invalid', why: 'a BEGIN record out of range', extent: undefined };
  const why = (text: string): BatchRead => ({ kind: 'invalid', why: text, extent: total });
  const crcs = new Uint8Array(4 * (count + 1));
  if (crcs.length > total) return why('a BEGIN record counts more records than fit');
  putU32(crcs, 0, begin.crc);
  const records: WalRecord[] = [];
  let pos = begin.to + 4;
  for (let i = 0; i < count; i++) {
    const frame = readFrame(buf, pos, at + total);
    if (typeof frame === 'string') return why(frame);
    const record = decodeRecord(buf, frame.type, frame.from, frame.to);
    if (typeof record === 'string') return why(record);
    records.push(record);
    putU32(crcs, 4 * (i + 1), frame.crc);
    pos = frame.to + 4;
  }
  const commit = readFrame(buf, pos, at + total);
  if (typeof commit === 'string') return why(`the COMMIT record: ${commit}`);
  if (commit.type !== RECORD_TYPES.commit || commit.to - commit.from !== COMMIT_PAYLOAD_BYTES)
    return why('no COMMIT record where the batch ends');
  if (commit.to + 4 !== at + total) return why('the COMMIT record is not at the batch end');
  if (getU64(buf, commit.from) !== seq) return why('the COMMIT record names another batch');
  if (getU32(buf, commit.from + 8) !== crc32c(crcs))
    return why('the COMMIT record does not match the records before it');
  return { kind: 'batch', seq, records, end: at + total };
}

/** Decodes a record's payload; a string says why it is not a valid record. */
function decodeRecord(buf: Uint8Array, type: number, from: number, to: number): WalRecord | string {
  const bytes = to - from;
  switch (type) {
    case RECORD_TYPES['hard-state']: {
      const hasVote = buf[from + 16];
      if (bytes !== (hasVote === 1 ? 17 + NODE_ID_BYTES : 17) || (hasVote ?? 2) > 1)
        return 'a hard-state record of the wrong length';
      const t = getU64(buf, from);
      const commit = getU64(buf, from + 8);
      if (t < 0 || commit < 0) return 'a hard-state record holds an unsafe integer';
      const vote = hasVote === 1 ? (toHex(buf.subarray(from + 17, to)) as NodeId) : undefined;
      return { kind: 'hard-state', hardState: { term: term(t), vote, commit: logIndex(commit) } };
    }
    case RECORD_TYPES.entries:
      return decodeEntries(buf, from, to);
    case RECORD_TYPES.snapshot: {
      if (bytes < 41) return 'a snapshot record too short';
      const fields = [0, 8, 16, 25].map((offset) => getU64(buf, from + offset));
      const [fileSeq, index, t, fileBytes] = fields as [number, number, number, number];
      const reset = buf[from + 24];
      const configBytes = getU32(buf, from + 37);
      if (fields.some((f) => f < 0) || (reset ?? 2) > 1 || configBytes !== bytes - 41)
        return 'a snapshot record out of range';
      const meta = {
        index: logIndex(index),
        term: term(t),
        config: buf.slice(from + 41, to),
      };
      const fileCrc = getU32(buf, from + 33);
      return {
        kind: 'snapshot',
        marker: { meta, fileSeq, reset: reset === 1, fileBytes, fileCrc },
      };
    }
    default:
      return `a record of unknown type ${type} inside a batch`;
  }
}

function decodeEntries(buf: Uint8Array, from: number, to: number): WalRecord | string {
  if (to - from < ENTRIES_HEADER_BYTES) return 'an entries record too short';
  const first = getU64(buf, from);
  const count = getU32(buf, from + 8);
  if (first < 1 || count < 1 || count > (to - from) / ENTRY_OVERHEAD_BYTES)
    return 'an entries record out of range';
  const entries: Entry[] = [];
  let pos = from + ENTRIES_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (pos + ENTRY_OVERHEAD_BYTES > to) return 'an entries record shorter than its entries';
    const t = getU64(buf, pos);
    const kind = ENTRY_KINDS[buf[pos + 8] as number];
    const dataBytes = getU32(buf, pos + 9);
    const dataAt = pos + ENTRY_OVERHEAD_BYTES;
    if (t < 0 || kind === undefined || dataBytes > to - dataAt)
      return 'an entry out of range in an entries record';
    const index = first + i;
    if (!Number.isSafeInteger(index)) return 'an entries record holds an unsafe index';
    entries.push({
      index: logIndex(index),
      term: term(t),
      kind,
      data: buf.slice(dataAt, dataAt + dataBytes),
    });
    pos = dataAt + dataBytes;
  }
  if (pos !== to) return 'trailing bytes after the entries of an entries record';
  return { kind: 'entries', entries };
}

// ---- names ----

function hex16(value: number): string {
  return value.toString(16).padStart(16, '0');
}

function parseHex16(text: string): number | undefined {
  if (!/^[0-9a-f]{16}$/.test(text)) return undefined;
  const value = Number.parseInt(text, 16);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * A segment's path: its sequence number (orders segments) and the index its first entry would
 * have had when it was opened (last index + 1; compaction reads it). Both 16 hex digits.
 */
export function segmentPath(seq: number, firstIndex: LogIndex): string {
  return `${WAL_DIR}/${hex16(seq)}-${hex16(firstIndex)}.seg`;
}

export function parseSegmentPath(path: string): { seq: number; firstIndex: LogIndex } | undefined {
  const match = /^raft\/wal\/([0-9a-f]{16})-([0-9a-f]{16})\.seg$/.exec(path);
  if (match === null) return undefined;
  const seq = parseHex16(match[1] as string);
  const first = parseHex16(match[2] as string);
  return seq === undefined || first === undefined
    ? undefined
    : { seq, firstIndex: logIndex(first) };
}

/** The next segment, preallocated ahead of need; renamed to its segment name when used. */
export const PREPARED_SEGMENT_PATH = `${WAL_DIR}/next.tmp`;

/** A snapshot file's path: named by the sequence number of the batch that first recorded it. */
export function snapshotPath(fileSeq: number): string {
  return `${SNAPSHOT_DIR}/${hex16(fileSeq)}.snap`;
}

// ---- snapshot files ----

/** Bytes of a snapshot file's fixed fields: u8 version, u64 index, u64 term, u32 config length, u64 data length. */
const SNAPSHOT_FIXED_BYTES = 29;

/**
 * A snapshot file's bytes before its data: version, index, term, config, data length. The file is
 * this head, the data, then the CRC-32C of both (`snapshotFileTail`); snapshot-file.ts writes it
 * in slices without ever joining the three.
 */
export function snapshotFileHead(meta: SnapshotMeta, dataBytes: number): Uint8Array {
  const head = new Uint8Array(SNAPSHOT_FIXED_BYTES + meta.config.length);
  head[0] = WAL_FORMAT_VERSION;
  putU64(head, 1, meta.index);
  putU64(head, 9, meta.term);
  putU32(head, 17, meta.config.length);
  head.set(meta.config, 21);
  putU64(head, 21 + meta.config.length, dataBytes);
  return head;
}

/** A snapshot file's last 4 bytes: the CRC-32C of everything before them. */
export function snapshotFileTail(crc: number): Uint8Array {
  const tail = new Uint8Array(SNAPSHOT_CRC_BYTES);
  putU32(tail, 0, crc);
  return tail;
}

/** Bytes of a snapshot file's trailing CRC-32C. */
export const SNAPSHOT_CRC_BYTES = 4;

/** A snapshot file's length and CRC-32C, computed without building it (in one step). */
export function snapshotFileSummary(
  meta: SnapshotMeta,
  data: Uint8Array,
): { bytes: number; crc: number } {
  const head = snapshotFileHead(meta, data.length);
  return {
    bytes: head.length + data.length + SNAPSHOT_CRC_BYTES,
    crc: crc32c(data, 0, data.length, crc32c(head)),
  };
}

/** A snapshot file whole (tests; snapshot-file.ts writes one without building it). */
export function encodeSnapshotFile(meta: SnapshotMeta, data: Uint8Array): Uint8Array {
  const head = snapshotFileHead(meta, data.length);
  const buf = new Uint8Array(head.length + data.length + SNAPSHOT_CRC_BYTES);
  buf.set(head, 0);
  buf.set(data, head.length);
  putU32(buf, buf.length - SNAPSHOT_CRC_BYTES, crc32c(buf, 0, buf.length - SNAPSHOT_CRC_BYTES));
  return buf;
}

/** The trailing CRC of an encoded snapshot file (what its marker records). */
export function snapshotFileCrc(file: Uint8Array): number {
  return getU32(file, file.length - 4);
}

/** Decodes a snapshot file; a string says why it is not one. */
export function decodeSnapshotFile(
  file: Uint8Array,
): { meta: SnapshotMeta; data: Uint8Array } | string {
  if (file.length < SNAPSHOT_FIXED_BYTES + 4) return 'shorter than a snapshot file';
  if (crc32c(file, 0, file.length - 4) !== snapshotFileCrc(file)) return 'fails its CRC-32C';
  if (file[0] !== WAL_FORMAT_VERSION) return `of format version ${file[0]}`;
  const index = getU64(file, 1);
  const t = getU64(file, 9);
  const configBytes = getU32(file, 17);
  if (index < 0 || t < 0 || configBytes > file.length - SNAPSHOT_FIXED_BYTES - 4)
    return 'holds a field out of range';
  const dataBytes = getU64(file, 21 + configBytes);
  if (dataBytes !== file.length - SNAPSHOT_FIXED_BYTES - configBytes - 4)
    return 'holds a data length that is not its own';
  const config = file.slice(21, 21 + configBytes);
  const dataAt = SNAPSHOT_FIXED_BYTES + configBytes;
  return {
    meta: { index: logIndex(index), term: term(t) as Term, config },
    data: file.slice(dataAt, dataAt + dataBytes),
  };
}
