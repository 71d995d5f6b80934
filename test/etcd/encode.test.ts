/**
 * The hand-written encoders of the endpoint's hot responses (src/etcd/encode.ts) against
 * proto-loader's generic encoding of the same response written as an object (the path every
 * other response takes): both decode to the same message, for headers with full 64-bit ids,
 * keys and values of any bytes (empty ones too), leases, deletes, prev_kv, fragments and
 * zero-valued fields. A wrong field number, wire type or skipped default shows as a difference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wireHeader, wireKv, wireTxn } from '../../src/etcd/convert.js';
import {
  encodeEvent,
  encodeHeader,
  encodePut,
  encodeRange,
  encodeTxn,
  encodeWatchEvents,
  HeaderBytes,
} from '../../src/etcd/encode.js';
import { serviceMethods } from '../../src/etcd/proto.js';
import type {
  KeyValue,
  KvEvent,
  LeaseId,
  OpResult,
  Revision,
  TxnResult,
} from '../../src/kv/types.js';
import type { KvHeader } from '../../src/node/kv-service.js';

const kvMethods = serviceMethods('KV');
const watchMethods = serviceMethods('Watch');

function method(methods: ReturnType<typeof serviceMethods>, name: string) {
  const m = methods[name];
  if (m === undefined) throw new Error(`no method ${name}`);
  return m;
}

/** Decodes `bytes` and the generic encoding of `object`: the two must be equal. */
function same(name: 'Range' | 'Put' | 'Txn' | 'Watch', bytes: Uint8Array, object: object): void {
  const m = name === 'Watch' ? method(watchMethods, 'Watch') : method(kvMethods, name);
  const ours = m.responseDeserialize(Buffer.from(bytes));
  const generic = m.responseDeserialize(m.responseSerialize(object));
  expect(ours).toEqual(generic);
}

const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => v.toString());
const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const bytes = fc.uint8Array({ maxLength: 40 });

const header: fc.Arbitrary<KvHeader> = fc.record({
  clusterId: uint64,
  memberId: uint64,
  revision: safe.map((r) => r as Revision),
  raftTerm: safe,
});

const keyValue: fc.Arbitrary<KeyValue> = fc.record(
  {
    key: bytes,
    value: bytes,
    createRevision: safe.map((r) => r as Revision),
    modRevision: safe.map((r) => r as Revision),
    version: safe,
    lease: safe.map((l) => l as LeaseId),
  },
  { requiredKeys: ['key', 'value', 'createRevision', 'modRevision', 'version'] },
);

const event: fc.Arbitrary<KvEvent> = fc.record(
  {
    type: fc.constantFrom('put' as const, 'delete' as const),
    kv: keyValue,
    prevKv: keyValue,
    revision: safe.map((r) => r as Revision),
  },
  { requiredKeys: ['type', 'kv', 'revision'] },
);

/** 0 (a default the encoder skips), 1, and any safe integer. */
const edgy = fc.oneof(fc.constantFrom(0, 1), safe);
const revisionArb = edgy.map((r) => r as Revision);

/** Results of every op kind (nested txns two deep), zero revisions and counts among them. */
const { txnResult } = fc.letrec<{ txnResult: TxnResult; opResult: OpResult }>((tie) => ({
  opResult: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({
      kind: fc.constant('range' as const),
      kvs: fc.array(keyValue, { maxLength: 3 }),
      revision: revisionArb,
      more: fc.boolean(),
      count: edgy,
    }),
    fc.record(
      { kind: fc.constant('put' as const), revision: revisionArb, prevKv: keyValue },
      { requiredKeys: ['kind', 'revision'] },
    ),
    fc.record(
      {
        kind: fc.constant('delete-range' as const),
        deleted: edgy,
        revision: revisionArb,
        prevKvs: fc.array(keyValue, { maxLength: 3 }),
      },
      { requiredKeys: ['kind', 'deleted', 'revision'] },
    ),
    tie('txnResult'),
  ),
  txnResult: fc.record({
    kind: fc.constant('txn' as const),
    succeeded: fc.boolean(),
    results: fc.array(tie('opResult'), { maxLength: 3 }),
    revision: revisionArb,
  }),
}));

