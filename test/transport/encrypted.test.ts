/**
 * Gossip encryption: authentication failures are counted and never delivered, keys rotate
 * without downtime (install everywhere, use, remove), the wire format is version | nonce |
 * ciphertext | tag, and the keyring validates its keys. Runs over the pumped memory fabric.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { hasErrorCode } from '../../src/base/errors.js';
import { LIMITS } from '../../src/base/limits.js';
import {
  ENCRYPTION_OVERHEAD_BYTES,
  EncryptedTransport,
  seal,
} from '../../src/transport/encrypted.js';
import { Keyring, decodeKey, generateKey } from '../../src/transport/keyring.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { record } from './compliance.js';
import { QueueFabric } from './test-fabric.js';

const k1 = generateKey();
const k2 = generateKey();
const A = '10.0.0.1:1' as Address;
const B = '10.0.0.2:1' as Address;

function pair(keysA: string[], keysB: string[]) {
  const fabric = new QueueFabric();
  const a = new EncryptedTransport(new MemoryTransport(fabric, A), Keyring.parse(keysA));
  const b = new EncryptedTransport(new MemoryTransport(fabric, B), Keyring.parse(keysB));
  return { fabric, a, b, logA: record(a), logB: record(b) };
}

/** Sends a packet and a frame each way and pumps everything through. */
function exchange(p: ReturnType<typeof pair>): void {
  p.a.sendPacket(B, Uint8Array.of(1));
  p.a.sendFrame(B, Uint8Array.of(2));
  p.b.sendPacket(A, Uint8Array.of(3));
  p.b.sendFrame(A, Uint8Array.of(4));
  p.fabric.pumpUntil(() => false);
}

describe('EncryptedTransport', () => {
  it('drops and counts payloads sealed with a key it does not hold; the handler never sees them', () => {
    const p = pair([k1], [k2]);
    exchange(p);
    expect(p.logA).toEqual([]);
    expect(p.logB).toEqual([]);
    expect(p.a.stats().dropped['auth_failed']).toBe(2);
    expect(p.b.stats().dropped['auth_failed']).toBe(2);
  });

  it.each([
    ['new key installed but not primary on A', [k1, k2], [k1]],
    ['different primaries, both keys on both', [k2, k1], [k1, k2]],
  ])('rotation stage "%s": both directions work', (_stage, keysA, keysB) => {
    const p = pair(keysA, keysB);
    exchange(p);
    expect(p.logB.map((r) => [r.channel, r.data[0]])).toEqual([
      ['packet', 1],
      ['stream', 2],
    ]);
    expect(p.logA.map((r) => [r.channel, r.data[0]])).toEqual([
      ['packet', 3],
      ['stream', 4],
    ]);
    expect(p.a.stats().dropped).toEqual({});
    expect(p.b.stats().dropped).toEqual({});
  });

  it('a node using a key its peer lacks is heard one way only: why rotation installs everywhere first', () => {
    const p = pair([k2, k1], [k1]);
    exchange(p);
    expect(p.logA.map((r) => r.data[0])).toEqual([3, 4]);
    expect(p.logB).toEqual([]);
    expect(p.b.stats().dropped['auth_failed']).toBe(2);
  });

  it('picks up keyring changes live: install, use, remove', () => {
    const ringA = Keyring.parse([k1]);
    const fabric = new QueueFabric();
    const a = new EncryptedTransport(new MemoryTransport(fabric, A), ringA);
    const b = new EncryptedTransport(new MemoryTransport(fabric, B), Keyring.parse([k2]));
    const logB = record(b);
    ringA.install(k2);
    ringA.use(k2);
    expect(ringA.remove(k1)).toBe(true);
    a.sendPacket(B, Uint8Array.of(9));
    fabric.pumpUntil(() => false);
    expect(logB.map((r) => r.data[0])).toEqual([9]);
  });

  it('drops tampered bytes, a packet replayed as a frame, short payloads and unknown versions', () => {
    const p = pair([k1], [k1]);
    const key = decodeKey(k1, 'k1');
    const tampered = seal(key, 'packet', Uint8Array.of(1, 2, 3));
    tampered[20] = (tampered[20] as number) ^ 1;
    const badVersion = seal(key, 'packet', Uint8Array.of(1));
    badVersion[0] = 9;
    const inner = new MemoryTransport(p.fabric, '10.0.0.3:1' as Address);
    inner.sendPacket(B, tampered);
    inner.sendFrame(B, seal(key, 'packet', Uint8Array.of(1)));
    inner.sendPacket(B, new Uint8Array(ENCRYPTION_OVERHEAD_BYTES - 1));
    inner.sendPacket(B, badVersion);
    inner.sendPacket(B, seal(key, 'packet', Uint8Array.of(5)));
    p.fabric.pumpUntil(() => false);
    expect(p.logB.map((r) => r.data)).toEqual([Uint8Array.of(5)]);
    expect(p.b.stats().dropped).toEqual({ auth_failed: 3, bad_encryption_version: 1 });
  });

  it('adds version + nonce + tag bytes, with a fresh nonce per message, and shrinks the budget', () => {
    const p = pair([k1], [k1]);
    const key = decodeKey(k1, 'k1');
    const one = seal(key, 'packet', new Uint8Array(10));
    const two = seal(key, 'packet', new Uint8Array(10));
    expect(one.length).toBe(10 + 29);
    expect(one.subarray(1, 13).equals(two.subarray(1, 13))).toBe(false);
    expect(p.a.packetOverheadBytes).toBe(29);
    expect(new EncryptedTransport(p.a, Keyring.parse([k2])).packetOverheadBytes).toBe(58);
    p.a.sendPacket(B, new Uint8Array(LIMITS.packetBytesMax - 28));
    expect(p.a.stats().dropped['oversized']).toBe(1);
    expect(p.a.stats().packetsSent).toBe(0);
  });
});

