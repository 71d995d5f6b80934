/**
 * fast-check arbitraries for the raft-mode node messages (src/node/raft-rpc-codec.ts), merged
 * into the codec tests' `arbMessageByType` (test/codec/arbitraries.ts). Every generated message
 * is one the decoder accepts, so it round-trips.
 */
import fc from 'fast-check';
import type { Address } from '../../src/base/address.js';
import { ERROR_CODES, type ErrorCode } from '../../src/base/errors.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { Labels } from '../../src/membership/messages.js';
import {
  HELLO_URLS_MAX,
  type RaftNodeMessage,
  type RpcArgs,
  type RpcOutcome,
} from '../../src/node/raft-rpc-codec.js';
import type { ConfigChange, RequestFailure } from '../../src/raft/types.js';

export interface Primitives {
  arbAddress: fc.Arbitrary<Address>;
  arbLabels: fc.Arbitrary<Labels>;
  arbCounter: fc.Arbitrary<number>;
  arbNodeId: fc.Arbitrary<NodeId>;
}

type ByType = {
  [T in RaftNodeMessage['type']]: fc.Arbitrary<Extract<RaftNodeMessage, { type: T }>>;
};

const FAILURES: readonly RequestFailure[] = [
  'not-leader',
  'no-leader',
  'dropped',
  'transferring',
  'too-large',
  'queue-full',
  'timeout',
  'change-pending',
  'invalid',
  'unknown',
];

export function raftNodeMessageArbitraries(p: Primitives): ByType {
  const { arbAddress, arbCounter, arbNodeId, arbLabels } = p;
  const header = { from: arbNodeId, fromAddress: arbAddress };
  const arbLease = arbCounter.filter((n) => n > 0);
  const arbUrls = fc.array(fc.string({ maxLength: 40 }), { maxLength: HELLO_URLS_MAX });
  const arbChange: fc.Arbitrary<ConfigChange> = fc.oneof(
    fc.record(
      {
        op: fc.constant('add' as const),
        address: arbAddress,
        as: fc.constantFrom('voter' as const, 'learner' as const),
        id: arbNodeId,
      },
      { requiredKeys: ['op', 'address', 'as'] },
    ),
    fc.record({ op: fc.constantFrom('promote' as const, 'remove' as const), id: arbNodeId }),
  );
  const arbArgs: fc.Arbitrary<RpcArgs> = fc.oneof(
    fc.record({ op: fc.constant('propose' as const), data: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({
      op: fc.constantFrom('keep-alive' as const, 'time-to-live' as const),
      lease: arbLease,
    }),
    fc.record({ op: fc.constant('change' as const), change: arbChange }),
    fc.record({ op: fc.constant('transfer' as const), to: arbNodeId }),
  );
  const arbOutcome: fc.Arbitrary<RpcOutcome> = fc.oneof(
    fc.record({ kind: fc.constant('ok' as const), value: arbCounter, term: arbCounter }),
    fc.record(
      {
        kind: fc.constant('refused' as const),
        reason: fc.constantFrom(...FAILURES),
        message: fc.string({ maxLength: 40 }),
        leader: arbAddress,
      },
      { requiredKeys: ['kind', 'reason', 'message'] },
    ),
    fc.record({
      kind: fc.constant('error' as const),
      code: fc.constantFrom(...(Object.keys(ERROR_CODES) as ErrorCode[])),
      message: fc.string({ maxLength: 40 }),
    }),
  );
  return {
    'raft-node-hello': fc.record({
      type: fc.constant('raft-node-hello' as const),
      ...header,
      name: fc.string({ maxLength: 32 }),
      labels: arbLabels,
      httpUrls: arbUrls,
      grpcUrls: arbUrls,
    }),
    'raft-node-request': fc.record({
      type: fc.constant('raft-node-request' as const),
      ...header,
      requestId: arbCounter,
      args: arbArgs,
    }),
    'raft-node-response': fc.record({
      type: fc.constant('raft-node-response' as const),
      ...header,
      requestId: arbCounter,
      outcome: arbOutcome,
    }),
  };
}