function wireEvent(e: KvEvent): object {
  return {
    type: e.type === 'put' ? 'PUT' : 'DELETE',
    kv: wireKv(e.kv),
    prev_kv: e.prevKv === undefined ? null : wireKv(e.prevKv),
  };
}

describe('etcd response encoders', () => {
  it('encode a RangeResponse as proto-loader does', () => {
    fc.assert(
      fc.property(
        header,
        fc.array(keyValue, { maxLength: 4 }),
        fc.boolean(),
        safe,
        (h, kvs, more, count) =>
          same('Range', encodeRange(encodeHeader(h), kvs, more, count), {
            header: wireHeader(h),
            kvs: kvs.map(wireKv),
            more,
            count,
          }),
      ),
    );
  });

  it('encode a PutResponse as proto-loader does, with and without prev_kv', () => {
    fc.assert(
      fc.property(header, fc.option(keyValue, { nil: undefined }), (h, prevKv) =>
        same('Put', encodePut(encodeHeader(h), prevKv), {
          header: wireHeader(h),
          prev_kv: prevKv === undefined ? null : wireKv(prevKv),
        }),
      ),
    );
  });

  it('encode a TxnResponse as proto-loader does, every op kind, nested txns too', () => {
    fc.assert(
      fc.property(header, txnResult, (h, r) =>
        same('Txn', encodeTxn(encodeHeader(h), r), { header: wireHeader(h), ...wireTxn(r) }),
      ),
      { numRuns: 300 },
    );
  });

  it('encode a WatchResponse with events as proto-loader does', () => {
    fc.assert(
      fc.property(
        header,
        safe,
        fc.array(event, { maxLength: 4 }),
        fc.boolean(),
        (h, id, events, fragment) =>
          same('Watch', encodeWatchEvents(encodeHeader(h), id, events.map(encodeEvent), fragment), {
            header: wireHeader(h),
            watch_id: id,
            events: events.map(wireEvent),
            ...(fragment ? { fragment: true } : {}),
          }),
      ),
    );
  });

  it('encodes an event once and reuses its bytes', () => {
    const e: KvEvent = {
      type: 'put',
      kv: {
        key: Uint8Array.of(1),
        value: Uint8Array.of(2),
        createRevision: 3 as Revision,
        modRevision: 3 as Revision,
        version: 1,
      },
      revision: 3 as Revision,
    };
    expect(encodeEvent(e)).toBe(encodeEvent(e));
  });

  it('reuses a header only while member, revision and term are the same', () => {
    const cache = new HeaderBytes();
    const h: KvHeader = {
      clusterId: '18446744073709551615',
      memberId: '7',
      revision: 5 as Revision,
      raftTerm: 2,
    };
    const first = cache.of(h);
    expect(cache.of({ ...h })).toBe(first);
    for (const changed of [
      { ...h, revision: 6 as Revision },
      { ...h, raftTerm: 3 },
      { ...h, memberId: '8' },
      { ...h, clusterId: '9' },
    ]) {
      const bytes = cache.of(changed);
      expect(bytes).not.toEqual(first);
      expect(bytes).toEqual(encodeHeader(changed));
      cache.of(h);
    }
  });

  it('passes encoded bytes through the gRPC serializer unchanged', () => {
    const m = method(kvMethods, 'Put');
    const encoded = encodePut(
      encodeHeader({ clusterId: '1', memberId: '2', revision: 3 as Revision, raftTerm: 4 }),
      undefined,
    );
    expect(Buffer.compare(m.responseSerialize(encoded), Buffer.from(encoded))).toBe(0);
  });
});
