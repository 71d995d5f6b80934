/**
 * Protobuf encoding of the endpoint's hot responses (watch events, Range, Put, Txn), written with
 * protobufjs's Writer straight from the store's values. The generic path (proto-loader's
 * serializer) turns every response object into a message with `fromObject` first, parsing the
 * 64-bit ids from decimal strings on every call; here:
 * - a response header is encoded once per (member, revision, term) and reused as bytes;
 * - a watch event is encoded once, however many watches deliver it (the registry hands the same
 *   event object to every watcher of its key; one with prev_kv attached is a new object);
 * - a watch response is the header's bytes, the watch's scalar fields and the events' bytes,
 *   concatenated as length-delimited fields (protobuf's encoding of a message is the
 *   concatenation of its fields' encodings).
 * The handlers pass these bytes to gRPC, whose serializer (`serviceMethods` in proto.ts) sends a
 * Uint8Array as it is. Field numbers are etcd 3.4's (proto/rpc.proto, proto/kv.proto);
 * test/etcd/encode.test.ts checks every encoder against proto-loader's own encoding.
 */
import protobuf from 'protobufjs/minimal.js';
import type { KeyValue, KvEvent, OpResult, TxnResult } from '../kv/types.js';
import type { KvHeader } from '../node/kv-service.js';

const { Writer } = protobuf;
type Writer = protobuf.Writer;

/** Tag of field `field` with wire type `wire` (0 varint, 2 length-delimited). */
const tag = (field: number, wire: 0 | 2): number => (field << 3) | wire;

/** A uint64 given as a decimal string, as the Writer takes it (low and high 32 bits). */
interface LongBits {
  low: number;
  high: number;
  unsigned: boolean;
}

const longs = new Map<string, LongBits>();
/** Bound on the decimal ids kept parsed (one cluster id and a few member ids in practice). */
const LONGS_KEPT = 64;

function uint64(decimal: string): LongBits {
  let bits = longs.get(decimal);
  if (bits === undefined) {
    const value = BigInt.asUintN(64, BigInt(decimal));
    bits = {
      low: Number(value & 0xffffffffn) | 0,
      high: Number(value >> 32n) | 0,
      unsigned: true,
    };
    if (longs.size >= LONGS_KEPT) longs.clear();
    longs.set(decimal, bits);
  }
  return bits;
}

