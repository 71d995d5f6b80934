/**
 * A simple, correct Store for the Raft core: the whole persisted state (hard state, newest
 * snapshot, the entries after it) in one file, `raft/state.bin`, replaced durably on every
 * write (write a temporary file, fsync, rename, fsync the directory: base/storage.ts). It
 * applies each record the way the write-ahead log does (log-types.ts) to its copy of the state
 * and writes the copy, so the driver's merged writes (the newest write of a path wins) stay
 * correct. Cost: every write rewrites the file, O(log + snapshot) bytes; the log stays short
 * because the core compacts it every snapshotEntries entries. The write-ahead log (src/raft/wal,
 * issue 13's other half) replaces it for production sizes.
 *
 * Format: magic "SRS1", the hard state, the snapshot (if any), the entries, then an FNV-1a
 * checksum of everything before it. A file that is not that is refused with ERR_STORAGE_CORRUPT
 * and left untouched, never read as an empty log (that would forget votes and acked entries).
 */
import { ShoalError } from '../base/errors.js';
import type { Store } from '../base/protocol.js';
import { readDurable } from '../base/storage.js';
import { logIndex, term } from '../base/units.js';
import { DecodeFailure, Reader, readEnum, reverseTable, Writer } from '../codec/bytes.js';
import type { NodeId } from '../identity/node-id.js';
import { checkConfigurationBytes } from './configuration.js';
import type {
  Entry,
  EntryKind,
  HardState,
  RaftPersisted,
  RaftRecord,
  SnapshotMeta,
} from './log-types.js';
import { persistedProblem } from './step.js';

export const RAFT_STATE_FILE = 'raft/state.bin';

const MAGIC = [0x53, 0x52, 0x53, 0x31]; // "SRS1"
const KIND_NUMBERS: Record<EntryKind, number> = { normal: 1, config: 2, noop: 3 };
const KINDS = reverseTable(KIND_NUMBERS);
const LIMITS = { decodeListCountMax: Number.MAX_SAFE_INTEGER, decodeStringBytesMax: 4096 };

interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

interface Held {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  entries: Entry[];
}

export const EMPTY_PERSISTED: RaftPersisted = {
  hardState: { term: term(0), vote: undefined, commit: logIndex(0) },
  snapshot: undefined,
  entries: [],
};

function fnv1a(bytes: Uint8Array, length: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < length; i++) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193);
  return hash >>> 0;
}

function writeBytes(w: Writer, data: Uint8Array): void {
  w.varint(data.length);
  w.bytes(data);
}

export function encodeRaftState(held: Held): Uint8Array {
  const w = new Writer(256);
  for (const b of MAGIC) w.u8(b);
  w.varint(held.hardState.term);
  w.u8(held.hardState.vote === undefined ? 0 : 1);
  if (held.hardState.vote !== undefined) w.nodeId(held.hardState.vote);
  w.varint(held.hardState.commit);
  w.u8(held.snapshot === undefined ? 0 : 1);
  if (held.snapshot !== undefined) {
    w.varint(held.snapshot.meta.index);
    w.varint(held.snapshot.meta.term);
    writeBytes(w, held.snapshot.meta.config);
    writeBytes(w, held.snapshot.data);
  }
  w.varint(held.entries[0]?.index ?? 0);
  w.varint(held.entries.length);
  for (const e of held.entries) {
    w.varint(e.term);
    w.u8(KIND_NUMBERS[e.kind]);
    writeBytes(w, e.data);
  }
  const body = w.finish();
  const hash = fnv1a(body, body.length);
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, hash);
  return out;
}

function corrupt(why: string): ShoalError {
  return new ShoalError(
    'ERR_STORAGE_CORRUPT',
    `${RAFT_STATE_FILE} ${why}; the file was left untouched: restore the data dir from a backup, or remove this member from the cluster and add it back with an empty data dir`,
  );
}

function readBytes(r: Reader, what: string): Uint8Array {
  return r.bytes(r.varint(`${what} length`), what).slice();
}

function readHeld(r: Reader): Held {
  for (const b of MAGIC)
    if (r.u8('magic') !== b)
      throw new DecodeFailure('ERR_DECODE_BAD_MAGIC', 'not a Raft state file');
  const hardTerm = term(r.varint('term'));
  const vote = r.u8('vote flag') === 1 ? r.nodeId('vote') : undefined;
  const hardState: HardState = {
    term: hardTerm,
    vote: vote as NodeId | undefined,
    commit: logIndex(r.varint('commit')),
  };
  let snapshot: Snapshot | undefined;
  if (r.u8('snapshot flag') === 1) {
    const meta = {
      index: logIndex(r.varint('snapshot index')),
      term: term(r.varint('snapshot term')),
      config: readBytes(r, 'config'),
    };
    checkConfigurationBytes(meta.config, LIMITS);
    snapshot = { meta, data: readBytes(r, 'snapshot data') };
  }
  const first = r.varint('first index');
  const count = r.varint('entries');
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const t = term(r.varint('entry term'));
    const kind = readEnum(r, KINDS, 'entry kind');
    entries.push({ index: logIndex(first + i), term: t, kind, data: readBytes(r, 'entry data') });
  }
  return { hardState, snapshot, entries };
}

/** Reads a state file; throws ERR_STORAGE_CORRUPT for bytes this store did not write. */
export function decodeRaftState(bytes: Uint8Array): RaftPersisted {
  if (bytes.length < MAGIC.length + 4)
    throw corrupt(`is ${bytes.length} bytes, too short to be a Raft state`);
  const bodyBytes = bytes.length - 4;
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(
    bodyBytes,
  );
  if (stored !== fnv1a(bytes, bodyBytes)) throw corrupt('fails its checksum');
  const r = new Reader(bytes.subarray(0, bodyBytes), LIMITS);
  let held: Held;
  try {
    held = readHeld(r);
    r.end();
  } catch (err) {
    if (err instanceof DecodeFailure) throw corrupt(`is malformed (${err.detail})`);
    throw err;
  }
  const problem = persistedProblem(held);
  if (problem !== undefined) throw corrupt(`is inconsistent: ${problem}`);
  return held;
}

/** Applies one record the way the write-ahead log does (log-types.ts). */
export function applyRecord(held: Held, record: RaftRecord): void {
  if (record.kind === 'hard-state') {
    held.hardState = record.hardState;
    return;
  }
  if (record.kind === 'snapshot') {
    held.snapshot = { meta: record.meta, data: record.data };
    held.entries =
      record.install === true ? [] : held.entries.filter((e) => e.index > record.meta.index);
    return;
  }
  const first = record.entries[0];
  if (first === undefined) return;
  held.entries = held.entries.filter((e) => e.index < first.index);
  held.entries.push(...record.entries);
}

/** A fresh store for one node life: it keeps the state it loaded and rewrites it on each record. */
export function raftFileStore(): Store<RaftPersisted, RaftRecord> {
  let held: Held = { ...EMPTY_PERSISTED, entries: [] };
  return {
    load(storage) {
      // Believe only what is durable: the name is made durable here (raft-log.md, rule 9).
      const bytes = readDurable(storage, RAFT_STATE_FILE);
      const loaded = bytes === undefined ? EMPTY_PERSISTED : decodeRaftState(bytes);
      held = {
        hardState: loaded.hardState,
        snapshot: loaded.snapshot,
        entries: [...loaded.entries],
      };
      return loaded;
    },
    write(record) {
      applyRecord(held, record);
      return { path: RAFT_STATE_FILE, data: encodeRaftState(held) };
    },
  };
}
