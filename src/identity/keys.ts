/**
 * Ed25519 keys (RFC 8032) and the NodeId derived from them. A node's identity is its key pair;
 * its NodeId is hex(SHAKE-256(raw 32-byte public key)[0..16]) so that anyone holding the public
 * key can check a claimed NodeId. Not a protocol core: node:crypto is allowed here.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { assert } from '../base/assert.js';
import { toHex } from '../base/hex.js';
import { NODE_ID_BYTES, type NodeId } from './node-id.js';

/** Bytes of a raw Ed25519 public key and of a private key seed (RFC 8032 §5.1.5). */
export const ED25519_KEY_BYTES = 32;
/** Bytes of an Ed25519 signature. */
export const ED25519_SIGNATURE_BYTES = 64;

// DER prefixes that wrap a raw 32-byte key into PKCS#8 (private) and SPKI (public) for node:crypto
// (RFC 8410 §7 and §4: the algorithm id 1.3.101.112 followed by the key octets).
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

/** A key pair as raw bytes: the 32-byte private seed and the 32-byte public key. */
export interface RawKeyPair {
  privateSeed: Uint8Array;
  publicKey: Uint8Array;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The raw 32-byte public key of a node:crypto Ed25519 key (the tail of its SPKI DER). */
function rawPublicKey(key: KeyObject): Uint8Array {
  const der = new Uint8Array(key.export({ format: 'der', type: 'spki' }));
  assert(
    der.length === SPKI_PREFIX.length + ED25519_KEY_BYTES,
    `unexpected Ed25519 SPKI length ${der.length}`,
  );
  return der.slice(SPKI_PREFIX.length);
}

/** A fresh random Ed25519 key pair. */
export function generateRawKeyPair(): RawKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pkcs8 = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
  assert(
    pkcs8.length === PKCS8_PREFIX.length + ED25519_KEY_BYTES,
    `unexpected Ed25519 PKCS#8 length ${pkcs8.length}`,
  );
  return { privateSeed: pkcs8.slice(PKCS8_PREFIX.length), publicKey: rawPublicKey(publicKey) };
}

/** The node:crypto private key for a 32-byte seed. */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  assert(
    seed.length === ED25519_KEY_BYTES,
    `Ed25519 seed must be ${ED25519_KEY_BYTES} bytes, got ${seed.length}`,
  );
  return createPrivateKey({
    key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The raw public key that belongs to a private seed (used to check a stored pair is consistent). */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  return publicKeyOf(privateKeyFromSeed(seed));
}

/** The raw public key of a node:crypto Ed25519 private key. */
export function publicKeyOf(privateKey: KeyObject): Uint8Array {
  return rawPublicKey(createPublicKey(privateKey));
}

/** hex(SHAKE-256(publicKey)[0..16]): the NodeId of a raw 32-byte Ed25519 public key. */
export function nodeIdFromPublicKey(publicKey: Uint8Array): NodeId {
  assert(
    publicKey.length === ED25519_KEY_BYTES,
    `Ed25519 public key must be ${ED25519_KEY_BYTES} bytes, got ${publicKey.length}`,
  );
  const digest = createHash('shake256', { outputLength: NODE_ID_BYTES }).update(publicKey).digest();
  return toHex(digest) as NodeId;
}

/** The node:crypto key object of a raw 32-byte Ed25519 public key, or undefined when it is not one. */
export function publicKeyObject(publicKey: Uint8Array): KeyObject | undefined {
  if (publicKey.length !== ED25519_KEY_BYTES) return undefined;
  try {
    return createPublicKey({
      key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)),
      format: 'der',
      type: 'spki',
    });
  } catch {
    return undefined;
  }
}

/** An Ed25519 signature of `data` by the private key `privateKey`. */
export function signWith(privateKey: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(cryptoSign(null, data, privateKey));
}

/**
 * True when `signature` is a valid Ed25519 signature of `data` by `publicKey` (raw 32 bytes).
 * Malformed keys or signatures give false, never an exception: they arrive from the network.
 * `keyObject`, when given, is `publicKey` already wrapped by node:crypto (a caller's cache).
 */
export function verify(
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
  keyObject?: KeyObject,
): boolean {
  if (publicKey.length !== ED25519_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES)
    return false;
  try {
    const key = keyObject ?? publicKeyObject(publicKey);
    return key !== undefined && cryptoVerify(null, data, key, signature);
  } catch {
    return false;
  }
}
