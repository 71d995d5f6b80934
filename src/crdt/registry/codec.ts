/**
 * The data plane's messages on the wire (docs/design/wire.md, types 40-43; docs/design/data-plane.md,
 * "Wire"), written with src/codec/bytes.ts primitives in the shared envelope. The data plane takes
 * its own numbers from 40 up (41-49 left for it) so that membership (1-7, 16), the election
 * protocols (8-14) and Raft never collide with it, and a port that multiplexes the data plane
 * with membership can combine the tables (`combineTables` refuses a shared number).
 *
 * Canonical: lists of rows, removals and tags are strictly increasing, so accepted bytes
 * re-encode to the same bytes. Every row is checked against `rowBytesMax`, every string against
 * `fieldBytesMax` and every list against its named limit before the next field is read.
 *
 * `encodeDeltaPayload` / `decodeDeltaPayload` are the standalone delta encoding (no envelope) for
 * a carrier that piggybacks deltas on another protocol's packets, bounded by the caller's bytes.
 */
import { assertNever } from '../../base/assert.js';
import {
  DecodeFailure,
  Reader,
  readEnum,
  varintBytes,
  readFlags,
  reverseTable,
  Writer,
  type FieldLimits,
} from '../../codec/bytes.js';
import { LIMITS } from '../../base/limits.js';
import {
  compileTable,
  decodeWith,
  encodedBytesWith,
  encodeWith,
  type CompiledTable,
  type DecodeResult,
} from '../../codec/codec.js';
import type { NodeId } from '../../identity/node-id.js';
import { SIGNATURE_BYTES, type Signature } from '../../identity/signed.js';
import { assert } from '../../base/assert.js';
import { HLC_LOGICAL_MAX, type Hlc } from '../hlc.js';
import { registryConfig, type RegistryConfig } from './config.js';
import type {
  Delta,
  Partition,
  ProcessValue,
  RegistryMessage,
  Removal,
  Row,
  ServiceValue,
  SummaryEntry,
  TableName,
  Tombstone,
} from './types.js';
import { rowId } from './types.js';

// APPEND ONLY: message type numbers are on the wire, one space shared with the other protocols.
export const REGISTRY_TYPE_NUMBERS = {
  'data-gossip': 40,
  'data-digest': 41,
  'data-summary': 42,
  'data-state': 43,
} as const satisfies Record<RegistryMessage['type'], number>;

// APPEND ONLY: table numbers are on the wire.
export const TABLE_NUMBERS = { service: 1, process: 2 } as const satisfies Record<
  TableName,
  number
>;
const TABLE_NAMES = reverseTable<TableName>(TABLE_NUMBERS);

/** A process's load is sent in millionths, a varint. */
export const LOAD_SCALE = 1_000_000;
/** Largest service weight (a 32-bit share keeps weighted picks exact). */
export const SERVICE_WEIGHT_MAX = 0xffff_ffff;
/** Largest process load: its millionths stay exact through a float round trip (canonical). */
export const PROCESS_LOAD_MAX = 1e9;

