/**
 * Raft's messages on the wire (docs/design/raft.md, "Messages"; docs/design/wire.md, types
 * 20..30), as a `MessageTable` in the envelope of src/codec. Every payload starts with the
 * sender's NodeId, its listen address and its term; indexes and terms are varints; booleans
 * share one flags byte whose unused bits must be zero; byte strings are a varint length and the
 * bytes (copied out of the frame).
 *
 * The decoder refuses what the core must never see (ERR_DECODE_MALFORMED): entries whose terms
 * go down or exceed the message's term, a configuration entry or snapshot configuration that does
 * not decode, a snapshot chunk that runs past its total. Entry indexes are implied (prevIndex + 1
 * onward), so an append cannot carry a gap.
 */
import { assertNever } from '../base/assert.js';
import { logIndex, term, type Term } from '../base/units.js';
import {
  DecodeFailure,
  readAddress,
  readEnum,
  readFlags,
  reverseTable,
  writeAddress,
  type FieldLimits,
  type Reader,
  type Writer,
} from '../codec/bytes.js';
import {
  compileTable,
  decodeWith,
  encodedBytesWith,
  encodeWith,
  type DecodeExpect,
  type DecodeResult,
} from '../codec/codec.js';
import { checkConfigurationBytes } from './configuration.js';
import type { Entry, EntryKind, SnapshotMeta } from './log-types.js';
import { RAFT_TYPE_NUMBERS, type RaftMessage } from './messages.js';

const FLAG_PRE_VOTE = 0x01;
const FLAG_TRANSFER = 0x02;
const FLAG_GRANTED = 0x02;
const FLAG_REJECT = 0x01;
const FLAG_OK = 0x01;

/** APPEND ONLY: entry kinds on the wire. */
export const ENTRY_KIND_NUMBERS: Record<EntryKind, number> = { normal: 1, config: 2, noop: 3 };
const ENTRY_KINDS = reverseTable(ENTRY_KIND_NUMBERS);
/** Smallest encoded entry: a term, a kind and an empty data length. */
const ENTRY_BYTES_MIN = 3;

function writeBytes(w: Writer, data: Uint8Array): void {
  w.varint(data.length);
  w.bytes(data);
}

function readBytes(r: Reader, what: string): Uint8Array {
  const length = r.varint(`${what} length`);
  return r.bytes(length, what).slice();
}

function malformed(detail: string): never {
  throw new DecodeFailure('ERR_DECODE_MALFORMED', detail);
}

function writeEntries(w: Writer, entries: readonly Entry[], limits: FieldLimits): void {
  w.count(entries.length, limits.decodeListCountMax);
  for (const e of entries) {
    w.varint(e.term);
    w.u8(ENTRY_KIND_NUMBERS[e.kind]);
    writeBytes(w, e.data);
  }
}

function readEntries(
  r: Reader,
  prevIndex: number,
  prevTerm: number,
  msgTerm: number,
  limits: FieldLimits,
): Entry[] {
  const count = r.count('entries count', ENTRY_BYTES_MIN);
  const entries: Entry[] = [];
  let previous = prevTerm;
  for (let i = 0; i < count; i++) {
    const t = r.varint('entry term');
    if (t < previous || t > msgTerm)
      malformed(`entry ${prevIndex + 1 + i} has term ${t}, outside [${previous}, ${msgTerm}]`);
    const kind = readEnum(r, ENTRY_KINDS, 'entry kind');
    const data = readBytes(r, 'entry data');
    if (kind === 'config') checkConfigurationBytes(data, limits);
    if (kind === 'noop' && data.length > 0) malformed('a no-op entry carries no data');
    entries.push({ index: logIndex(prevIndex + 1 + i), term: term(t), kind, data });
    previous = t;
  }
  return entries;
}

function writeMeta(w: Writer, meta: SnapshotMeta): void {
  w.varint(meta.index);
  w.varint(meta.term);
  writeBytes(w, meta.config);
}

function readMeta(r: Reader, limits: FieldLimits): SnapshotMeta {
  const index = logIndex(r.varint('snapshot index'));
  const t = term(r.varint('snapshot term'));
  const config = readBytes(r, 'snapshot config');
  checkConfigurationBytes(config, limits);
  return { index, term: t, config };
}

function writePayload(w: Writer, m: RaftMessage, limits: FieldLimits): void {
  w.nodeId(m.from);
  writeAddress(w, m.fromAddress);
  w.varint(m.term);
  switch (m.type) {
    case 'raft-vote-request':
      w.varint(m.lastIndex);
      w.varint(m.lastTerm);
      return w.u8((m.preVote ? FLAG_PRE_VOTE : 0) | (m.transfer ? FLAG_TRANSFER : 0));
    case 'raft-vote-response':
      return w.u8((m.preVote ? FLAG_PRE_VOTE : 0) | (m.granted ? FLAG_GRANTED : 0));
    case 'raft-append':
      w.varint(m.prevIndex);
      w.varint(m.prevTerm);
      w.varint(m.commit);
      return writeEntries(w, m.entries, limits);
    case 'raft-append-response':
      w.u8(m.reject ? FLAG_REJECT : 0);
      w.varint(m.index);
      w.varint(m.hintIndex);
      return w.varint(m.hintTerm);
    case 'raft-heartbeat':
      w.varint(m.commit);
      return w.varint(m.readSeq);
    case 'raft-heartbeat-response':
      return w.varint(m.readSeq);
    case 'raft-snapshot':
      writeMeta(w, m.meta);
      w.varint(m.totalBytes);
      w.varint(m.offset);
      return writeBytes(w, m.data);
    case 'raft-snapshot-response':
      w.varint(m.index);
      w.varint(m.offset);
      return w.u8(m.reject ? FLAG_REJECT : 0);
    case 'raft-timeout-now':
      return;
    case 'raft-read-index':
      return w.varint(m.requestId);
    case 'raft-read-index-response':
      w.varint(m.requestId);
      w.varint(m.index);
      return w.u8(m.ok ? FLAG_OK : 0);
    default:
      return assertNever(m, 'raft message type');
  }
}

