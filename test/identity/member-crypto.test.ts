/**
 * The signing capability (identity/member-crypto.ts): identities derived from a seed are real
 * Ed25519 keys whose NodeId is their hash, and verification is false, never a throw, for
 * anything from the network that is not a valid signature of those exact bytes by that key
 * (its cache of successes included).
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/base/hex.js';
import { nodeIdFromPublicKey, verify } from '../../src/identity/keys.js';
import {
  identityFromSeed,
  memberCrypto,
  publicKeyHex,
  verifyHex,
} from '../../src/identity/member-crypto.js';
import type { PublicKey, Signature } from '../../src/identity/signed.js';

const data = new TextEncoder().encode('shoal/member-record/v1 test');

describe('member crypto', () => {
  it('a seed gives the same real identity every time; its NodeId is the hash of its key', () => {
    const seed = new Uint8Array(32).fill(9);
    const a = identityFromSeed(seed);
    const b = identityFromSeed(seed);
    expect(a.nodeId).toBe(b.nodeId);
    expect(a.nodeId).toBe(nodeIdFromPublicKey(a.publicKey));
    expect(identityFromSeed(new Uint8Array(32).fill(8)).nodeId).not.toBe(a.nodeId);
    // Ed25519 is deterministic: the same bytes give the same signature (simulation replays).
    expect(toHex(a.sign(data))).toBe(toHex(b.sign(data)));
    expect(verify(a.publicKey, data, a.sign(data))).toBe(true);
  });

  it('verifies exactly the signed bytes with exactly the key; a cached success never accepts anything else', () => {
    const signer = identityFromSeed(new Uint8Array(32).fill(1));
    const other = identityFromSeed(new Uint8Array(32).fill(2));
    const crypto = memberCrypto(signer);
    const signature = crypto.sign(data);
    const key = publicKeyHex(signer);
    expect(verifyHex(key, data, signature)).toBe(true);
    expect(verifyHex(key, data, signature)).toBe(true);
    const changed = data.slice();
    changed[0] = (changed[0] as number) ^ 1;
    expect(verifyHex(key, changed, signature)).toBe(false);
    expect(verifyHex(publicKeyHex(other), data, signature)).toBe(false);
    const flipped = (signature.slice(0, 127) + (signature.endsWith('0') ? '1' : '0')) as Signature;
    expect(verifyHex(key, data, flipped)).toBe(false);
    expect(crypto.nodeIdOf(key)).toBe(signer.nodeId);
  });

  it('malformed keys and signatures from the network verify false and never throw', () => {
    const signer = identityFromSeed(new Uint8Array(32).fill(3));
    const signature = memberCrypto(signer).sign(data);
    for (const key of ['', 'zz'.repeat(32), 'AB'.repeat(32), '00'.repeat(31), '00'.repeat(32)])
      expect(verifyHex(key as PublicKey, data, signature)).toBe(false);
    for (const sig of ['', '00'.repeat(63), 'x'.repeat(128)])
      expect(verifyHex(publicKeyHex(signer), data, sig as Signature)).toBe(false);
    expect(memberCrypto(signer).nodeIdOf('nope' as PublicKey)).toBe('');
  });
});
