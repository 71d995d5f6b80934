/**
 * fast-check arbitraries for Raft's wire messages (src/raft/messages.ts), merged into the codec
 * tests' `arbMessageByType` (test/codec/arbitraries.ts). Every generated message is one the
 * decoder accepts (entry terms non-decreasing from prevTerm and at most the message's term,
 * configurations that decode, chunks within their snapshot), so it round-trips.
 */
import fc from 'fast-check';
import { logIndex, term, type Term } from '../../src/base/units.js';
import { encodeConfiguration, type Member } from '../../src/raft/configuration.js';
import type { Entry, EntryKind } from '../../src/raft/log-types.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import type { Address } from '../../src/base/address.js';
import type { NodeId } from '../../src/identity/node-id.js';

/** The shared primitives (test/codec/arbitraries.ts passes its own: no import cycle). */
export interface Primitives {
  arbAddress: fc.Arbitrary<Address>;
  arbCounter: fc.Arbitrary<number>;
  arbNodeId: fc.Arbitrary<NodeId>;
  arbTerm: fc.Arbitrary<Term>;
}

type ByType = {
  [T in RaftMessage['type']]: fc.Arbitrary<Extract<RaftMessage, { type: T }>>;
};

/** One arbitrary per Raft message type. */
export function raftMessageArbitraries(p: Primitives): ByType {
  const { arbAddress, arbCounter, arbNodeId, arbTerm } = p;
  const arbIndex = arbCounter.map((n) => logIndex(n));

  const arbMembers = (role: fc.Arbitrary<Member['role']>): fc.Arbitrary<Member[]> =>
    fc
      .uniqueArray(arbAddress, { maxLength: 5 })
      .chain((addresses) =>
        fc.tuple(
          ...[...addresses].sort().map((address) =>
            fc.record({
              address: fc.constant(address),
              id: fc.option(arbNodeId, { nil: undefined }),
              role,
            }),
          ),
        ),
      )
      .map((members) => [...members]);

  const arbConfigBytes: fc.Arbitrary<Uint8Array> = fc
    .record({
      members: arbMembers(fc.constantFrom<Member['role']>('voter', 'learner', 'staging')),
      outgoing: fc.option(arbMembers(fc.constant('voter' as const)), { nil: undefined }),
    })
    .map((config) => encodeConfiguration(config));

  function arbEntries(prevIndex: number, prevTerm: number, msgTerm: number): fc.Arbitrary<Entry[]> {
    return fc
      .array(
        fc.tuple(
          fc.integer({ min: prevTerm, max: msgTerm }),
          fc.constantFrom<EntryKind>('normal', 'config', 'noop'),
          fc.uint8Array({ maxLength: 24 }),
          arbConfigBytes,
        ),
        { maxLength: 6 },
      )
      .map((rows) => {
        const terms = rows.map(([t]) => t).sort((a, b) => a - b);
        return rows.map(([, kind, data, config], i) => ({
          index: logIndex(prevIndex + 1 + i),
          term: term(terms[i] as number),
          kind,
          data: kind === 'config' ? config : kind === 'noop' ? new Uint8Array(0) : data,
        }));
      });
  }

  const header = { from: arbNodeId, fromAddress: arbAddress, term: arbTerm };

  const arbAppend: fc.Arbitrary<Extract<RaftMessage, { type: 'raft-append' }>> = fc
    .tuple(fc.nat(1_000), fc.nat(1_000), fc.nat(1_000))
    .chain(([prevIndex, a, b]) => {
      const prevTerm = Math.min(a, b);
      const msgTerm = Math.max(a, b);
      return fc.record({
        type: fc.constant('raft-append' as const),
        from: arbNodeId,
        fromAddress: arbAddress,
        term: fc.constant(term(msgTerm) as Term),
        prevIndex: fc.constant(logIndex(prevIndex)),
        prevTerm: fc.constant(term(prevTerm) as Term),
        commit: arbIndex,
        entries: arbEntries(prevIndex, prevTerm, msgTerm),
      });
    });

  const arbSnapshot: fc.Arbitrary<Extract<RaftMessage, { type: 'raft-snapshot' }>> = fc
    .tuple(fc.uint8Array({ maxLength: 64 }), fc.nat(64))
    .chain(([data, extra]) =>
      fc.record({
        type: fc.constant('raft-snapshot' as const),
        ...header,
        meta: fc.record({ index: arbIndex, term: arbTerm, config: arbConfigBytes }),
        totalBytes: fc.nat(64).map((offset) => offset + data.length + extra),
        offset: fc.constant(0),
        data: fc.constant(data),
      }),
    )
    .chain((m) => fc.nat(m.totalBytes - m.data.length).map((offset) => ({ ...m, offset })));

  return {
    'raft-vote-request': fc.record({
      type: fc.constant('raft-vote-request' as const),
      ...header,
      lastIndex: arbIndex,
      lastTerm: arbTerm,
      preVote: fc.boolean(),
      transfer: fc.boolean(),
    }),
    'raft-vote-response': fc.record({
      type: fc.constant('raft-vote-response' as const),
      ...header,
      preVote: fc.boolean(),
      granted: fc.boolean(),
    }),
    'raft-append': arbAppend,
    'raft-append-response': fc.record({
      type: fc.constant('raft-append-response' as const),
      ...header,
      reject: fc.boolean(),
      index: arbIndex,
      hintIndex: arbIndex,
      hintTerm: arbTerm,
    }),
    'raft-heartbeat': fc.record({
      type: fc.constant('raft-heartbeat' as const),
      ...header,
      commit: arbIndex,
      readSeq: arbCounter,
    }),
    'raft-heartbeat-response': fc.record({
      type: fc.constant('raft-heartbeat-response' as const),
      ...header,
      readSeq: arbCounter,
    }),
    'raft-snapshot': arbSnapshot,
    'raft-snapshot-response': fc.record({
      type: fc.constant('raft-snapshot-response' as const),
      ...header,
      index: arbIndex,
      offset: arbCounter,
      reject: fc.boolean(),
    }),
    'raft-timeout-now': fc.record({ type: fc.constant('raft-timeout-now' as const), ...header }),
    'raft-read-index': fc.record({
      type: fc.constant('raft-read-index' as const),
      ...header,
      requestId: arbCounter,
    }),
    'raft-read-index-response': fc.record({
      type: fc.constant('raft-read-index-response' as const),
      ...header,
      requestId: arbCounter,
      index: arbIndex,
      ok: fc.boolean(),
    }),
  };
}
