/**
 * Hand decoding of the endpoint's hottest requests (RangeRequest, PutRequest, TxnRequest,
 * DeleteRangeRequest, WatchRequest), beside
 * proto-loader's generic path, which builds a protobufjs message and then turns it into a plain
 * object with every int64 as a decimal string (the handlers parse it back). Here the fields are
 * read straight into the wire shapes proto.ts declares, int64s as numbers.
 *
 * Only the common form is decoded: known fields with their declared wire types, int64s that are
 * safe non-negative integers, enums with a known value. Anything else (a negative or huge
 * int64, a bool varint other than 0 or 1, an unknown enum value, a truncated or otherwise malformed message) answers undefined,
 * and the caller decodes the message with proto-loader, whose answer (or refusal, and its
 * reason) is then exactly what it was before. An unknown field is left to the generic path too
 * (a newer client's field; protobufjs's reading of odd tags is its own).
 * A TxnRequest is decoded when its compares and its then/else ops are in that form: a compare on
 * value, version, create or mod revision or lease, ops of range, put and delete-range. A nested
 * txn, an op or a compare naming its oneof twice (protobufjs keeps the last; merging is not
 * needed here), or a message field with another wire type are left to the generic path.
 * A WatchRequest is decoded with its create (filters packed or not), cancel or progress request;
 * one naming its oneof twice is left to the generic path.
 * Field numbers are etcd 3.4's (proto/rpc.proto); test/etcd/decode.test.ts checks both against
 * proto-loader on random and edge-case messages.
 */
import type {
  WireCompare,
  WireDeleteRangeRequest,
  WirePutRequest,
  WireRangeRequest,
  WireRequestOp,
  WireTxnRequest,
  WireWatchCreateRequest,
  WireWatchRequest,
} from './proto.js';

/** A cursor over one message's bytes; every read answers undefined past the end. */
class Cursor {
  at = 0;
  constructor(readonly buf: Buffer) {}

  /** A varint as a number when it is a safe non-negative integer; else undefined. */
  varint(): number | undefined {
    const buf = this.buf;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= buf.length) return undefined;
      const byte = buf[this.at++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return Number.isSafeInteger(value) ? value : undefined;
      scale *= 128;
    }
    return undefined;
  }

  /**
   * The bytes of a length-delimited field: a view of the message (whose buffer is its own,
   * h2-server.ts, so a key or value the store keeps holds no more than its message).
   */
  bytes(): Buffer | undefined {
    const length = this.varint();
    if (length === undefined || this.at + length > this.buf.length) return undefined;
    const out = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }
}

const EMPTY = Buffer.alloc(0);
const SORT_ORDER_NAMES = ['NONE', 'ASCEND', 'DESCEND'];
const SORT_TARGET_NAMES = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'];

type Int64Field = 'limit' | 'revision' | `${'min' | 'max'}_${'mod' | 'create'}_revision`;
const RANGE_INT64: Record<number, Int64Field> = {
  3: 'limit',
  4: 'revision',
  10: 'min_mod_revision',
  11: 'max_mod_revision',
  12: 'min_create_revision',
  13: 'max_create_revision',
};
const RANGE_BOOL: Record<number, 'serializable' | 'keys_only' | 'count_only'> = {
  7: 'serializable',
  8: 'keys_only',
  9: 'count_only',
};

/** etcdserverpb.RangeRequest in its common form; undefined: decode it with proto-loader. */
export function decodeRangeRequest(buf: Buffer): WireRangeRequest | undefined {
  const r: WireRangeRequest = {
    key: EMPTY,
    range_end: EMPTY,
    limit: 0,
    revision: 0,
    sort_order: 'NONE',
    sort_target: 'KEY',
    serializable: false,
    keys_only: false,
    count_only: false,
    min_mod_revision: 0,
    max_mod_revision: 0,
    min_create_revision: 0,
    max_create_revision: 0,
  };
  const c = new Cursor(buf);
  while (c.at < buf.length) {
    const tag = c.varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 || field === 2) {
      if (wire !== 2) return undefined;
      const bytes = c.bytes();
      if (bytes === undefined) return undefined;
      if (field === 1) r.key = bytes;
      else r.range_end = bytes;
      continue;
    }
    const int64 = RANGE_INT64[field];
    const bool = RANGE_BOOL[field];
    if (int64 !== undefined || bool !== undefined || field === 5 || field === 6) {
      if (wire !== 0) return undefined;
      const value = c.varint();
      if (value === undefined) return undefined;
      if (int64 !== undefined) r[int64] = value;
      else if (bool !== undefined) {
        if (value > 1) return undefined;
        r[bool] = value === 1;
      } else {
        const name = (field === 5 ? SORT_ORDER_NAMES : SORT_TARGET_NAMES)[value];
        if (name === undefined) return undefined;
        if (field === 5) r.sort_order = name;
        else r.sort_target = name;
      }
      continue;
    }
    return undefined;
  }
  return r;
}

