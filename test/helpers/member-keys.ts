/**
 * Deterministic Ed25519 identities for tests: member `i` has the key derived from seed bytes
 * `i`, so its NodeId is the real hash of a real key, and records and accusations signed here
 * verify in the membership core exactly as they do in production (docs/security.md).
 */
import type { Address } from '../../src/base/address.js';
import { incarnation as asIncarnation } from '../../src/base/units.js';
import {
  identityFromSeed,
  memberCrypto,
  publicKeyHex,
  type SigningIdentity,
} from '../../src/identity/member-crypto.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { MemberCrypto } from '../../src/identity/signed.js';
import type {
  AccusationUpdate,
  Certificate,
  Labels,
  RecordUpdate,
} from '../../src/membership/messages.js';
import { signAccusation, signRecord } from '../../src/membership/record.js';
import type { MembershipSecurity } from '../../src/membership/types.js';

/** The cluster id the membership unit tests sign under. */
export const TEST_CLUSTER_ID = 'test';

const identities = new Map<number, SigningIdentity>();

/** Member `i`'s identity: an Ed25519 key from a seed of 32 bytes holding `i`. */
export function testIdentity(i: number): SigningIdentity {
  let identity = identities.get(i);
  if (identity === undefined) {
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(28, i);
    seed[0] = 0x5e;
    identity = identityFromSeed(seed);
    identities.set(i, identity);
  }
  return identity;
}

export function testId(i: number): NodeId {
  return testIdentity(i).nodeId;
}

export function testCrypto(i: number): MemberCrypto {
  return memberCrypto(testIdentity(i));
}

/** The security capabilities member `i`'s core runs with (every check on, no admission). */
export function testSecurity(
  i: number,
  overrides: Partial<MembershipSecurity> = {},
): MembershipSecurity {
  return {
    clusterId: TEST_CLUSTER_ID,
    crypto: testCrypto(i),
    publicKey: publicKeyHex(testIdentity(i)),
    certificate: undefined,
    verifySignatures: true,
    ...overrides,
  };
}

export interface RecordOptions {
  name?: string;
  address?: Address;
  labels?: Labels;
  certificate?: Certificate;
  clusterId?: string;
  /** Sign with this member's key instead (a forgery). */
  signer?: number;
}

/** Member `i`'s own record, signed by it (or by `options.signer`). */
export function testRecord(
  kind: 'alive' | 'left',
  i: number,
  incarnation: number,
  options: RecordOptions = {},
): RecordUpdate {
  return signRecord(testCrypto(options.signer ?? i), options.clusterId ?? TEST_CLUSTER_ID, kind, {
    id: testId(i),
    incarnation: asIncarnation(incarnation),
    name: options.name ?? `n${i}`,
    address: options.address ?? (`10.0.0.${i}:7946` as Address),
    labels: options.labels ?? {},
    publicKey: publicKeyHex(testIdentity(i)),
    certificate: options.certificate,
  });
}

/** An accusation of `subject` at `incarnation` by `accuser`, signed by it (or by `signer`). */
export function testAccusation(
  kind: 'suspect' | 'dead',
  subject: number,
  incarnation: number,
  accuser: number,
  signer: number = accuser,
): AccusationUpdate {
  return signAccusation(testCrypto(signer), TEST_CLUSTER_ID, {
    kind,
    id: testId(subject),
    incarnation: asIncarnation(incarnation),
    from: testId(accuser),
  });
}