function readBounded(r: Reader, what: string, max: number): number {
  const value = r.varint(what);
  if (value > max)
    throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what} ${value} exceeds ${max}`);
  return value;
}

const FLAG_REPLY = 0x01;
const FLAG_PARTIAL = 0x01;
const DIGEST_BYTES = 8;
const ID_BYTES = 16;
/** Smallest row: table, empty key, seq, stamp (2), and an empty process (4 fields) or service. */
const ROW_BYTES_MIN = 7;
const REMOVAL_BYTES_MIN = 3;
const DELTA_BYTES_MIN = ID_BYTES + SIGNATURE_BYTES + 6;
const PARTITION_BYTES_MIN = ID_BYTES + SIGNATURE_BYTES + 5;
const TOMBSTONE_BYTES_MIN = ID_BYTES + 3;
const SUMMARY_BYTES_MIN = ID_BYTES + 3;

/** The registry limits both encoder (asserted) and decoder (refused) enforce. */
export type RegistryWireLimits = Pick<
  RegistryConfig,
  'fieldBytesMax' | 'listItemsMax' | 'rowBytesMax' | 'rowsPerNodeMax'
>;

function writeHlc(w: Writer, t: Hlc): void {
  w.varint(t.wallMs);
  w.varint(t.logical);
}

function readHlc(r: Reader, what: string): Hlc {
  const wallMs = r.varint(`${what} wallMs`);
  const logical = r.varint(`${what} logical`);
  if (logical > HLC_LOGICAL_MAX)
    throw new DecodeFailure(
      'ERR_DECODE_MALFORMED',
      `${what}: logical ${logical} > ${HLC_LOGICAL_MAX}`,
    );
  return { wallMs, logical };
}

function writeStrings(w: Writer, items: readonly string[], limits: RegistryWireLimits): void {
  w.count(items.length, limits.listItemsMax);
  for (const item of items) w.string(item, limits.fieldBytesMax);
}

/** A strictly increasing list of strings (a set, canonical). */
function readStrings(r: Reader, limits: RegistryWireLimits, what: string): string[] {
  const count = r.count(`${what} count`, 1);
  if (count > limits.listItemsMax)
    throw new DecodeFailure(
      'ERR_DECODE_OVERSIZED',
      `${what}: ${count} items exceed ${limits.listItemsMax}`,
    );
  const items: string[] = [];
  for (let i = 0; i < count; i++) {
    const item = r.string(what, limits.fieldBytesMax);
    if (i > 0 && !((items[i - 1] as string) < item))
      throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: not strictly increasing`);
    items.push(item);
  }
  return items;
}

export function writeRow(w: Writer, row: Row, limits: RegistryWireLimits): void {
  w.u8(TABLE_NUMBERS[row.table]);
  w.string(row.key, limits.fieldBytesMax);
  w.varint(row.seq);
  writeHlc(w, row.stamp);
  switch (row.table) {
    case 'service':
      w.string(row.value.address, limits.fieldBytesMax);
      writeStrings(w, row.value.tags, limits);
      return w.varint(row.value.weight);
    case 'process':
      w.string(row.value.type, limits.fieldBytesMax);
      writeStrings(w, row.value.capabilities, limits);
      w.string(row.value.status, limits.fieldBytesMax);
      return w.varint(Math.round(row.value.load * LOAD_SCALE));
    default:
      assertNever(row, 'row table');
  }
}

function readRow(r: Reader, limits: RegistryWireLimits): Row {
  const start = r.offset;
  const table = readEnum(r, TABLE_NAMES, 'row table');
  const key = r.string('row key', limits.fieldBytesMax);
  const seq = r.varint('row seq');
  const stamp = readHlc(r, 'row stamp');
  let row: Row;
  if (table === 'service') {
    const address = r.string('service address', limits.fieldBytesMax);
    const tags = readStrings(r, limits, 'service tags');
    const weight = readBounded(r, 'service weight', SERVICE_WEIGHT_MAX);
    const value: ServiceValue = { address, tags, weight };
    row = { table, key, seq, stamp, value };
  } else {
    const type = r.string('process type', limits.fieldBytesMax);
    const capabilities = readStrings(r, limits, 'process capabilities');
    const status = r.string('process status', limits.fieldBytesMax);
    const value: ProcessValue = {
      type,
      capabilities,
      status,
      load: readBounded(r, 'process load', PROCESS_LOAD_MAX * LOAD_SCALE) / LOAD_SCALE,
    };
    row = { table, key, seq, stamp, value };
  }
  if (r.offset - start > limits.rowBytesMax)
    throw new DecodeFailure(
      'ERR_DECODE_OVERSIZED',
      `row ${JSON.stringify(key)}: ${r.offset - start} bytes exceed rowBytesMax ${limits.rowBytesMax}`,
    );
  return row;
}

/** Rows or removals strictly increasing by (table, key): canonical, and no row twice. */
function checkOrder(ids: readonly string[], what: string): void {
  for (let i = 1; i < ids.length; i++)
    if (!((ids[i - 1] as string) < (ids[i] as string)))
      throw new DecodeFailure(
        'ERR_DECODE_MALFORMED',
        `${what}: not strictly increasing by (table, key)`,
      );
}