/** Bytes of `value` (a non-negative safe integer) as a protobuf varint. */
function varintBytes(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** Writes `value` (a non-negative safe integer) as a varint at `at`; returns the next offset. */
function putVarint(out: Uint8Array, at: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

/** The header's cluster and member id fields, encoded once per pair (one pair per member). */
let idsOf: { clusterId: string; memberId: string; bytes: Uint8Array } | undefined;

function idFields(h: KvHeader): Uint8Array {
  if (idsOf?.clusterId !== h.clusterId || idsOf.memberId !== h.memberId) {
    const w = Writer.create();
    if (h.clusterId !== '0') w.uint32(tag(1, 0)).uint64(uint64(h.clusterId));
    if (h.memberId !== '0') w.uint32(tag(2, 0)).uint64(uint64(h.memberId));
    idsOf = { clusterId: h.clusterId, memberId: h.memberId, bytes: w.finish() };
  }
  return idsOf.bytes;
}

/**
 * etcdserverpb.ResponseHeader: the ids' bytes as encoded before, then revision and raft term
 * written by hand (every put has its own revision, so its header is always new: protobufjs's
 * Writer, an object and a list of operations per call, cost more than the bytes).
 */
export function encodeHeader(h: KvHeader): Uint8Array {
  const ids = idFields(h);
  const revisionBytes = h.revision === 0 ? 0 : 1 + varintBytes(h.revision);
  const termBytes = h.raftTerm === 0 ? 0 : 1 + varintBytes(h.raftTerm);
  const out = new Uint8Array(ids.length + revisionBytes + termBytes);
  out.set(ids, 0);
  let at = ids.length;
  if (h.revision !== 0) {
    out[at++] = tag(3, 0);
    at = putVarint(out, at, h.revision);
  }
  if (h.raftTerm !== 0) {
    out[at++] = tag(4, 0);
    putVarint(out, at, h.raftTerm);
  }
  return out;
}

/** Encodes headers, keeping the last one: consecutive responses mostly share theirs. */
export class HeaderBytes {
  private last: { header: KvHeader; bytes: Uint8Array } | undefined;

  of(h: KvHeader): Uint8Array {
    const last = this.last;
    if (
      last !== undefined &&
      (last.header === h ||
        (last.header.revision === h.revision &&
          last.header.raftTerm === h.raftTerm &&
          last.header.memberId === h.memberId &&
          last.header.clusterId === h.clusterId))
    )
      return last.bytes;
    const bytes = encodeHeader(h);
    this.last = { header: h, bytes };
    return bytes;
  }
}

function writeKv(w: Writer, kv: KeyValue): Writer {
  if (kv.key.length > 0) w.uint32(tag(1, 2)).bytes(kv.key);
  if (kv.createRevision !== 0) w.uint32(tag(2, 0)).int64(kv.createRevision);
  if (kv.modRevision !== 0) w.uint32(tag(3, 0)).int64(kv.modRevision);
  if (kv.version !== 0) w.uint32(tag(4, 0)).int64(kv.version);
  if (kv.value.length > 0) w.uint32(tag(5, 2)).bytes(kv.value);
  const lease = kv.lease ?? 0;
  if (lease !== 0) w.uint32(tag(6, 0)).int64(lease);
  return w;
}

/** mvccpb.KeyValue. */
export function encodeKv(kv: KeyValue): Uint8Array {
  return writeKv(Writer.create(), kv).finish();
}

const events = new WeakMap<KvEvent, Uint8Array>();

/** mvccpb.Event, encoded once per event object. */
export function encodeEvent(event: KvEvent): Uint8Array {
  let bytes = events.get(event);
  if (bytes === undefined) {
    const w = Writer.create();
    if (event.type === 'delete') w.uint32(tag(1, 0)).int32(1);
    w.uint32(tag(2, 2)).fork();
    writeKv(w, event.kv).ldelim();
    if (event.prevKv !== undefined) {
      w.uint32(tag(3, 2)).fork();
      writeKv(w, event.prevKv).ldelim();
    }
    bytes = w.finish();
    events.set(event, bytes);
  }
  return bytes;
}

/** A WatchResponse carrying events (`fragment` set on all but the last part of a split batch). */
export function encodeWatchEvents(
  header: Uint8Array,
  watchId: number,
  encodedEvents: readonly Uint8Array[],
  fragment: boolean,
): Uint8Array {
  const w = Writer.create();
  w.uint32(tag(1, 2)).bytes(header);
  if (watchId !== 0) w.uint32(tag(2, 0)).int64(watchId);
  if (fragment) w.uint32(tag(7, 0)).bool(true);
  for (const event of encodedEvents) w.uint32(tag(11, 2)).bytes(event);
  return w.finish();
}

/** A RangeResponse. */
export function encodeRange(
  header: Uint8Array,
  kvs: readonly KeyValue[],
  more: boolean,
  count: number,
): Uint8Array {
  const w = Writer.create();
  w.uint32(tag(1, 2)).bytes(header);
  writeRangeFields(w, kvs, more, count);
  return w.finish();
}

/** A PutResponse. */
export function encodePut(header: Uint8Array, prevKv: KeyValue | undefined): Uint8Array {
  if (prevKv === undefined) {
    // The usual answer, by hand: the header field's tag, length and bytes.
    const out = new Uint8Array(1 + varintBytes(header.length) + header.length);
    out[0] = tag(1, 2);
    out.set(header, putVarint(out, 1, header.length));
    return out;
  }
  const w = Writer.create();
  w.uint32(tag(1, 2)).bytes(header);
  if (prevKv !== undefined) {
    w.uint32(tag(2, 2)).fork();
    writeKv(w, prevKv).ldelim();
  }
  return w.finish();
}

/** The RangeResponse fields after the header. */
function writeRangeFields(w: Writer, kvs: readonly KeyValue[], more: boolean, count: number): void {
  for (const kv of kvs) {
    w.uint32(tag(2, 2)).fork();
    writeKv(w, kv).ldelim();
  }
  if (more) w.uint32(tag(3, 0)).bool(true);
  if (count !== 0) w.uint32(tag(4, 0)).int64(count);
}

/**
 * One ResponseOp of a txn: its oneof member (field 1-4 by kind), whose header carries the
 * revision only, as etcd's nested responses do (convert.ts `nestedHeader`); the header is
 * written even when empty, as proto-loader writes the `{ revision }` object it is given.
 */
function writeResponseOp(w: Writer, r: OpResult): void {
  const field = r.kind === 'range' ? 1 : r.kind === 'put' ? 2 : r.kind === 'delete-range' ? 3 : 4;
  w.uint32(tag(field, 2)).fork();
  w.uint32(tag(1, 2)).fork();
  if (r.revision !== 0) w.uint32(tag(3, 0)).int64(r.revision);
  w.ldelim();
  switch (r.kind) {
    case 'range':
      writeRangeFields(w, r.kvs, r.more, r.count);
      break;
    case 'put':
      if (r.prevKv !== undefined) {
        w.uint32(tag(2, 2)).fork();
        writeKv(w, r.prevKv).ldelim();
      }
      break;
    case 'delete-range':
      if (r.deleted !== 0) w.uint32(tag(2, 0)).int64(r.deleted);
      for (const kv of r.prevKvs ?? []) {
        w.uint32(tag(3, 2)).fork();
        writeKv(w, kv).ldelim();
      }
      break;
    case 'txn':
      writeTxnFields(w, r);
      break;
  }
  w.ldelim();
}

/** The TxnResponse fields after the header. */
function writeTxnFields(w: Writer, r: TxnResult): void {
  if (r.succeeded) w.uint32(tag(2, 0)).bool(true);
  for (const op of r.results) {
    w.uint32(tag(3, 2)).fork();
    writeResponseOp(w, op);
    w.ldelim();
  }
}

/** A TxnResponse. */
export function encodeTxn(header: Uint8Array, r: TxnResult): Uint8Array {
  const w = Writer.create();
  w.uint32(tag(1, 2)).bytes(header);
  writeTxnFields(w, r);
  return w.finish();
}
