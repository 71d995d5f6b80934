/**
 * The signed-record fuzzer (issue 12), shared by test/codec/record-fuzz.test.ts and
 * bench/fuzz-codec.ts (`--records`): messages carrying genuinely signed member records and
 * accusations (real Ed25519 keys), mutated like the codec fuzzer mutates (fuzz.ts `mutate`).
 *
 * The oracle, on top of the codec's (never throws, typed rejections, canonical): every record or
 * accusation a mutated message decodes to that still verifies (its key hashes to its id and signs
 * it, or its accuser's key signs it) is byte for byte one of the genuine ones. No mutation of the
 * bytes on the wire makes a different statement that passes for signed.
 */
import fc from 'fast-check';
import type { Address } from '../../src/base/address.js';
import type { Rng } from '../../src/base/rng.js';
import { incarnation } from '../../src/base/units.js';
import {
  identityFromSeed,
  memberCrypto,
  publicKeyHex,
  type SigningIdentity,
} from '../../src/identity/member-crypto.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { PublicKey } from '../../src/identity/signed.js';
import { encodeMessage, updateEncodedBytes } from '../../src/membership/codec.js';
import {
  isAccusation,
  type Message,
  type MemberRecord,
  type Update,
} from '../../src/membership/messages.js';
import {
  accusationVerifies,
  recordVerifies,
  signAccusation,
  signRecord,
} from '../../src/membership/record.js';
import { decodeMessage } from './wire.js';
import { arbLabels } from './arbitraries.js';
import { checkInput, mutate, type FuzzStats } from './fuzz.js';

export const RECORD_FUZZ_CLUSTER_ID = 'fuzz-cluster';
const MEMBERS = 6;

const identities: SigningIdentity[] = Array.from({ length: MEMBERS }, (_, i) =>
  identityFromSeed(new Uint8Array(32).fill(0x40 + i)),
);
const crypto = memberCrypto(identities[0] as SigningIdentity);
const keyOf = new Map<NodeId, PublicKey>(identities.map((id) => [id.nodeId, publicKeyHex(id)]));

/** Genuine signed updates: records (alive and left, with labels) and accusations, seeded. */
function genuineUpdates(rng: Rng, count: number): Update[] {
  const labels = fc.sample(arbLabels, { seed: rng.int(1 << 30), numRuns: count });
  return Array.from({ length: count }, (_, i): Update => {
    const who = rng.int(MEMBERS);
    const identity = identities[who] as SigningIdentity;
    const inc = incarnation(rng.chance(1, 4) ? rng.int(2 ** 20) : rng.int(5));
    if (rng.chance(1, 3)) {
      const accuser = identities[(who + 1 + rng.int(MEMBERS - 1)) % MEMBERS] as SigningIdentity;
      return signAccusation(memberCrypto(accuser), RECORD_FUZZ_CLUSTER_ID, {
        kind: rng.chance(1, 2) ? 'suspect' : 'dead',
        id: identity.nodeId,
        incarnation: inc,
        from: accuser.nodeId,
      });
    }
    return signRecord(
      memberCrypto(identity),
      RECORD_FUZZ_CLUSTER_ID,
      rng.chance(1, 4) ? 'left' : 'alive',
      {
        id: identity.nodeId,
        incarnation: inc,
        name: `n${who}`,
        address: `10.0.0.${who}:7946` as Address,
        labels: labels[i] ?? {},
        publicKey: publicKeyHex(identity),
        certificate: undefined,
      },
    );
  });
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export interface RecordCorpus {
  messages: Uint8Array[];
  /** The wire bytes of every genuine update, as `updateEncodedBytes` lays them out. */
  genuine: Set<string>;
}

function updateBytes(update: Update): string {
  const message: Message = { type: 'gossip', from: update.id, updates: [update] };
  const bytes = encodeMessage(message, RECORD_FUZZ_CLUSTER_ID);
  return hexOf(bytes.subarray(bytes.length - updateEncodedBytes(update)));
}

/** Gossip and push-pull messages carrying genuine signed records, the same for the same seed. */
export function recordCorpus(rng: Rng, count: number): RecordCorpus {
  const genuine = new Set<string>();
  const messages: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const updates = genuineUpdates(rng, 1 + rng.int(4));
    for (const u of updates) genuine.add(updateBytes(u));
    const from = (identities[rng.int(MEMBERS)] as SigningIdentity).nodeId;
    if (n % 3 !== 2) {
      messages.push(encodeMessage({ type: 'gossip', from, updates }, RECORD_FUZZ_CLUSTER_ID));
      continue;
    }
    const members: MemberRecord[] = updates.flatMap((u) =>
      u.kind === 'alive' || u.kind === 'left'
        ? [{ ...u, state: u.kind, accusation: undefined }]
        : [],
    );
    for (const m of members)
      genuine.add(updateBytes({ ...m, kind: m.state === 'left' ? 'left' : 'alive' }));
    messages.push(
      encodeMessage(
        {
          type: 'push-pull',
          from,
          fromAddress: '10.0.0.9:7946' as Address,
          join: false,
          reply: false,
          configFingerprint: 'f',
          members,
        },
        RECORD_FUZZ_CLUSTER_ID,
      ),
    );
  }
  return { messages, genuine };
}

/** Whether `update` passes for signed (by the keys this fuzzer knows). */
function verifies(update: Update): boolean {
  if (!isAccusation(update))
    return recordVerifies(crypto, RECORD_FUZZ_CLUSTER_ID, update.kind, update) === 'ok';
  const key = keyOf.get(update.from);
  return key !== undefined && accusationVerifies(crypto, RECORD_FUZZ_CLUSTER_ID, update, key);
}

/** The updates (and push-pull records, as updates) a decoded message carries. */
function statements(message: Message): Update[] {
  if ('updates' in message) return message.updates;
  if (message.type !== 'push-pull') return [];
  return message.members.map((m) => ({ ...m, kind: m.state === 'left' ? 'left' : 'alive' }));
}

/** One mutated input through the codec oracle and the signature oracle. */
export function checkSignedInput(bytes: Uint8Array, corpus: RecordCorpus, stats: FuzzStats): void {
  checkInput(bytes, stats);
  const result = decodeMessage(bytes, { clusterId: RECORD_FUZZ_CLUSTER_ID });
  if (!result.ok || !('type' in result.message)) return;
  for (const update of statements(result.message as Message)) {
    if (!verifies(update)) continue;
    if (!corpus.genuine.has(updateBytes(update)) && stats.failures.length < 20)
      stats.failures.push(
        `a mutated ${update.kind} of ${update.id.slice(0, 8)}@${update.incarnation} still verifies; input ${hexOf(bytes)}`,
      );
  }
}

/** `cases` random mutations of the corpus's messages. */
export function fuzzSignedRecords(
  corpus: RecordCorpus,
  rng: Rng,
  cases: number,
  stats: FuzzStats,
): void {
  for (let n = 0; n < cases; n++)
    checkSignedInput(mutate(rng.pick(corpus.messages), rng), corpus, stats);
}