function readRows(r: Reader, limits: RegistryWireLimits, what: string): Row[] {
  const count = r.count(`${what} count`, ROW_BYTES_MIN);
  if (count > limits.rowsPerNodeMax)
    throw new DecodeFailure(
      'ERR_DECODE_OVERSIZED',
      `${what}: ${count} rows exceed rowsPerNodeMax ${limits.rowsPerNodeMax}`,
    );
  const rows: Row[] = [];
  for (let i = 0; i < count; i++) rows.push(readRow(r, limits));
  checkOrder(
    rows.map((row) => rowId(row.table, row.key)),
    what,
  );
  return rows;
}

const byRowId = (
  a: { table: TableName; key: string },
  b: { table: TableName; key: string },
): number => {
  const x = rowId(a.table, a.key);
  const y = rowId(b.table, b.key);
  return x < y ? -1 : x > y ? 1 : 0;
};

export function writeDelta(w: Writer, delta: Delta, limits: RegistryWireLimits): void {
  w.nodeId(delta.owner);
  writeHlc(w, delta.epoch);
  w.varint(delta.fromSeq);
  w.varint(delta.toSeq);
  w.hex(delta.signature, SIGNATURE_BYTES);
  w.count(delta.upserts.length, limits.rowsPerNodeMax);
  for (const row of [...delta.upserts].sort(byRowId)) writeRow(w, row, limits);
  w.count(delta.removals.length, limits.rowsPerNodeMax);
  for (const removal of [...delta.removals].sort(byRowId)) {
    w.u8(TABLE_NUMBERS[removal.table]);
    w.string(removal.key, limits.fieldBytesMax);
    w.varint(removal.seq);
  }
}

function readDelta(r: Reader, limits: RegistryWireLimits): Delta {
  const owner = r.nodeId('delta owner');
  const epoch = readHlc(r, 'delta epoch');
  const fromSeq = r.varint('delta fromSeq');
  const toSeq = r.varint('delta toSeq');
  if (toSeq <= fromSeq)
    throw new DecodeFailure('ERR_DECODE_MALFORMED', `delta (${fromSeq}, ${toSeq}] is empty`);
  const signature = r.hex(SIGNATURE_BYTES, 'delta signature') as Signature;
  const upserts = readRows(r, limits, 'delta upserts');
  const count = r.count('delta removals count', REMOVAL_BYTES_MIN);
  if (count > limits.rowsPerNodeMax)
    throw new DecodeFailure(
      'ERR_DECODE_OVERSIZED',
      `delta removals: ${count} exceed rowsPerNodeMax`,
    );
  const removals: Removal[] = [];
  for (let i = 0; i < count; i++) {
    const table = readEnum(r, TABLE_NAMES, 'removal table');
    removals.push({
      table,
      key: r.string('removal key', limits.fieldBytesMax),
      seq: r.varint('removal seq'),
    });
  }
  checkOrder(
    removals.map((x) => rowId(x.table, x.key)),
    'delta removals',
  );
  const ids = new Set(upserts.map((row) => rowId(row.table, row.key)));
  for (const x of [...upserts, ...removals]) {
    if (x.seq <= fromSeq || x.seq > toSeq)
      throw new DecodeFailure(
        'ERR_DECODE_MALFORMED',
        `delta write at seq ${x.seq} outside (${fromSeq}, ${toSeq}]`,
      );
  }
  if (removals.some((x) => ids.has(rowId(x.table, x.key))))
    throw new DecodeFailure('ERR_DECODE_MALFORMED', 'delta both writes and removes one row');
  return { owner, epoch, fromSeq, toSeq, upserts, removals, signature };
}

export function writePartition(w: Writer, p: Partition, limits: RegistryWireLimits): void {
  assert(p.signature !== undefined, `partition of ${p.owner} sent unsigned`);
  w.nodeId(p.owner);
  writeHlc(w, p.epoch);
  w.varint(p.seq);
  w.hex(p.signature, SIGNATURE_BYTES);
  w.count(p.rows.size, limits.rowsPerNodeMax);
  for (const row of [...p.rows.values()].sort(byRowId)) writeRow(w, row, limits);
}

function readPartition(r: Reader, limits: RegistryWireLimits): Partition {
  const owner = r.nodeId('partition owner');
  const epoch = readHlc(r, 'partition epoch');
  const seq = r.varint('partition seq');
  const signature = r.hex(SIGNATURE_BYTES, 'partition signature') as Signature;
  const rows = readRows(r, limits, 'partition rows');
  if (rows.some((row) => row.seq > seq))
    throw new DecodeFailure('ERR_DECODE_MALFORMED', `partition row written after its seq ${seq}`);
  return {
    owner,
    epoch,
    seq,
    signature,
    rows: new Map(rows.map((row) => [rowId(row.table, row.key), row])),
  };
}

