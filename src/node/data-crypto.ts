/**
 * The data plane's crypto capabilities over node:crypto and the node's identity: SHA-256 and
 * Ed25519 for the registry's signed partitions (crdt/registry/signing.ts), for chains
 * (chain/chain.ts `ChainCrypto`) and for Merkle trees (tree/merkle.ts `Sha256`). The pure cores
 * receive these functions; production and the simulator bind them here, with the same code
 * (a simulated node's identity is a real key derived from its seed).
 */
import { createHash } from 'node:crypto';
import type { ChainCrypto } from '../chain/chain.js';
import type { RegistrySecurity } from '../crdt/registry/signing.js';
import { toHex } from '../base/hex.js';
import {
  memberCrypto,
  publicKeyHex,
  verifyHex,
  type SigningIdentity,
} from '../identity/member-crypto.js';
import type { PublicKey, Signature } from '../identity/signed.js';

/** SHA-256 of `data` (32 bytes). */
export function sha256(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}

/**
 * What the registry core of a node signs and verifies with: its identity's key, the cluster id
 * signed into every version, and whether to check signatures at all (`false` only for the
 * simulator's `-unsafe` scenarios, as `unsafeSkipVerification` does for membership).
 */
export function registrySecurity(
  identity: SigningIdentity,
  clusterId: string,
  verifySignatures = true,
): RegistrySecurity {
  const { sign, verify } = memberCrypto(identity);
  return {
    clusterId,
    crypto: { sign, verify, sha256 },
    publicKey: publicKeyHex(identity),
    verifySignatures,
  };
}

/** SHA-256 and Ed25519 verification over raw bytes, for chains (`ChainCrypto`). */
export const CHAIN_CRYPTO: ChainCrypto = {
  sha256,
  verify: (publicKey, data, signature) =>
    verifyHex(toHex(publicKey) as PublicKey, data, toHex(signature) as Signature),
};
