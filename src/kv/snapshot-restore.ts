/**
 * Restoring a key-value snapshot (snapshot.ts has the layout): in one call (`restoreSnapshot`) or
 * chunk by chunk as the bytes arrive (`beginRestore`, `restoreChunk`, `finishRestore`), so a
 * follower installing a large snapshot never blocks its event loop for longer than one chunk's
 * parse, plus the final sort of the revision log.
 *
 * The bytes are distrusted: every count and length is checked against the bytes left, the keys
 * must be in order, records in (main, sub) order and at or below the snapshot's revision, a kept
 * key must name a lease that exists, and the CRC-32 trailer must match. Anything else is
 * ERR_SNAPSHOT_CORRUPT with what was wrong; nothing of a refused snapshot is kept (the state being
 * built is dropped).
 *
 * Chunked parsing: each item (a lease, a session, a key with its records) is read whole or not at
 * all; an item cut by a chunk boundary is read again when the next chunk arrives, so a retry costs
 * at most one item. The last 4 bytes received are never parsed as data: they may be the checksum.
 */
import { logIndex } from '../base/units.js';
import { DecodeFailure, Reader } from '../codec/bytes.js';
import { crc32 } from './checksum.js';
import {
  KV_CODEC_VERSION,
  readBlob,
  readFlagBits,
  readLeaseId,
  readOptionalLease,
  readRevision,
} from './codec-fields.js';
import type { KvConfig } from './config.js';
import { keyText } from './keys.js';
import { KEY_TEXT_END, newMvcc, type KeyHistory, type KvRecord } from './mvcc.js';
import { CRC_BYTES, SNAPSHOT_MAGIC } from './snapshot.js';
import { newStats, type KvState } from './state.js';
import { kvError, revision, type KvError } from './types.js';

type Phase = 'header' | 'leases' | 'session-count' | 'sessions' | 'keys' | 'end';

export interface SnapshotRestorer {
  readonly config: KvConfig;
  phase: Phase;
  /** Items of the current section still to read (leases, sessions). */
  left: number;
  /** Bytes received and not yet parsed (the last CRC_BYTES of them are held back). */
  pending: Uint8Array;
  /** CRC-32 of every byte received except the last CRC_BYTES. */
  crc: number;
  /** The last CRC_BYTES bytes received (not yet in `crc`). */
  tail: Uint8Array;
  state: KvState | undefined;
  lastText: string | undefined;
  lastLeaseId: number;
  error: KvError | undefined;
}

