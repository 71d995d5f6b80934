/**
 * The hand decoders of the hot requests (src/etcd/decode.ts) against proto-loader's generic
 * decoding of the same bytes: on requests encoded from random field values (edge values too:
 * 0, 2^53 - 1, beyond it, negatives, every enum value and one past the last) and on random and
 * mutated bytes, the hand decoder either declines (undefined: the generic path decodes) or gives
 * exactly the generic answer, its int64s as numbers instead of decimal strings. It must decline
 * every message the generic decoder refuses, and decode the common form (what etcd's clients
 * send) itself.
 */
import fc from 'fast-check';
import type { MethodDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import {
  decodeDeleteRangeRequest,
  decodePutRequest,
  decodeRangeRequest,
  decodeTxnRequest,
  decodeWatchRequest,
} from '../../src/etcd/decode.js';
import { etcdPackage } from '../../src/etcd/proto.js';

type Method = MethodDefinition<object, object>;
type Name = 'Range' | 'Put' | 'DeleteRange' | 'Txn' | 'Watch';

const DECODERS: Record<Name, (bytes: Buffer) => object | undefined> = {
  Range: decodeRangeRequest,
  Put: decodePutRequest,
  DeleteRange: decodeDeleteRangeRequest,
  Txn: decodeTxnRequest,
  Watch: decodeWatchRequest,
};

function generic(name: Name): Method {
  const service = etcdPackage()[
    name === 'Watch' ? 'etcdserverpb.Watch' : 'etcdserverpb.KV'
  ] as Record<string, Method>;
  const m = service[name];
  if (m === undefined) throw new Error(`no method ${name}`);
  return m;
}

const INT64_FIELDS: Record<Name, readonly string[]> = {
  Range: [
    'limit',
    'revision',
    'min_mod_revision',
    'max_mod_revision',
    'min_create_revision',
    'max_create_revision',
  ],
  Put: ['lease'],
  DeleteRange: [],
  // A compare's oneof member, when it is set.
  Txn: ['version', 'create_revision', 'mod_revision', 'lease'],
  Watch: ['start_revision', 'watch_id'],
};

const OP_REQUESTS: Record<string, Name> = {
  request_range: 'Range',
  request_put: 'Put',
  request_delete_range: 'DeleteRange',
};

/** The hand answer with its int64s written as proto-loader writes them (decimal strings). */
function asGeneric(name: Name, ours: object): object {
  const out: Record<string, unknown> = { ...ours };
  if (name === 'Txn') {
    const txn = ours as { compare: object[]; success: object[]; failure: object[] };
    const op = (o: object): object => {
      const r: Record<string, unknown> = { ...o };
      for (const [field, inner] of Object.entries(OP_REQUESTS))
        if (r[field] !== undefined) r[field] = asGeneric(inner, r[field] as object);
      return r;
    };
    return {
      compare: txn.compare.map((compare) => {
        const r: Record<string, unknown> = { ...compare };
        for (const field of INT64_FIELDS.Txn) if (field in r) r[field] = String(r[field]);
        return r;
      }),
      success: txn.success.map(op),
      failure: txn.failure.map(op),
    };
  }
  if (name === 'Watch') {
    for (const member of ['create_request', 'cancel_request'])
      if (out[member] !== undefined) {
        const r: Record<string, unknown> = { ...(out[member] as object) };
        for (const field of INT64_FIELDS.Watch) if (field in r) r[field] = String(r[field]);
        out[member] = r;
      }
    return out;
  }
  for (const field of INT64_FIELDS[name]) out[field] = String(out[field]);
  return out;
}

/** Checks one message: the hand decoder declines or agrees; returns whether it decoded. */
function agrees(name: Name, bytes: Buffer): boolean {
  const ours = DECODERS[name](bytes);
  let theirs: object | undefined;
  try {
    theirs = generic(name).requestDeserialize(bytes);
  } catch {
    theirs = undefined;
  }
  if (theirs === undefined) {
    expect(ours).toBeUndefined();
    return false;
  }
  if (ours === undefined) return false;
  expect(asGeneric(name, ours)).toEqual(theirs);
  return true;
}

const int64 = fc.oneof(
  fc.constantFrom('0', '1', String(2 ** 53 - 1), String(2 ** 53), '-1', '9223372036854775807'),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.nat().map(String),
);
const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));

const rangeRequest = fc.record({
  key: bytes,
  range_end: bytes,
  limit: int64,
  revision: int64,
  sort_order: fc.integer({ min: 0, max: 3 }),
  sort_target: fc.integer({ min: 0, max: 5 }),
  serializable: fc.boolean(),
  keys_only: fc.boolean(),
  count_only: fc.boolean(),
  min_mod_revision: int64,
  max_mod_revision: int64,
  min_create_revision: int64,
  max_create_revision: int64,
});

