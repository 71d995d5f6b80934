/**
 * Arbitraries of chain replication messages (src/chain/messages.ts, envelope type 45), for the
 * combined wire table's round-trip and fuzz tests (test/codec): every kind (the digest-first
 * `digest` and `summary` too) and every status, entries named by their list item's owner as the
 * codec writes them.
 */
import fc from 'fast-check';
import type { NodeId } from '../../src/identity/node-id.js';
import type { ChainBody, ChainMessage, PulledChain } from '../../src/chain/messages.js';

export function chainArbitraries(arbNodeId: fc.Arbitrary<NodeId>): {
  'data-chain': fc.Arbitrary<ChainMessage>;
} {
  const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const seq = fc.nat(1_000_000);
  const id = fc.nat(1_000_000);
  const pulled: fc.Arbitrary<PulledChain> = arbNodeId.chain((owner) =>
    fc.oneof(
      fc.constantFrom('diverged' as const, 'pruned' as const).map((status) => ({ owner, status })),
      fc
        .record({ headSeq: seq, headHash: hash })
        .map((r) => ({ owner, status: 'shorter' as const, ...r })),
      fc
        .array(
          fc.record({
            seq,
            prevHash: hash,
            payload: fc.uint8Array({ maxLength: 40 }),
            signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
          }),
          { maxLength: 3 },
        )
        .map((entries) => ({
          owner,
          status: 'entries' as const,
          entries: entries.map((e) => ({ owner, ...e })),
        })),
    ),
  );
  const body: fc.Arbitrary<ChainBody> = fc.oneof(
    fc.record({
      kind: fc.constant('pull' as const),
      id,
      wants: fc.array(fc.record({ owner: arbNodeId, afterSeq: seq, hash }), { maxLength: 4 }),
    }),
    fc.record({
      kind: fc.constant('pulled' as const),
      id,
      chains: fc.array(pulled, { maxLength: 3 }),
    }),
    fc.record({
      kind: fc.constant('ask' as const),
      id,
      owner: arbNodeId,
      seqs: fc.array(seq, { maxLength: 8 }),
    }),
    fc.record({
      kind: fc.constant('hashes' as const),
      id,
      owner: arbNodeId,
      held: fc.boolean(),
      headSeq: seq,
      hashes: fc.array(fc.record({ seq, hash }), { maxLength: 8 }),
    }),
    fc.record({ kind: fc.constant('digest' as const), id, count: seq, root: hash }),
    fc.record({ kind: fc.constant('notify' as const), id, count: seq, root: hash }),
    fc.record({
      kind: fc.constant('summary' as const),
      id,
      same: fc.constant(true),
      bucketBits: fc.constant(0),
      buckets: fc.constant(new Uint8Array(0)),
    }),
    fc.integer({ min: 0, max: 4 }).chain((bucketBits) =>
      fc.record({
        kind: fc.constant('summary' as const),
        id,
        same: fc.constant(false),
        bucketBits: fc.constant(bucketBits),
        buckets: fc.uint8Array({ minLength: 8 << bucketBits, maxLength: 8 << bucketBits }),
      }),
    ),
  );
  return { 'data-chain': body.map((b) => ({ type: 'data-chain' as const, body: b })) };
}