export function beginRestore(config: KvConfig): SnapshotRestorer {
  return {
    config,
    phase: 'header',
    left: 0,
    pending: new Uint8Array(0),
    crc: 0,
    tail: new Uint8Array(0),
    state: undefined,
    lastText: undefined,
    lastLeaseId: 0,
    error: undefined,
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Feeds the next chunk; a refusal is kept and returned by finishRestore. */
export function restoreChunk(r: SnapshotRestorer, chunk: Uint8Array): void {
  if (r.error !== undefined) return;
  const all = concat(r.tail, chunk);
  const settled = Math.max(0, all.length - CRC_BYTES);
  r.crc = crc32(all.subarray(0, settled), r.crc);
  r.tail = all.slice(settled);
  r.pending = concat(r.pending, chunk);
  const parseable = r.pending.subarray(0, Math.max(0, r.pending.length - CRC_BYTES));
  // Counts are bounded by the bytes left (a short buffer is TRUNCATED: wait for more), and the
  // section counts by leasesMax and sessionsMax.
  const limits = {
    decodeListCountMax: Number.MAX_SAFE_INTEGER,
    decodeStringBytesMax: r.config.clientIdBytesMax,
  };
  let offset = 0;
  try {
    while (r.phase !== 'end') {
      const next = readItem(r, new Reader(parseable, limits, offset));
      if (next === undefined) break;
      offset = next;
    }
  } catch (err) {
    if (!(err instanceof DecodeFailure)) throw err;
    r.error = corrupt(`${err.code}: ${err.detail}`);
    return;
  }
  r.pending = r.pending.slice(offset);
}

/** Reads one item; the offset after it, or undefined when it is not all there yet. */
function readItem(r: SnapshotRestorer, reader: Reader): number | undefined {
  try {
    step(r, reader);
    return reader.offset;
  } catch (err) {
    if (err instanceof DecodeFailure && err.code === 'ERR_DECODE_TRUNCATED') return undefined;
    throw err;
  }
}

function step(r: SnapshotRestorer, reader: Reader): void {
  switch (r.phase) {
    case 'header':
      r.state = readHeader(reader, r.config);
      r.left = reader.varint('leases');
      check(
        r.left <= r.config.leasesMax,
        `${r.left} leases exceed leasesMax (${r.config.leasesMax})`,
      );
      r.phase = r.left > 0 ? 'leases' : 'session-count';
      return;
    case 'leases':
      r.lastLeaseId = readLease(reader, r.state as KvState, r.lastLeaseId);
      if (--r.left === 0) r.phase = 'session-count';
      return;
    case 'session-count':
      r.left = reader.varint('sessions');
      check(
        r.left <= r.config.sessionsMax,
        `${r.left} sessions exceed sessionsMax (${r.config.sessionsMax})`,
      );
      r.phase = r.left > 0 ? 'sessions' : 'keys';
      return;
    case 'sessions':
      readSession(reader, r.state as KvState);
      if (--r.left === 0) r.phase = 'keys';
      return;
    case 'keys':
      if (!readKey(reader, r)) r.phase = 'end';
      return;
    case 'end':
      return;
  }
}

/** The state once every chunk was fed, or ERR_SNAPSHOT_CORRUPT. */
export function finishRestore(r: SnapshotRestorer): KvState | KvError {
  if (r.error !== undefined) return r.error;
  if (r.phase !== 'end' || r.state === undefined)
    return corrupt(`the bytes end inside the ${r.phase} section (truncated)`);
  if (r.pending.length !== CRC_BYTES)
    return corrupt(`${r.pending.length - CRC_BYTES} bytes after the end of the keys`);
  const stored = new DataView(r.tail.buffer, r.tail.byteOffset, CRC_BYTES).getUint32(0);
  if (stored !== r.crc)
    return corrupt(`checksum ${hex(r.crc)} does not match the stored ${hex(stored)}`);
  buildLog(r.state);
  return r.state;
}

/** A state from snapshot bytes, or ERR_SNAPSHOT_CORRUPT saying what is wrong (nothing is kept). */
export function restoreSnapshot(bytes: Uint8Array, config: KvConfig): KvState | KvError {
  const r = beginRestore(config);
  restoreChunk(r, bytes);
  return finishRestore(r);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function corrupt(detail: string): KvError {
  return kvError('ERR_SNAPSHOT_CORRUPT', `key-value snapshot refused: ${detail}`);
}

/** Throws DecodeFailure unless `ok` (a snapshot that parses but breaks a rule is corrupt too). */
function check(ok: boolean, detail: string): void {
  if (!ok) throw new DecodeFailure('ERR_DECODE_MALFORMED', detail);
}

function readHeader(r: Reader, config: KvConfig): KvState {
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
  return {
    config,
    mvcc,
    leases: new Map(),
    sessions: { entries: new Map(), bytes: 0 },
    appliedIndex,
    stats: newStats(),
  };
}

/** Reads a lease (ids ascend); returns its id. */
function readLease(r: Reader, state: KvState, lastId: number): number {
  const id = readLeaseId(r, 'lease id');
  check(id > lastId, `lease ${id} out of order`);
  const ttlMs = r.varint('lease ttlMs');
  const remainingTtlMs = r.varint('lease remainingTtlMs');
  state.leases.set(id, { id, ttlMs, remainingTtlMs, keys: new Set() });
  return id;
}

function readSession(r: Reader, state: KvState): void {
  const { config, sessions } = state;
  const clientId = r.string('session clientId', config.clientIdBytesMax);
  check(!sessions.entries.has(clientId), `session ${JSON.stringify(clientId)} twice`);
  const seq = r.varint('session seq');
  const [kept] = readFlagBits(r, 1, 'session kept');
  const result = kept === true ? readBlob(r, 'session result') : undefined;
  sessions.entries.set(clientId, { seq, result });
  sessions.bytes += result?.length ?? 0;
  check(sessions.bytes <= config.sessionsBytesMax, 'session results exceed sessionsBytesMax');
}

/** Reads one key and its records; false at the empty key that ends the section. */
function readKey(r: Reader, restorer: SnapshotRestorer): boolean {
  const state = restorer.state as KvState;
  const key = readBlob(r, 'key');
  if (key.length === 0) return false;
  const text = keyText(key);
  check(restorer.lastText === undefined || text > restorer.lastText, 'keys out of order');
  const history: KeyHistory = { text, records: readRecords(r, key, text, state.mvcc.revision) };
  restorer.lastText = text;
  state.mvcc.index.set(text, history);
  const latest = history.records[history.records.length - 1] as KvRecord;
  const lease = latest.kv.lease;
  if (!latest.deleted && lease !== undefined) {
    const entry = state.leases.get(lease);
    check(entry !== undefined, `key attached to missing lease ${lease}`);
    entry?.keys.add(text);
  }
  return true;
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

/** The revision log: every record at or above the compacted revision, in (main, sub) order. */
function buildLog(state: KvState): void {
  const { mvcc } = state;
  const log: KvRecord[] = [];
  mvcc.index.forRange('', KEY_TEXT_END, false, (_text, history) => {
    for (const record of history.records) if (record.main >= mvcc.compactRevision) log.push(record);
  });
  log.sort((a, b) => a.main - b.main || a.sub - b.sub);
  mvcc.log = log;
}