const putRequest = fc.record({
  key: bytes,
  value: bytes,
  lease: int64,
  prev_kv: fc.boolean(),
  ignore_value: fc.boolean(),
  ignore_lease: fc.boolean(),
});

const deleteRangeRequest = fc.record({ key: bytes, range_end: bytes, prev_kv: fc.boolean() });

/** A compare: every result and target and one past the last, any (or no) oneof member. */
const compare = fc
  .tuple(
    fc.record({
      result: fc.integer({ min: 0, max: 4 }),
      target: fc.integer({ min: 0, max: 5 }),
      key: bytes,
      range_end: bytes,
    }),
    fc.oneof(
      fc.constant({}),
      int64.map((version) => ({ version })),
      int64.map((create_revision) => ({ create_revision })),
      int64.map((mod_revision) => ({ mod_revision })),
      int64.map((lease) => ({ lease })),
      bytes.map((value) => ({ value })),
    ),
  )
  .map(([c, union]) => ({ ...c, ...union }));

/** An op: each kind, an empty op, and a nested txn (left to the generic path). */
const requestOp = fc.oneof(
  rangeRequest.map((request_range) => ({ request_range })),
  putRequest.map((request_put) => ({ request_put })),
  deleteRangeRequest.map((request_delete_range) => ({ request_delete_range })),
  fc.constant({}),
  fc.constant({ request_txn: { compare: [], success: [{}], failure: [] } }),
);

/** Mostly ops of the common kinds, so that whole transactions are decoded by hand too. */
const commonOp = fc.oneof(
  { weight: 3, arbitrary: putRequest.map((request_put) => ({ request_put })) },
  { weight: 3, arbitrary: rangeRequest.map((request_range) => ({ request_range })) },
  { weight: 1, arbitrary: requestOp },
);

const txnRequest = fc.record({
  compare: fc.array(compare, { maxLength: 3 }),
  success: fc.array(commonOp, { maxLength: 3 }),
  failure: fc.array(commonOp, { maxLength: 2 }),
});

/** A watch request: create (every filter and one past the last), cancel, progress, none. */
const watchRequest = fc.oneof(
  fc
    .record({
      key: bytes,
      range_end: bytes,
      start_revision: int64,
      progress_notify: fc.boolean(),
      filters: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 3 }),
      prev_kv: fc.boolean(),
      watch_id: int64,
      fragment: fc.boolean(),
    })
    .map((create_request) => ({ create_request })),
  int64.map((watch_id) => ({ cancel_request: { watch_id } })),
  fc.constant({ progress_request: {} }),
  fc.constant({}),
);

