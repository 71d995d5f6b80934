/**
 * `MemberCrypto` (signed.ts) over node:crypto, for a node that holds its identity's private key:
 * production builds it from the persisted identity (identity.ts), the simulator from a key
 * derived from its seed (`identityFromSeed`), so both run the same signing and verifying code.
 *
 * Cost: an Ed25519 verify is ~50-70 µs, a sign ~25-40 µs. Membership verifies a record only when
 * it changes something (docs/security.md), and two bounded caches make the rest cheap:
 * - public key objects, by key (building one from DER is ~10 µs);
 * - successful verifications, keyed by (key, data, signature) exactly, process-wide: a process
 *   that runs many nodes (tests, the simulator, the one-process benches) verifies each gossiped
 *   record once, not once per node. Only successes are cached, so forged input cannot fill it;
 *   a hit is an exact match of all three, so it can never accept what `verify` would refuse.
 */
import type { KeyObject } from 'node:crypto';
import { toHex } from '../base/hex.js';
import {
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  publicKeyObject,
  publicKeyOf,
  signWith,
  verify,
} from './keys.js';
import type { NodeId } from './node-id.js';
import {
  isPublicKey,
  isSignature,
  type MemberCrypto,
  type PublicKey,
  type Signature,
} from './signed.js';

/** Most public key objects kept (a cluster's members); the cache is cleared when full. */
export const KEY_OBJECTS_MAX = 65_536;
/** Most successful verifications remembered process-wide; cleared when full. */
export const VERIFIED_MAX = 65_536;

const keyObjects = new Map<string, KeyObject>();
const verified = new Set<string>();

/** The signing half of an identity: what `buildNode` needs to sign this node's records. */
export interface SigningIdentity {
  readonly nodeId: NodeId;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

function keyObject(publicKey: PublicKey): KeyObject | undefined {
  let key = keyObjects.get(publicKey);
  if (key !== undefined) return key;
  key = publicKeyObject(Buffer.from(publicKey, 'hex'));
  if (key === undefined) return undefined;
  if (keyObjects.size >= KEY_OBJECTS_MAX) keyObjects.clear();
  keyObjects.set(publicKey, key);
  return key;
}

/** Verifies with the caches above; false for malformed keys or signatures, never a throw. */
export function verifyHex(publicKey: PublicKey, data: Uint8Array, signature: Signature): boolean {
  if (!isPublicKey(publicKey) || !isSignature(signature)) return false;
  const memo = `${publicKey}${signature}${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')}`;
  if (verified.has(memo)) return true;
  const key = keyObject(publicKey);
  if (key === undefined) return false;
  const ok = verify(Buffer.from(publicKey, 'hex'), data, Buffer.from(signature, 'hex'), key);
  if (!ok) return false;
  if (verified.size >= VERIFIED_MAX) verified.clear();
  verified.add(memo);
  return true;
}

/** `MemberCrypto` for a node that signs as `identity`. */
export function memberCrypto(identity: Pick<SigningIdentity, 'sign'>): MemberCrypto {
  return {
    sign: (data) => Buffer.from(identity.sign(data)).toString('hex') as Signature,
    verify: verifyHex,
    nodeIdOf: (publicKey) =>
      isPublicKey(publicKey)
        ? nodeIdFromPublicKey(Buffer.from(publicKey, 'hex'))
        : // No key hashes to this: a record carrying a malformed key never matches its id.
          ('' as NodeId),
  };
}

/**
 * A signing identity from a 32-byte Ed25519 seed (RFC 8032 §5.1.5): deterministic, so a
 * simulated node's NodeId is the real hash of a real key and its signatures replay byte for byte.
 */
export function identityFromSeed(seed: Uint8Array): SigningIdentity {
  const privateKey = privateKeyFromSeed(seed);
  const publicKey = publicKeyOf(privateKey);
  return {
    nodeId: nodeIdFromPublicKey(publicKey),
    publicKey,
    sign: (data) => signWith(privateKey, data),
  };
}

/** The public key of an identity in the hex form cores hold. */
export function publicKeyHex(identity: Pick<SigningIdentity, 'publicKey'>): PublicKey {
  return toHex(identity.publicKey) as PublicKey;
}
