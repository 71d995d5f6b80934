/**
 * Arbitraries of tree sync messages (src/tree/messages.ts, envelope type 46), for the combined
 * wire table's round-trip and fuzz tests (test/codec): every kind and status, entries with and
 * without values (a tombstone carries none).
 */
import fc from 'fast-check';
import type { NodeId } from '../../src/identity/node-id.js';
import type { TreeBody, TreeMessage } from '../../src/tree/messages.js';
import type { TreeEntry } from '../../src/tree/shared.js';

export function treeArbitraries(arbNodeId: fc.Arbitrary<NodeId>): {
  'data-tree': fc.Arbitrary<TreeMessage>;
} {
  const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const id = fc.nat(1_000_000);
  const name = fc.stringMatching(/^[a-z0-9._-]{1,12}$/);
  const key = fc.string({ minLength: 1, maxLength: 12 });
  const status = fc.constantFrom('ok' as const, 'absent' as const, 'shape' as const);
  const entry: fc.Arbitrary<TreeEntry> = fc
    .record({
      key,
      deleted: fc.boolean(),
      value: fc.uint8Array({ maxLength: 24 }),
      hlc: fc.record({ wallMs: fc.nat(2 ** 42), logical: fc.nat(0xffff) }),
      writer: arbNodeId,
      signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    })
    .map((e) => (e.deleted ? { ...e, value: new Uint8Array(0) } : e));
  const entries = fc.array(entry, { maxLength: 3 });
  const body: fc.Arbitrary<TreeBody> = fc.oneof(
    fc.record({
      kind: fc.constant('descend' as const),
      id,
      name,
      depth: fc.nat(8),
      level: fc.nat(8),
      root: hash,
      nodes: fc.array(fc.nat(70_000), { maxLength: 6 }),
    }),
    fc.record({
      kind: fc.constant('hashes' as const),
      id,
      status,
      depth: fc.nat(8),
      root: hash,
      hashes: fc.array(hash, { maxLength: 6 }),
    }),
    fc.record({
      kind: fc.constant('buckets' as const),
      id,
      name,
      depth: fc.nat(8),
      buckets: fc.array(
        fc.record({
          bucket: fc.nat(70_000),
          pairs: fc.array(fc.record({ key, leafHash: hash }), { maxLength: 3 }),
        }),
        { maxLength: 3 },
      ),
    }),
    fc.record({
      kind: fc.constant('entries' as const),
      id,
      status,
      entries,
      wants: fc.array(key, { maxLength: 3 }),
    }),
    fc.record({ kind: fc.constant('push' as const), id, name, entries }),
  );
  return { 'data-tree': body.map((b) => ({ type: 'data-tree' as const, body: b })) };
}
