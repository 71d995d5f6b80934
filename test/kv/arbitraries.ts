/**
 * fast-check arbitraries for key-value commands. Keys come from a small alphabet so that random
 * sequences collide on keys, prefixes and leases; every command is in canonical form (optional
 * fields absent rather than zero), so decode(encode(c)) equals c.
 */
import fc from 'fast-check';
import { prefixRange } from '../../src/kv/commands.js';
import {
  leaseId,
  revision,
  type Compare,
  type PutRequest,
  type KvCommand,
  type KvOp,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
} from '../../src/kv/types.js';

const enc = new TextEncoder();
const KEYS = ['a', 'ab', 'b', 'b/1', 'b/2', 'c'];

export const key = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom(...KEYS).map((k) => enc.encode(k)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }) },
);
const value = fc.oneof(
  fc.constantFrom('', 'x', 'y', 'zz').map((v) => enc.encode(v)),
  fc.uint8Array({ maxLength: 6 }),
);
const lease = fc.integer({ min: 1, max: 3 }).map(leaseId);
const smallRevision = fc.integer({ min: 1, max: 12 }).map(revision);

/** A single key, a prefix, or a [key, end) range. */
export const span = fc.oneof(
  key.map((k) => ({ key: k })),
  fc.constantFrom('a', 'b', 'b/', '').map((p) => prefixRange(p)),
  fc.tuple(key, key).map(([k, e]) => ({ key: k, rangeEnd: e })),
);

/** Absent `absentWeight` times out of `absentWeight + 1`. */
function optional<T>(arb: fc.Arbitrary<T>, absentWeight = 1): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: absentWeight, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: arb },
  );
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && v !== false),
  ) as T;
}

export const rangeRequest: fc.Arbitrary<RangeRequest> = fc
  .record({
    span,
    limit: optional(fc.integer({ min: 1, max: 3 })),
    revision: optional(smallRevision),
    keysOnly: fc.boolean(),
    countOnly: fc.boolean(),
  })
  .map(({ span: s, ...rest }) => defined({ ...s, ...rest }) as RangeRequest);

const put = fc
  .record({ key, value, lease: optional(lease, 3), prevKv: fc.boolean() })
  .map((p) => ({ kind: 'put' as const, request: defined(p) as PutRequest }));
const del = fc.record({ span, prevKv: fc.boolean() }).map(({ span: s, prevKv }) => ({
  kind: 'delete-range' as const,
  request: defined({ ...s, prevKv }),
}));

const compare: fc.Arbitrary<Compare> = fc.oneof(
  fc
    .record({ span, op: fc.constantFrom('=', '!=', '<', '>' as const), value })
    .map(({ span: s, op, value: v }) => ({ ...s, target: 'value' as const, op, value: v })),
  fc
    .record({
      span,
      target: fc.constantFrom('version', 'createRevision', 'modRevision', 'lease' as const),
      op: fc.constantFrom('=', '!=', '<', '>' as const),
      value: fc.integer({ min: 0, max: 12 }),
    })
    .map(({ span: s, ...rest }) => ({ ...s, ...rest })),
);

const { txn } = fc.letrec<{ txn: TxnRequest; op: RequestOp }>((tie) => ({
  txn: fc.record({
    compare: fc.array(compare, { maxLength: 2 }),
    success: fc.array(tie('op'), { maxLength: 3 }),
    failure: fc.array(tie('op'), { maxLength: 2 }),
  }),
  op: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    put,
    del,
    rangeRequest.map((request) => ({ kind: 'range' as const, request })),
    tie('txn').map((request) => ({ kind: 'txn' as const, request: request as TxnRequest })),
  ),
}));

export const op: fc.Arbitrary<KvOp> = fc.oneof(
  { weight: 10, arbitrary: put },
  { weight: 2, arbitrary: del },
  { weight: 2, arbitrary: rangeRequest.map((request) => ({ kind: 'range' as const, request })) },
  { weight: 3, arbitrary: txn.map((request) => ({ kind: 'txn' as const, request })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ id: lease, ttlMs: fc.integer({ min: 0, max: 5000 }) })
      .map((g) => ({ kind: 'lease-grant' as const, ...g })),
  },
  { weight: 1, arbitrary: lease.map((id) => ({ kind: 'lease-revoke' as const, id })) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.record({ id: lease, remainingTtlMs: fc.integer({ min: 0, max: 9000 }) }), {
        maxLength: 2,
      })
      .map((checkpoints) => ({ kind: 'lease-checkpoint' as const, checkpoints })),
  },
  { weight: 1, arbitrary: smallRevision.map((r) => ({ kind: 'compact' as const, revision: r })) },
);

const session = fc.record({
  clientId: fc.constantFrom('c1', 'c2', 'c3', 'cliënt'),
  seq: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 4 })),
});

export const command: fc.Arbitrary<KvCommand> = fc
  .tuple(op, optional(session, 4))
  .map(([o, s]) => (s === undefined ? { op: o } : { session: s, op: o }));