function readAppend(r: Reader, t: Term, limits: FieldLimits) {
  const prevIndex = logIndex(r.varint('prevIndex'));
  const prevTerm = term(r.varint('prevTerm'));
  if (prevTerm > t) malformed(`prevTerm ${prevTerm} is beyond the message's term ${t}`);
  const commit = logIndex(r.varint('commit'));
  return { prevIndex, prevTerm, commit, entries: readEntries(r, prevIndex, prevTerm, t, limits) };
}

function readSnapshot(r: Reader, limits: FieldLimits) {
  const meta = readMeta(r, limits);
  const totalBytes = r.varint('totalBytes');
  const offset = r.varint('offset');
  const data = readBytes(r, 'snapshot data');
  if (offset + data.length > totalBytes)
    malformed(`chunk ${offset}+${data.length} runs past the snapshot's ${totalBytes} bytes`);
  return { meta, totalBytes, offset, data };
}

function readBody(r: Reader, type: RaftMessage['type'], t: Term, limits: FieldLimits) {
  switch (type) {
    case 'raft-vote-request': {
      const lastIndex = logIndex(r.varint('lastIndex'));
      const lastTerm = term(r.varint('lastTerm'));
      const flags = readFlags(r, FLAG_PRE_VOTE | FLAG_TRANSFER, 'vote-request flags');
      return {
        type,
        lastIndex,
        lastTerm,
        preVote: (flags & FLAG_PRE_VOTE) !== 0,
        transfer: (flags & FLAG_TRANSFER) !== 0,
      };
    }
    case 'raft-vote-response': {
      const flags = readFlags(r, FLAG_PRE_VOTE | FLAG_GRANTED, 'vote-response flags');
      return {
        type,
        preVote: (flags & FLAG_PRE_VOTE) !== 0,
        granted: (flags & FLAG_GRANTED) !== 0,
      };
    }
    case 'raft-append':
      return { type, ...readAppend(r, t, limits) };
    case 'raft-append-response': {
      const reject = (readFlags(r, FLAG_REJECT, 'append-response flags') & FLAG_REJECT) !== 0;
      const index = logIndex(r.varint('index'));
      const hintIndex = logIndex(r.varint('hintIndex'));
      return { type, reject, index, hintIndex, hintTerm: term(r.varint('hintTerm')) };
    }
    case 'raft-heartbeat':
      return { type, commit: logIndex(r.varint('commit')), readSeq: r.varint('readSeq') };
    case 'raft-heartbeat-response':
      return { type, readSeq: r.varint('readSeq') };
    case 'raft-snapshot':
      return { type, ...readSnapshot(r, limits) };
    case 'raft-snapshot-response': {
      const index = logIndex(r.varint('index'));
      const offset = r.varint('offset');
      const reject = (readFlags(r, FLAG_REJECT, 'snapshot-response flags') & FLAG_REJECT) !== 0;
      return { type, index, offset, reject };
    }
    case 'raft-timeout-now':
      return { type };
    case 'raft-read-index':
      return { type, requestId: r.varint('requestId') };
    case 'raft-read-index-response': {
      const requestId = r.varint('requestId');
      const index = logIndex(r.varint('index'));
      const ok = (readFlags(r, FLAG_OK, 'read-index-response flags') & FLAG_OK) !== 0;
      return { type, requestId, index, ok };
    }
    default:
      return assertNever(type, 'raft message type');
  }
}

function readPayload(r: Reader, type: RaftMessage['type'], limits: FieldLimits): RaftMessage {
  const from = r.nodeId('from');
  const fromAddress = readAddress(r, 'fromAddress');
  const t = term(r.varint('term'));
  return { from, fromAddress, term: t, ...readBody(r, type, t, limits) } as RaftMessage;
}

/** The Raft messages as the envelope codec reads and writes them. */
export const RAFT_MESSAGES = compileTable<RaftMessage>({
  numbers: RAFT_TYPE_NUMBERS,
  write: writePayload,
  read: readPayload,
});

export function encodeRaftMessage(m: RaftMessage, clusterId: string): Uint8Array {
  return encodeWith(RAFT_MESSAGES, m, clusterId);
}

/** Decodes one Raft message; never throws (another protocol's message is ERR_DECODE_UNKNOWN_TYPE). */
export function decodeRaftMessage(
  bytes: Uint8Array,
  expect: DecodeExpect,
): DecodeResult<RaftMessage> {
  return decodeWith(RAFT_MESSAGES, bytes, expect);
}

/**
 * The exact encoded size of `m` in bytes, envelope included: the figures of docs/design/raft.md
 * ("Messages and sizes"). An append costs a fixed part plus, per entry, its data and 4 to 10
 * bytes (term, kind, length).
 */
export function raftMessageBytes(m: RaftMessage, clusterId: string): number {
  return encodedBytesWith(RAFT_MESSAGES, m, clusterId);
}