function writeDigest(w: Writer, digest: string): void {
  for (let i = 0; i < DIGEST_BYTES; i++) w.u8(Number.parseInt(digest.slice(2 * i, 2 * i + 2), 16));
}

function readDigest(r: Reader): string {
  let out = '';
  for (const b of r.bytes(DIGEST_BYTES, 'digest')) out += b.toString(16).padStart(2, '0');
  return out;
}

function writeIds(w: Writer, ids: readonly NodeId[], limits: FieldLimits): void {
  w.count(ids.length, limits.decodeListCountMax);
  for (const id of ids) w.nodeId(id);
}

function readIds(r: Reader, what: string): NodeId[] {
  const count = r.count(what, ID_BYTES);
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i++) ids.push(r.nodeId(what));
  return ids;
}

function writeSummaryEntry(w: Writer, e: SummaryEntry): void {
  w.nodeId(e.owner);
  writeHlc(w, e.epoch);
  w.varint(e.seq);
}

function readSummaryEntry(r: Reader): SummaryEntry {
  const owner = r.nodeId('summary owner');
  return { owner, epoch: readHlc(r, 'summary epoch'), seq: r.varint('summary seq') };
}

function writeTombstone(w: Writer, t: Tombstone): void {
  w.nodeId(t.owner);
  writeHlc(w, t.epoch);
  w.varint(t.seq);
}

function readTombstone(r: Reader): Tombstone {
  return {
    owner: r.nodeId('tombstone owner'),
    epoch: readHlc(r, 'tombstone epoch'),
    seq: r.varint('tombstone seq'),
  };
}

function writeList<T>(
  w: Writer,
  items: readonly T[],
  write: (item: T) => void,
  limits: FieldLimits,
): void {
  w.count(items.length, limits.decodeListCountMax);
  for (const item of items) write(item);
}

function readList<T>(r: Reader, what: string, bytesMin: number, read: () => T): T[] {
  const count = r.count(what, bytesMin);
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(read());
  return out;
}

function writeMessage(
  w: Writer,
  msg: RegistryMessage,
  limits: FieldLimits,
  wire: RegistryWireLimits,
): void {
  w.nodeId(msg.from);
  switch (msg.type) {
    case 'data-gossip':
      return writeList(w, msg.deltas, (d) => writeDelta(w, d, wire), limits);
    case 'data-digest':
      w.u8(msg.reply ? FLAG_REPLY : 0);
      return writeDigest(w, msg.digest);
    case 'data-summary':
      w.u8(msg.partial ? FLAG_PARTIAL : 0);
      return writeList(w, msg.entries, (e) => writeSummaryEntry(w, e), limits);
    case 'data-state':
      w.u8(msg.reply ? FLAG_REPLY : 0);
      writeList(w, msg.partitions, (p) => writePartition(w, p, wire), limits);
      writeList(w, msg.tombstones, (t) => writeTombstone(w, t), limits);
      return writeIds(w, msg.want, limits);
    default:
      assertNever(msg, 'registry message');
  }
}

function readMessage(
  r: Reader,
  type: RegistryMessage['type'],
  wire: RegistryWireLimits,
): RegistryMessage {
  const from = r.nodeId('from');
  switch (type) {
    case 'data-gossip':
      return {
        type,
        from,
        deltas: readList(r, 'deltas', DELTA_BYTES_MIN, () => readDelta(r, wire)),
      };
    case 'data-digest': {
      const reply = (readFlags(r, FLAG_REPLY, 'digest flags') & FLAG_REPLY) !== 0;
      return { type, from, reply, digest: readDigest(r) };
    }
    case 'data-summary': {
      const partial = (readFlags(r, FLAG_PARTIAL, 'summary flags') & FLAG_PARTIAL) !== 0;
      return {
        type,
        from,
        partial,
        entries: readList(r, 'summary', SUMMARY_BYTES_MIN, () => readSummaryEntry(r)),
      };
    }
    case 'data-state': {
      const reply = (readFlags(r, FLAG_REPLY, 'state flags') & FLAG_REPLY) !== 0;
      const partitions = readList(r, 'partitions', PARTITION_BYTES_MIN, () =>
        readPartition(r, wire),
      );
      const tombstones = readList(r, 'tombstones', TOMBSTONE_BYTES_MIN, () => readTombstone(r));
      return { type, from, reply, partitions, tombstones, want: readIds(r, 'want') };
    }
    default:
      return assertNever(type, 'registry message type');
  }
}