/** etcdserverpb.PutRequest in its common form; undefined: decode it with proto-loader. */
export function decodePutRequest(buf: Buffer): WirePutRequest | undefined {
  const r: WirePutRequest = {
    key: EMPTY,
    value: EMPTY,
    lease: 0,
    prev_kv: false,
    ignore_value: false,
    ignore_lease: false,
  };
  const c = new Cursor(buf);
  while (c.at < buf.length) {
    const tag = c.varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 || field === 2) {
      if (wire !== 2) return undefined;
      const bytes = c.bytes();
      if (bytes === undefined) return undefined;
      if (field === 1) r.key = bytes;
      else r.value = bytes;
      continue;
    }
    if (field >= 3 && field <= 6) {
      if (wire !== 0) return undefined;
      const value = c.varint();
      if (value === undefined) return undefined;
      if (field === 3) r.lease = value;
      else if (value > 1) return undefined;
      else if (field === 4) r.prev_kv = value === 1;
      else if (field === 5) r.ignore_value = value === 1;
      else r.ignore_lease = value === 1;
      continue;
    }
    return undefined;
  }
  return r;
}

/** etcdserverpb.DeleteRangeRequest in its common form; undefined: decode it with proto-loader. */
export function decodeDeleteRangeRequest(buf: Buffer): WireDeleteRangeRequest | undefined {
  const r: WireDeleteRangeRequest = { key: EMPTY, range_end: EMPTY, prev_kv: false };
  const c = new Cursor(buf);
  while (c.at < buf.length) {
    const tag = c.varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 || field === 2) {
      if (wire !== 2) return undefined;
      const bytes = c.bytes();
      if (bytes === undefined) return undefined;
      if (field === 1) r.key = bytes;
      else r.range_end = bytes;
      continue;
    }
    if (field === 3) {
      if (wire !== 0) return undefined;
      const value = c.varint();
      if (value === undefined || value > 1) return undefined;
      r.prev_kv = value === 1;
      continue;
    }
    return undefined;
  }
  return r;
}

const COMPARE_RESULT_NAMES = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];
const COMPARE_TARGET_NAMES = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'];
type CompareInt64 = 'version' | 'create_revision' | 'mod_revision' | 'lease';
const COMPARE_INT64: Record<number, CompareInt64> = {
  4: 'version',
  5: 'create_revision',
  6: 'mod_revision',
  8: 'lease',
};

/** etcdserverpb.Compare in its common form. */
function decodeCompare(buf: Buffer): WireCompare | undefined {
  const r: WireCompare = { result: 'EQUAL', target: 'VERSION', key: EMPTY, range_end: EMPTY };
  const c = new Cursor(buf);
  while (c.at < buf.length) {
    const tag = c.varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 3 || field === 7 || field === 64) {
      if (wire !== 2) return undefined;
      const bytes = c.bytes();
      if (bytes === undefined) return undefined;
      if (field === 3) r.key = bytes;
      else if (field === 64) r.range_end = bytes;
      else {
        if (r.target_union !== undefined) return undefined;
        r.target_union = 'value';
        r.value = bytes;
      }
      continue;
    }
    const int64 = COMPARE_INT64[field];
    if (int64 !== undefined || field === 1 || field === 2) {
      if (wire !== 0) return undefined;
      const value = c.varint();
      if (value === undefined) return undefined;
      if (int64 !== undefined) {
        if (r.target_union !== undefined) return undefined;
        r.target_union = int64;
        r[int64] = value;
      } else {
        const name = (field === 1 ? COMPARE_RESULT_NAMES : COMPARE_TARGET_NAMES)[value];
        if (name === undefined) return undefined;
        if (field === 1) r.result = name;
        else r.target = name;
      }
      continue;
    }
    return undefined;
  }
  return r;
}

