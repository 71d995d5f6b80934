/**
 * etcd's wire messages (proto.ts shapes) to the KvService's requests and back. The shapes match
 * field for field (src/kv/types.ts follows rpc.proto); what needs care is done here:
 *
 * - etcd's request checks (etcdserver/api/v3rpc/key.go) run first, with etcd's errors: an empty
 *   key, a put with ignore_value and a value or ignore_lease and a lease, an empty txn op.
 * - 64-bit integers: Shoal's revisions and lease ids are safe integers (< 2^53). A value beyond
 *   is answered as etcd would answer a value that large: a revision is in the future, a lease
 *   does not exist. A limit or a filter bound beyond is the same as the largest safe integer.
 *   etcd reads a revision or limit <= 0 as "none"; so does this.
 * - Negative values where etcd's answer would depend on int64 wrap-around (a negative compare
 *   value or filter bound) are refused with INVALID_ARGUMENT, and an unknown enum number too.
 */
import { status as Status } from '@grpc/grpc-js';
import type { KvHeader } from '../node/kv-service.js';
import {
  leaseId,
  revision,
  type Compare,
  type CompareOp,
  type CompareTarget,
  type DeleteRangeRequest,
  type DeleteRangeResult,
  type KeyValue,
  type OpResult,
  type PutRequest,
  type RangeRequest,
  type RangeResult,
  type RequestOp,
  type Revision,
  type SortOrder,
  type SortTarget,
  type TxnRequest,
  type TxnResult,
} from '../kv/types.js';
import { etcdError, shoalStatus } from './status.js';
import type {
  Int64,
  WireCompare,
  WireDeleteRangeRequest,
  WireHeader,
  WireKeyValue,
  WirePutRequest,
  WireRangeRequest,
  WireRequestOp,
  WireTxnRequest,
} from './proto.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A decimal int64 as a number: exact when safe, else +/-Infinity (each field decides). */
export function int64(text: Int64 | number): number {
  const n = typeof text === 'number' ? text : Number(text);
  if (Number.isSafeInteger(n)) return n;
  return n > 0 ? Infinity : -Infinity;
}

/** A read or watch revision: <= 0 is "current" (0); beyond 2^53 - 1 is in the future. */
export function wireRevision(text: Int64): number {
  const n = int64(text);
  if (n === Infinity) throw etcdError('futureRevision');
  return Math.max(0, n);
}

function badRequest(message: string): Error {
  return shoalStatus(Status.INVALID_ARGUMENT, message);
}

/** A bound that must not be negative; beyond 2^53 - 1 it is the largest safe integer. */
function nonNegative(what: string, text: Int64): number {
  const n = int64(text);
  if (n < 0) throw badRequest(`${what} (${text}) must not be negative`);
  return Math.min(n, Number.MAX_SAFE_INTEGER);
}

/** A lease id that may name an existing lease, or undefined when it cannot (<= 0 or > 2^53 - 1). */
export function wireLeaseId(text: Int64): number | undefined {
  const n = int64(text);
  return n >= 1 && n !== Infinity ? n : undefined;
}

function enumValue<T extends string>(
  what: string,
  value: string | number,
  names: Record<string, T>,
): T {
  const mapped = typeof value === 'string' ? names[value] : undefined;
  if (mapped === undefined) throw badRequest(`unknown ${what} ${String(value)}`);
  return mapped;
}

const SORT_ORDERS: Record<string, SortOrder> = {
  NONE: 'none',
  ASCEND: 'ascend',
  DESCEND: 'descend',
};
const SORT_TARGETS: Record<string, SortTarget> = {
  KEY: 'key',
  VERSION: 'version',
  CREATE: 'create',
  MOD: 'mod',
  VALUE: 'value',
};
const COMPARE_RESULTS: Record<string, CompareOp> = {
  EQUAL: '=',
  GREATER: '>',
  LESS: '<',
  NOT_EQUAL: '!=',
};
const COMPARE_TARGETS: Record<string, CompareTarget> = {
  VERSION: 'version',
  CREATE: 'createRevision',
  MOD: 'modRevision',
  VALUE: 'value',
  LEASE: 'lease',
};
/** The oneof member each compare target reads (etcd reads the member of its target, else zero). */
const UNION_OF: Record<CompareTarget, NonNullable<WireCompare['target_union']>> = {
  version: 'version',
  createRevision: 'create_revision',
  modRevision: 'mod_revision',
  value: 'value',
  lease: 'lease',
};

function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw etcdError('emptyKey');
}

function rangeEnd(bytes: Uint8Array): Uint8Array | undefined {
  return bytes.length === 0 ? undefined : bytes;
}

export function toRangeRequest(w: WireRangeRequest): RangeRequest {
  checkKey(w.key);
  const r: Mutable<RangeRequest> = { key: w.key };
  const end = rangeEnd(w.range_end);
  if (end !== undefined) r.rangeEnd = end;
  const limit = int64(w.limit);
  if (limit > 0) r.limit = Math.min(limit, Number.MAX_SAFE_INTEGER);
  const rev = wireRevision(w.revision);
  if (rev > 0) r.revision = revision(rev);
  const order = enumValue('RangeRequest.sort_order', w.sort_order, SORT_ORDERS);
  if (order !== 'none') r.sortOrder = order;
  const target = enumValue('RangeRequest.sort_target', w.sort_target, SORT_TARGETS);
  if (target !== 'key') r.sortTarget = target;
  if (w.keys_only) r.keysOnly = true;
  if (w.count_only) r.countOnly = true;
  const filters = [
    ['minModRevision', 'min_mod_revision'],
    ['maxModRevision', 'max_mod_revision'],
    ['minCreateRevision', 'min_create_revision'],
    ['maxCreateRevision', 'max_create_revision'],
  ] as const;
  for (const [name, field] of filters) {
    const value = nonNegative(`RangeRequest.${field}`, w[field]);
    if (value > 0) r[name] = revision(value);
  }
  return r;
}

