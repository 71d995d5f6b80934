/**
 * fast-check arbitraries for the data plane's messages (types 40-43), shared with the codec tests
 * and the fuzzer (test/codec/arbitraries.ts). Generated messages are canonical and within the
 * default (LAN) limits: rows and removals strictly increasing by (table, key), tags and
 * capabilities sorted sets, every write of a delta inside its (fromSeq, toSeq].
 */
import fc from 'fast-check';
import type { NodeId } from '../../src/identity/node-id.js';
import type {
  Delta,
  Partition,
  RegistryMessage,
  Removal,
  Row,
  SummaryEntry,
  Tombstone,
} from '../../src/crdt/registry/types.js';
import { rowId } from '../../src/crdt/registry/types.js';
import { LOAD_SCALE } from '../../src/crdt/registry/codec.js';
import type { Signature } from '../../src/identity/signed.js';

/** 64 random bytes as the lowercase hex a signature is held in. */
export const arbSignature: fc.Arbitrary<Signature> = fc
  .uint8Array({ minLength: 64, maxLength: 64 })
  .map((bytes) => Buffer.from(bytes).toString('hex') as Signature);

export function registryArbitraries(
  arbNodeId: fc.Arbitrary<NodeId>,
  arbDigest: fc.Arbitrary<string>,
) {
  const text = fc.string({ unit: 'binary', maxLength: 12 });
  const set = fc.uniqueArray(text, { maxLength: 3 }).map((items) => [...items].sort());
  const hlc = fc.record({ wallMs: fc.maxSafeNat(), logical: fc.nat(0xffff) });
  const service = fc.record({ address: text, tags: set, weight: fc.nat(0xffff_ffff) });
  const process = fc.record({
    type: text,
    capabilities: set,
    status: text,
    load: fc.nat(1e9 * LOAD_SCALE).map((micro) => micro / LOAD_SCALE),
  });
  const row = (seq: fc.Arbitrary<number>): fc.Arbitrary<Row> =>
    fc.oneof(
      fc.record({
        table: fc.constant('service' as const),
        key: text,
        seq,
        stamp: hlc,
        value: service,
      }),
      fc.record({
        table: fc.constant('process' as const),
        key: text,
        seq,
        stamp: hlc,
        value: process,
      }),
    );
  const byId = <T extends { table: string; key: string }>(items: T[]): T[] =>
    [...new Map(items.map((x) => [rowId(x.table as Row['table'], x.key), x])).entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, x]) => x);

  const delta: fc.Arbitrary<Delta> = fc
    .tuple(arbNodeId, hlc, fc.nat(1000), fc.integer({ min: 1, max: 50 }), arbSignature)
    .chain(([owner, epoch, fromSeq, span, signature]) => {
      const seq = fc.integer({ min: fromSeq + 1, max: fromSeq + span });
      const removal: fc.Arbitrary<Removal> = fc.record({
        table: fc.constantFrom('service' as const, 'process' as const),
        key: text,
        seq,
      });
      return fc
        .tuple(fc.array(row(seq), { maxLength: 3 }), fc.array(removal, { maxLength: 2 }))
        .map(([rows, removals]) => {
          const upserts = byId(rows);
          const taken = new Set(upserts.map((r) => rowId(r.table, r.key)));
          return {
            owner,
            epoch,
            fromSeq,
            toSeq: fromSeq + span,
            upserts,
            removals: byId(removals).filter((x) => !taken.has(rowId(x.table, x.key))),
            signature,
          };
        });
    });
  const partition: fc.Arbitrary<Partition> = fc
    .tuple(arbNodeId, hlc, fc.nat(1000), arbSignature)
    .chain(([owner, epoch, seq, signature]) =>
      fc.array(row(fc.nat(seq)), { maxLength: 3 }).map((rows) => ({
        owner,
        epoch,
        seq,
        rows: new Map(byId(rows).map((r) => [rowId(r.table, r.key), r])),
        signature,
      })),
    );
  const entry: fc.Arbitrary<SummaryEntry> = fc.record({
    owner: arbNodeId,
    epoch: hlc,
    seq: fc.maxSafeNat(),
  });
  const tombstone: fc.Arbitrary<Tombstone> = fc.record({
    owner: arbNodeId,
    epoch: hlc,
    seq: fc.maxSafeNat(),
  });
  const byType: {
    [T in RegistryMessage['type']]: fc.Arbitrary<Extract<RegistryMessage, { type: T }>>;
  } = {
    'data-gossip': fc.record({
      type: fc.constant('data-gossip' as const),
      from: arbNodeId,
      deltas: fc.array(delta, { maxLength: 3 }),
    }),
    'data-digest': fc.record({
      type: fc.constant('data-digest' as const),
      from: arbNodeId,
      reply: fc.boolean(),
      digest: arbDigest,
    }),
    'data-summary': fc.record({
      type: fc.constant('data-summary' as const),
      from: arbNodeId,
      partial: fc.boolean(),
      entries: fc.array(entry, { maxLength: 4 }),
    }),
    'data-state': fc.record({
      type: fc.constant('data-state' as const),
      from: arbNodeId,
      reply: fc.boolean(),
      partitions: fc.array(partition, { maxLength: 2 }),
      tombstones: fc.array(tombstone, { maxLength: 2 }),
      want: fc.array(arbNodeId, { maxLength: 3 }),
    }),
  };
  return byType;
}