/** etcdserverpb.RequestOp holding a range, a put or a delete-range (or nothing). */
function decodeRequestOp(buf: Buffer): WireRequestOp | undefined {
  const c = new Cursor(buf);
  const tag = c.varint();
  if (tag === undefined) return buf.length === 0 ? {} : undefined;
  if ((tag & 7) !== 2 || tag > 0x7f) return undefined;
  const bytes = c.bytes();
  if (bytes === undefined || c.at !== buf.length) return undefined;
  switch (tag >> 3) {
    case 1: {
      const request_range = decodeRangeRequest(bytes);
      return request_range && { request: 'request_range', request_range };
    }
    case 2: {
      const request_put = decodePutRequest(bytes);
      return request_put && { request: 'request_put', request_put };
    }
    case 3: {
      const request_delete_range = decodeDeleteRangeRequest(bytes);
      return request_delete_range && { request: 'request_delete_range', request_delete_range };
    }
  }
  return undefined;
}

/** etcdserverpb.TxnRequest in its common form; undefined: decode it with proto-loader. */
export function decodeTxnRequest(buf: Buffer): WireTxnRequest | undefined {
  const r: WireTxnRequest = { compare: [], success: [], failure: [] };
  const c = new Cursor(buf);
  while (c.at < buf.length) {
    const tag = c.varint();
    if (tag === undefined) return undefined;
    const field = tag >> 3;
    if ((tag & 7) !== 2 || field < 1 || field > 3 || tag > 0x7f) return undefined;
    const bytes = c.bytes();
    if (bytes === undefined) return undefined;
    if (field === 1) {
      const compare = decodeCompare(bytes);
      if (compare === undefined) return undefined;
      r.compare.push(compare);
    } else {
      const op = decodeRequestOp(bytes);
      if (op === undefined) return undefined;
      (field === 2 ? r.success : r.failure).push(op);
    }
  }
  return r;
}

const FILTER_NAMES = ['NOPUT', 'NODELETE'];

/** etcdserverpb.WatchCreateRequest in its common form. */
function decodeWatchCreate(buf: Buffer): WireWatchCreateRequest | undefined {
  const r: WireWatchCreateRequest = {
    key: EMPTY,
    range_end: EMPTY,
    start_revision: 0,
    progress_notify: false,
    filters: [],
    prev_kv: false,
    watch_id: 0,
    fragment: false,
  };
  const c = new Cursor(buf);
  while (c.at < buf.length) {
    const tag = c.varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 || field === 2) {
      if (wire !== 2) return undefined;
      const bytes = c.bytes();
      if (bytes === undefined) return undefined;
      if (field === 1) r.key = bytes;
      else r.range_end = bytes;
      continue;
    }
    if (field === 5 && wire === 2) {
      // Packed filters (proto3's encoding of a repeated enum).
      const packed = c.bytes();
      if (packed === undefined) return undefined;
      const inner = new Cursor(packed);
      while (inner.at < packed.length) {
        const name = FILTER_NAMES[inner.varint() ?? -1];
        if (name === undefined) return undefined;
        r.filters.push(name);
      }
      continue;
    }
    if (field >= 3 && field <= 8) {
      if (wire !== 0) return undefined;
      const value = c.varint();
      if (value === undefined) return undefined;
      if (field === 3) r.start_revision = value;
      else if (field === 7) r.watch_id = value;
      else if (field === 5) {
        const name = FILTER_NAMES[value];
        if (name === undefined) return undefined;
        r.filters.push(name);
      } else if (value > 1) return undefined;
      else if (field === 4) r.progress_notify = value === 1;
      else if (field === 6) r.prev_kv = value === 1;
      else r.fragment = value === 1;
      continue;
    }
    return undefined;
  }
  return r;
}

/** etcdserverpb.WatchRequest in its common form; undefined: decode it with proto-loader. */
export function decodeWatchRequest(buf: Buffer): WireWatchRequest | undefined {
  if (buf.length === 0) return {};
  const c = new Cursor(buf);
  const tag = c.varint();
  if (tag === undefined || (tag & 7) !== 2 || tag > 0x7f) return undefined;
  const bytes = c.bytes();
  if (bytes === undefined || c.at !== buf.length) return undefined;
  switch (tag >> 3) {
    case 1: {
      const create_request = decodeWatchCreate(bytes);
      return create_request && { request_union: 'create_request', create_request };
    }
    case 2: {
      // WatchCancelRequest: watch_id (1) only.
      const inner = new Cursor(bytes);
      let watch_id = 0;
      while (inner.at < bytes.length) {
        if (inner.varint() !== 8) return undefined;
        const value = inner.varint();
        if (value === undefined) return undefined;
        watch_id = value;
      }
      return { request_union: 'cancel_request', cancel_request: { watch_id } };
    }
    case 3:
      return bytes.length === 0
        ? { request_union: 'progress_request', progress_request: {} }
        : undefined;
  }
  return undefined;
}
