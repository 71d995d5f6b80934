/**
 * fast-check arbitraries for every wire message (membership/messages.ts, election/messages.ts), shared by the codec
 * tests, the codec fuzzer (bench/fuzz-codec.ts) and any other test that needs realistic messages.
 * Values respect the codec's limits and the encoder's preconditions (well-formed strings,
 * parseable addresses, safe integers), so every generated message encodes.
 */
import { chainArbitraries } from '../chain/arbitraries.js';
import { treeArbitraries } from '../tree/arbitraries.js';
import fc from 'fast-check';
import type { Address } from '../../src/base/address.js';
import { toHex } from '../../src/base/hex.js';
import type {
  Certificate,
  Labels,
  MemberRecord,
  RecordFields,
  RejectReason,
  Update,
  WireMemberState,
} from '../../src/membership/messages.js';
import type { PublicKey, Signature } from '../../src/identity/signed.js';
import type { WireMessage } from './wire.js';
import { registryArbitraries } from '../crdt/arbitraries.js';
import { incarnation, term, type Incarnation, type Term } from '../../src/base/units.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { raftMessageArbitraries } from '../raft/arbitraries.js';
import { raftNodeMessageArbitraries } from '../node/raft-rpc-arbitraries.js';

export const arbNodeId: fc.Arbitrary<NodeId> = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => toHex(b) as NodeId);

/** Small numbers most of the time (like real seqs and incarnations), any safe integer sometimes. */
export const arbCounter: fc.Arbitrary<number> = fc.oneof(fc.nat(300), fc.maxSafeNat());
export const arbTerm: fc.Arbitrary<Term> = arbCounter.map((n) => term(n));
export const arbIncarnation: fc.Arbitrary<Incarnation> = arbCounter.map((n) => incarnation(n));

/** Any well-formed Unicode text (surrogate pairs included, lone surrogates never). */
export const arbText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', maxLength });

const arbPort = fc.integer({ min: 0, max: 65535 });

export const arbAddress: fc.Arbitrary<Address> = fc
  .oneof(
    fc.tuple(fc.ipV4(), arbPort).map(([host, port]) => `${host}:${port}`),
    fc.tuple(fc.ipV6(), arbPort).map(([host, port]) => `[${host}]:${port}`),
    fc.tuple(fc.domain(), arbPort).map(([host, port]) => `${host}:${port}`),
  )
  .filter((text) => text.length <= 255)
  .map((text) => text as Address);

export const arbLabels: fc.Arbitrary<Labels> = fc.dictionary(arbText(8), arbText(16), {
  maxKeys: 4,
  noNullPrototype: true,
});

/** Any 32 bytes, as the hex a public key is held in (the codec parses, the core verifies). */
export const arbPublicKey: fc.Arbitrary<PublicKey> = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => toHex(b) as PublicKey);

/** Any 64 bytes, as a signature's hex. */
export const arbSignature: fc.Arbitrary<Signature> = fc
  .uint8Array({ minLength: 64, maxLength: 64 })
  .map((b) => toHex(b) as Signature);

export const arbCertificate: fc.Arbitrary<Certificate> = fc.record({
  notBeforeMs: arbCounter,
  notAfterMs: arbCounter,
  signature: arbSignature,
});

/** The fields of a signed member record (record.ts), with a certificate one time in four. */
export const arbRecordFields: fc.Arbitrary<RecordFields> = fc.record({
  id: arbNodeId,
  incarnation: arbIncarnation,
  name: arbText(24),
  address: arbAddress,
  labels: arbLabels,
  publicKey: arbPublicKey,
  certificate: fc.option(arbCertificate, { freq: 3, nil: undefined }),
  signature: arbSignature,
});

export const arbUpdate: fc.Arbitrary<Update> = fc.oneof(
  fc
    .tuple(fc.constantFrom('alive' as const, 'left' as const), arbRecordFields)
    .map(([kind, fields]): Update => ({ kind, ...fields })),
  fc.record({
    kind: fc.constantFrom('suspect' as const, 'dead' as const),
    id: arbNodeId,
    incarnation: arbIncarnation,
    from: arbNodeId,
    signature: arbSignature,
  }),
);

export const arbUpdates: fc.Arbitrary<Update[]> = fc.array(arbUpdate, { maxLength: 8 });

export const arbMemberState: fc.Arbitrary<WireMemberState> = fc.constantFrom(
  'alive',
  'suspect',
  'dead',
  'left',
);

export const arbMemberRecord: fc.Arbitrary<MemberRecord> = fc
  .tuple(arbRecordFields, arbMemberState, arbNodeId, arbSignature)
  .map(([fields, state, from, signature]) => ({
    ...fields,
    state,
    accusation: state === 'suspect' || state === 'dead' ? { from, signature } : undefined,
  }));