/** The registry's message table for one set of limits (the receiver's config). */
export function registryMessages(wire: RegistryWireLimits): CompiledTable<RegistryMessage> {
  return compileTable<RegistryMessage>({
    numbers: REGISTRY_TYPE_NUMBERS,
    write: (w, msg, limits) => writeMessage(w, msg, limits, wire),
    read: (r, type) => readMessage(r, type, wire),
  });
}

/** The table with the default (LAN) limits: what the combined test table and the fuzzer use. */
export const REGISTRY_MESSAGES = registryMessages(registryConfig());

export function encodeRegistryMessage(
  table: CompiledTable<RegistryMessage>,
  msg: RegistryMessage,
  clusterId: string,
): Uint8Array {
  return encodeWith(table, msg, clusterId);
}

export function decodeRegistryMessage(
  table: CompiledTable<RegistryMessage>,
  bytes: Uint8Array,
  clusterId: string,
): DecodeResult<RegistryMessage> {
  return decodeWith(table, bytes, { clusterId });
}

/** The whole message's encoded size (a gossip packet must fit LIMITS.packetBytesMax). */
export function registryMessageBytes(
  table: CompiledTable<RegistryMessage>,
  msg: RegistryMessage,
  clusterId: string,
): number {
  return encodedBytesWith(table, msg, clusterId);
}

const sizer = new Writer(2048);

/** One delta's encoded bytes (its share of a gossip packet). */
export function deltaBytes(delta: Delta, wire: RegistryWireLimits): number {
  sizer.reset();
  writeDelta(sizer, delta, wire);
  return sizer.length;
}

/** One row's encoded bytes (checked against rowBytesMax before a local write is accepted). */
export function rowBytes(row: Row, wire: RegistryWireLimits): number {
  sizer.reset();
  writeRow(sizer, row, wire);
  return sizer.length;
}

/** One partition's encoded bytes (a data-state's budget). */
export function partitionBytes(p: Partition, wire: RegistryWireLimits): number {
  sizer.reset();
  writePartition(sizer, p, wire);
  return sizer.length;
}

/**
 * The standalone delta payload for a carrier (membership gossip): a count and the deltas, taking
 * deltas in order while the payload stays within `bytesMax`. Returns the bytes and how many fit.
 */
export function encodeDeltaPayload(
  deltas: readonly Delta[],
  bytesMax: number,
  wire: RegistryWireLimits,
): { bytes: Uint8Array; count: number } {
  let count = 0;
  let body = 0;
  for (const delta of deltas) {
    const size = deltaBytes(delta, wire);
    if (varintBytes(count + 1) + body + size > bytesMax) break;
    body += size;
    count++;
  }
  const w = new Writer(body + 8);
  w.varint(count);
  for (let i = 0; i < count; i++) writeDelta(w, deltas[i] as Delta, wire);
  return { bytes: w.finish(), count };
}

/** Decodes a delta payload; never throws: bad bytes are an ERR_DECODE_* result. */
export function decodeDeltaPayload(
  bytes: Uint8Array,
  wire: RegistryWireLimits,
): { ok: true; deltas: Delta[] } | { ok: false; code: string; detail: string } {
  if (bytes.length > LIMITS.decodeMessageBytesMax)
    return { ok: false, code: 'ERR_DECODE_OVERSIZED', detail: `payload of ${bytes.length} bytes` };
  const r = new Reader(bytes, LIMITS);
  try {
    const deltas = readList(r, 'deltas', DELTA_BYTES_MIN, () => readDelta(r, wire));
    r.end();
    return { ok: true, deltas };
  } catch (err) {
    if (err instanceof DecodeFailure) return { ok: false, code: err.code, detail: err.detail };
    throw err;
  }
}