/** The put's lease: 0 is none; an id that cannot exist is etcd's "requested lease not found". */
function putLease(text: Int64): number | undefined {
  if (int64(text) === 0) return undefined;
  const id = wireLeaseId(text);
  if (id === undefined) throw etcdError('leaseNotFound');
  return id;
}

export function toPutRequest(w: WirePutRequest): PutRequest {
  checkKey(w.key);
  if (w.ignore_value && w.value.length !== 0) throw etcdError('valueProvided');
  if (w.ignore_lease && int64(w.lease) !== 0) throw etcdError('leaseProvided');
  const r: Mutable<PutRequest> = { key: w.key, value: w.value };
  const lease = putLease(w.lease);
  if (lease !== undefined) r.lease = leaseId(lease);
  if (w.prev_kv) r.prevKv = true;
  if (w.ignore_value) r.ignoreValue = true;
  if (w.ignore_lease) r.ignoreLease = true;
  return r;
}

export function toDeleteRangeRequest(w: WireDeleteRangeRequest): DeleteRangeRequest {
  checkKey(w.key);
  const r: Mutable<DeleteRangeRequest> = { key: w.key };
  const end = rangeEnd(w.range_end);
  if (end !== undefined) r.rangeEnd = end;
  if (w.prev_kv) r.prevKv = true;
  return r;
}

function toCompare(w: WireCompare): Compare {
  checkKey(w.key);
  const op = enumValue('Compare.result', w.result, COMPARE_RESULTS);
  const target = enumValue('Compare.target', w.target, COMPARE_TARGETS);
  const end = rangeEnd(w.range_end);
  const union = w.target_union === UNION_OF[target] ? w[UNION_OF[target]] : undefined;
  const base = end === undefined ? { key: w.key } : { key: w.key, rangeEnd: end };
  if (target === 'value')
    return { ...base, target, op, value: (union as Uint8Array | undefined) ?? new Uint8Array(0) };
  const value = union === undefined ? 0 : nonNegative(`Compare.${target}`, union as Int64);
  return { ...base, target, op, value };
}

function toRequestOp(w: WireRequestOp): RequestOp {
  switch (w.request) {
    case 'request_range':
      if (w.request_range) return { kind: 'range', request: toRangeRequest(w.request_range) };
      break;
    case 'request_put':
      if (w.request_put) return { kind: 'put', request: toPutRequest(w.request_put) };
      break;
    case 'request_delete_range':
      if (w.request_delete_range)
        return { kind: 'delete-range', request: toDeleteRangeRequest(w.request_delete_range) };
      break;
    case 'request_txn':
      if (w.request_txn) return { kind: 'txn', request: toTxnRequest(w.request_txn) };
      break;
  }
  // etcd's checkRequestOp: an op with no request in it.
  throw etcdError('keyNotFound');
}

export function toTxnRequest(w: WireTxnRequest): TxnRequest {
  return {
    compare: w.compare.map(toCompare),
    success: w.success.map(toRequestOp),
    failure: w.failure.map(toRequestOp),
  };
}

// ---- responses ----

export function wireHeader(h: KvHeader): WireHeader {
  return {
    cluster_id: h.clusterId,
    member_id: h.memberId,
    revision: h.revision,
    raft_term: h.raftTerm,
  };
}

/** The header etcd puts on responses nested in a txn: the revision only. */
function nestedHeader(rev: Revision): Partial<WireHeader> {
  return { revision: rev };
}

export function wireKv(kv: KeyValue): WireKeyValue {
  return {
    key: kv.key,
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    value: kv.value,
    lease: kv.lease ?? 0,
  };
}

export function wireRange(r: RangeResult): object {
  return { kvs: r.kvs.map(wireKv), more: r.more, count: r.count };
}

export function wireDelete(r: DeleteRangeResult): object {
  return { deleted: r.deleted, prev_kvs: (r.prevKvs ?? []).map(wireKv) };
}

export function wirePrevKv(prevKv: KeyValue | undefined): object {
  return { prev_kv: prevKv === undefined ? null : wireKv(prevKv) };
}

function wireResponseOp(r: OpResult): object {
  const header = nestedHeader(r.revision);
  switch (r.kind) {
    case 'range':
      return { response_range: { header, ...wireRange(r) } };
    case 'put':
      return { response_put: { header, ...wirePrevKv(r.prevKv) } };
    case 'delete-range':
      return { response_delete_range: { header, ...wireDelete(r) } };
    case 'txn':
      return { response_txn: { header, ...wireTxn(r) } };
  }
}

export function wireTxn(r: TxnResult): object {
  return { succeeded: r.succeeded, responses: r.results.map(wireResponseOp) };
}