export const arbRejectReason: fc.Arbitrary<RejectReason> = fc.constantFrom(
  'wrong_cluster',
  'bad_version',
  'config_mismatch',
  'too_many_members',
  'shutting_down',
  'not_admitted',
);

/** A 64-bit digest as the codec holds it: 16 lowercase hex characters (any 8 bytes). */
export const arbDigest: fc.Arbitrary<string> = fc
  .uint8Array({ minLength: 8, maxLength: 8 })
  .map(toHex);

/** One arbitrary per message type, keyed by type, so a test can cover each variant by name. */
export const arbMessageByType: {
  [T in WireMessage['type']]: fc.Arbitrary<Extract<WireMessage, { type: T }>>;
} = {
  ping: fc.record({
    type: fc.constant('ping' as const),
    seq: arbCounter,
    from: arbNodeId,
    fromAddress: arbAddress,
    target: arbNodeId,
    updates: arbUpdates,
  }),
  ack: fc.record({
    type: fc.constant('ack' as const),
    seq: arbCounter,
    from: arbNodeId,
    updates: arbUpdates,
  }),
  nack: fc.record({ type: fc.constant('nack' as const), seq: arbCounter, from: arbNodeId }),
  'ping-req': fc.record({
    type: fc.constant('ping-req' as const),
    seq: arbCounter,
    from: arbNodeId,
    target: arbNodeId,
    nack: fc.boolean(),
    updates: arbUpdates,
  }),
  gossip: fc.record({ type: fc.constant('gossip' as const), from: arbNodeId, updates: arbUpdates }),
  'push-pull': fc.record({
    type: fc.constant('push-pull' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    join: fc.boolean(),
    reply: fc.boolean(),
    configFingerprint: arbText(64),
    members: fc.array(arbMemberRecord, { maxLength: 12 }),
  }),
  'push-pull-digest': fc.record({
    type: fc.constant('push-pull-digest' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    reply: fc.boolean(),
    configDigest: arbDigest,
    viewDigest: arbDigest,
  }),
  reject: fc.record({
    type: fc.constant('reject' as const),
    from: arbNodeId,
    reason: arbRejectReason,
    detail: arbText(80),
  }),
  // Leader election (src/election/codec.ts).
  heartbeat: fc.record({
    type: fc.constant('heartbeat' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    term: arbTerm,
    sentAtMs: fc.nat(),
    echoMs: fc.option(fc.nat(), { nil: undefined }),
  }),
  'vote-request': fc.record({
    type: fc.constant('vote-request' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    term: arbTerm,
    preVote: fc.boolean(),
    configTerm: arbTerm,
    configVersion: fc.nat(),
  }),
  'vote-response': fc.record({
    type: fc.constant('vote-response' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    term: arbTerm,
    preVote: fc.boolean(),
    granted: fc.boolean(),
  }),
  'leader-heartbeat': fc.record({
    type: fc.constant('leader-heartbeat' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    term: arbTerm,
    configTerm: arbTerm,
    configVersion: fc.nat(),
    peers: fc.array(arbAddress, { maxLength: 7 }),
    pins: fc.array(fc.tuple(arbAddress, arbNodeId), { maxLength: 7 }),
  }),
  'heartbeat-ack': fc.record({
    type: fc.constant('heartbeat-ack' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    term: arbTerm,
    configTerm: arbTerm,
    configVersion: fc.nat(),
  }),
  'join-cluster': fc.record({
    type: fc.constant('join-cluster' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    configVersion: fc.nat(),
    joining: fc.boolean(),
  }),
  'peer-broadcast': fc.record({
    type: fc.constant('peer-broadcast' as const),
    from: arbNodeId,
    fromAddress: arbAddress,
    term: arbTerm,
    payload: arbText(120),
  }),
  ...registryArbitraries(arbNodeId, arbDigest),
  // Raft (src/raft/codec.ts).
  ...raftMessageArbitraries({ arbAddress, arbCounter, arbNodeId, arbTerm }),
  ...raftNodeMessageArbitraries({ arbAddress, arbCounter, arbNodeId, arbLabels }),
  // Chains (src/chain/messages.ts).
  ...chainArbitraries(arbNodeId),
  ...treeArbitraries(arbNodeId),
};

export const arbMessage: fc.Arbitrary<WireMessage> = fc.oneof(...Object.values(arbMessageByType));

/** Cluster ids within LIMITS.clusterIdBytesMax (64 bytes of UTF-8; 16 code points use at most 64). */
export const arbClusterId: fc.Arbitrary<string> = arbText(16);
