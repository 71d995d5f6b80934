/**
 * The pure side of signing (docs/security.md): the hex forms of Ed25519 public keys and
 * signatures that cores and codecs hold, and `MemberCrypto`, the capability a protocol core is
 * given to sign and verify. Cores cannot import node:crypto (STYLE.md section 2), so signing
 * arrives as an injected object, like the Rng: production builds it from the node's identity
 * (member-crypto.ts), the simulator from keys derived from its seed, with the same code.
 *
 * Keys and signatures are lowercase hex strings, not byte arrays: strings are immutable, so a
 * decoder may intern them (codec/bytes.ts) and a simulated cluster of N nodes holds each member's
 * key and record signature once instead of N times.
 */
import type { Brand } from '../base/brand.js';
import type { NodeId } from './node-id.js';

/** A raw 32-byte Ed25519 public key, as 64 lowercase hex characters. */
export type PublicKey = Brand<string, 'PublicKey'>;
/** A 64-byte Ed25519 signature, as 128 lowercase hex characters. */
export type Signature = Brand<string, 'Signature'>;

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

const PUBLIC_KEY_RE = /^[0-9a-f]{64}$/;
const SIGNATURE_RE = /^[0-9a-f]{128}$/;

export function isPublicKey(text: string): text is PublicKey {
  return PUBLIC_KEY_RE.test(text);
}

export function isSignature(text: string): text is Signature {
  return SIGNATURE_RE.test(text);
}

/**
 * Signing and verification as a capability. `sign` signs with this node's own private key (a
 * core never holds a private key, only the ability to sign as itself); `verify` and `nodeIdOf`
 * are pure functions of their arguments. None of them throws for bad input: a malformed key or
 * signature from the network verifies false.
 */
export interface MemberCrypto {
  /** This node's Ed25519 signature of `data`. */
  sign(data: Uint8Array): Signature;
  /** True when `signature` is `publicKey`'s Ed25519 signature of `data`. */
  verify(publicKey: PublicKey, data: Uint8Array, signature: Signature): boolean;
  /** The NodeId of a public key: hex(SHAKE-256(key)[0..16]) (node-id.ts). */
  nodeIdOf(publicKey: PublicKey): NodeId;
}