describe('Keyring', () => {
  const errorOf = (fn: () => unknown): { code?: string; message?: string } => {
    try {
      fn();
    } catch (err) {
      return err as { code?: string; message?: string };
    }
    throw new Error('expected a throw');
  };

  it('parses 1..keyringKeysMax keys and refuses 0 and keyringKeysMax+1', () => {
    const many = Array.from({ length: LIMITS.keyringKeysMax + 1 }, () => generateKey());
    expect(Keyring.parse(many.slice(0, 1)).list()).toEqual(many.slice(0, 1));
    expect(Keyring.parse(many.slice(0, LIMITS.keyringKeysMax)).keys()).toHaveLength(
      LIMITS.keyringKeysMax,
    );
    expect(
      hasErrorCode(
        errorOf(() => Keyring.parse([])),
        'ERR_KEYRING_INVALID',
      ),
    ).toBe(true);
    expect(
      hasErrorCode(
        errorOf(() => Keyring.parse(many)),
        'ERR_KEYRING_INVALID',
      ),
    ).toBe(true);
  });

  it.each([
    ['31 bytes', Buffer.alloc(31, 1).toString('base64')],
    ['33 bytes', Buffer.alloc(33, 1).toString('base64')],
    ['not base64', '!'.repeat(44)],
    ['unpadded', Buffer.alloc(32, 1).toString('base64').slice(0, 43)],
    ['non-canonical trailing bits', `${Buffer.alloc(32, 1).toString('base64').slice(0, 42)}B=`],
  ])('refuses a key of %s, naming its index', (_what, bad) => {
    const err = errorOf(() => Keyring.parse([k1, bad]));
    expect(err.code).toBe('ERR_KEYRING_INVALID');
    expect(err.message).toContain('keyring[1]');
  });

  it('refuses duplicate keys, naming both indexes', () => {
    expect(errorOf(() => Keyring.parse([k1, k2, k1])).message).toContain(
      'keyring[2] repeats keyring[0]',
    );
  });

  it('install, use and remove keep one primary and refuse removing it', () => {
    const ring = Keyring.parse([k1]);
    expect(ring.install(k2)).toBe(true);
    expect(ring.install(k2)).toBe(false);
    expect(ring.list()).toEqual([k1, k2]);
    ring.use(k2);
    expect(ring.list()).toEqual([k2, k1]);
    expect(errorOf(() => ring.remove(k2)).code).toBe('ERR_KEYRING_INVALID');
    expect(ring.remove(k1)).toBe(true);
    expect(ring.remove(k1)).toBe(false);
    expect(errorOf(() => ring.use(k1)).code).toBe('ERR_KEYRING_INVALID');
    expect(ring.primary().toString('base64')).toBe(k2);
  });

  it('refuses to install past keyringKeysMax', () => {
    const ring = Keyring.parse(Array.from({ length: LIMITS.keyringKeysMax }, () => generateKey()));
    expect(errorOf(() => ring.install(generateKey())).code).toBe('ERR_KEYRING_INVALID');
  });

  it('generateKey makes distinct 32-byte keys', () => {
    expect(decodeKey(k1, 'k1')).toHaveLength(32);
    expect(k1).not.toBe(k2);
  });
});