describe('hand decoders agree with proto-loader', () => {
  it('RangeRequest from random field values', () => {
    let decoded = 0;
    fc.assert(
      fc.property(rangeRequest, (request) => {
        if (agrees('Range', generic('Range').requestSerialize(request))) decoded++;
      }),
      { numRuns: 500, seed: 14 },
    );
    // The common form is decoded by hand, not left to the generic path.
    expect(decoded).toBeGreaterThan(0);
  });

  it('PutRequest from random field values', () => {
    let decoded = 0;
    fc.assert(
      fc.property(putRequest, (request) => {
        if (agrees('Put', generic('Put').requestSerialize(request))) decoded++;
      }),
      { numRuns: 500, seed: 14 },
    );
    expect(decoded).toBeGreaterThan(0);
  });

  it('DeleteRangeRequest from random field values', () => {
    let decoded = 0;
    fc.assert(
      fc.property(deleteRangeRequest, (request) => {
        if (agrees('DeleteRange', generic('DeleteRange').requestSerialize(request))) decoded++;
      }),
      { numRuns: 300, seed: 14 },
    );
    expect(decoded).toBeGreaterThan(0);
  });

  it('TxnRequest from random compares and ops', () => {
    let decoded = 0;
    fc.assert(
      fc.property(txnRequest, (request) => {
        if (agrees('Txn', generic('Txn').requestSerialize(request))) decoded++;
      }),
      { numRuns: 500, seed: 14 },
    );
    expect(decoded).toBeGreaterThan(20);
  });

  it('WatchRequest from random creates, cancels and progress requests', () => {
    let decoded = 0;
    fc.assert(
      fc.property(watchRequest, (request) => {
        if (agrees('Watch', generic('Watch').requestSerialize(request))) decoded++;
      }),
      { numRuns: 500, seed: 14 },
    );
    expect(decoded).toBeGreaterThan(50);
    // Filters unpacked (each its own varint field) read as packed ones do.
    const unpacked = Buffer.from([0x0a, 0x07, 0x0a, 0x01, 0x6b, 0x28, 0x01, 0x28, 0x00]);
    expect(agrees('Watch', unpacked)).toBe(true);
    expect(decodeWatchRequest(unpacked)?.create_request?.filters).toEqual(['NODELETE', 'NOPUT']);
    // Only the fields set are on the wire (proto-loader writes every field it is given).
    const sparse = Buffer.from([0x0a, 0x05, 0x0a, 0x01, 0x6b, 0x18, 0x05]);
    expect(agrees('Watch', sparse)).toBe(true);
    expect(decodeWatchRequest(sparse)?.create_request).toMatchObject({ start_revision: 5 });
  });

  it('random and mutated bytes: declined, or the same message', () => {
    const mutated = (request: fc.Arbitrary<object>, name: Name) =>
      fc
        .tuple(request, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat())
        .map(([r, at, byte, cut]) => {
          const b = Buffer.from(generic(name).requestSerialize(r));
          if (b.length > 0) b[at % b.length] = byte;
          return b.subarray(0, b.length - (cut % 3));
        });
    fc.assert(
      fc.property(
        fc.oneof(
          mutated(rangeRequest, 'Range').map((b) => ['Range', b] as const),
          mutated(putRequest, 'Put').map((b) => ['Put', b] as const),
          mutated(deleteRangeRequest, 'DeleteRange').map((b) => ['DeleteRange', b] as const),
          mutated(txnRequest, 'Txn').map((b) => ['Txn', b] as const),
          mutated(txnRequest, 'Txn').map((b) => ['Txn', b] as const),
          mutated(watchRequest, 'Watch').map((b) => ['Watch', b] as const),
          bytes.map((b) => ['Watch', b] as const),
          bytes.map((b) => ['Range', b] as const),
          bytes.map((b) => ['Put', b] as const),
          bytes.map((b) => ['Txn', b] as const),
        ),
        ([name, b]) => {
          agrees(name, b);
        },
      ),
      { numRuns: 2000, seed: 14 },
    );
  });

  it("what etcd3 and etcdctl send is decoded by hand, with etcd's defaults", () => {
    const get = generic('Range').requestSerialize({ key: Buffer.from('k'), serializable: true });
    expect(decodeRangeRequest(get)).toMatchObject({
      key: Buffer.from('k'),
      range_end: Buffer.alloc(0),
      limit: 0,
      sort_order: 'NONE',
      sort_target: 'KEY',
      serializable: true,
    });
    const put = generic('Put').requestSerialize({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      lease: '7',
    });
    expect(decodePutRequest(put)).toEqual({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      lease: 7,
      prev_kv: false,
      ignore_value: false,
      ignore_lease: false,
    });
  });

  it('declines what it does not decode: a negative int64, an unknown enum, a bool of 2', () => {
    const m = generic('Range');
    expect(decodeRangeRequest(m.requestSerialize({ key: Buffer.from('k'), revision: '-1' }))).toBe(
      undefined,
    );
    expect(decodeRangeRequest(m.requestSerialize({ key: Buffer.from('k'), sort_order: 3 }))).toBe(
      undefined,
    );
    // Field 7 (serializable) as varint 2: protobufjs reads true; declined rather than guessed.
    expect(decodeRangeRequest(Buffer.from([0x38, 0x02]))).toBeUndefined();
    // A truncated key.
    expect(decodeRangeRequest(Buffer.from([0x0a, 0x05, 0x61]))).toBeUndefined();
  });

  it("decodes etcd3's CAS by hand and declines a compare naming two targets' values", () => {
    const m = generic('Txn');
    const cas = m.requestSerialize({
      compare: [{ key: Buffer.from('k'), target: 'MOD', result: 'EQUAL', mod_revision: '9' }],
      success: [{ request_put: { key: Buffer.from('k'), value: Buffer.from('v') } }],
      failure: [{ request_range: { key: Buffer.from('k') } }],
    });
    expect(decodeTxnRequest(cas)).toMatchObject({
      compare: [{ target: 'MOD', result: 'EQUAL', target_union: 'mod_revision', mod_revision: 9 }],
      success: [{ request: 'request_put', request_put: { key: Buffer.from('k'), lease: 0 } }],
      failure: [{ request: 'request_range', request_range: { key: Buffer.from('k') } }],
    });
    // Compare {key 'k', version 1, mod_revision 2}: two oneof members; protobufjs keeps the last.
    const twice = Buffer.from([0x0a, 0x07, 0x1a, 0x01, 0x6b, 0x20, 0x01, 0x30, 0x02]);
    expect(decodeTxnRequest(twice)).toBeUndefined();
    expect(agrees('Txn', twice)).toBe(false);
    // A nested txn is the generic path's.
    const nested = m.requestSerialize({ success: [{ request_txn: { compare: [] } }] });
    expect(decodeTxnRequest(nested)).toBeUndefined();
  });
});
