/**
 * XXH64 is FROZEN (src/placement/xxh64.ts): these vectors are xxhash's own sanity checks (its
 * xxhsum self-test over the generated sanity buffer, and the well-known strings), so a change to
 * the function fails here before it moves a single key; a differential run against the reference
 * implementation (xxhash-wasm) covers every length path (< 4, < 8, < 32, stripes) and seeds.
 */
import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { xxh64, xxh64Hex, xxh64StringInto } from '../../src/placement/xxh64.js';

/** xxhsum's sanity buffer: byteGen starts at PRIME32_1 and is multiplied by PRIME64_1 per byte. */
function sanityBuffer(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let gen = 2654435761n;
  for (let i = 0; i < length; i++) {
    out[i] = Number(gen >> 56n);
    gen = (gen * 11400714785074694797n) & 0xffffffffffffffffn;
  }
  return out;
}

const PRIME32 = 2654435761n;
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('xxh64 (pinned 64-bit hash)', () => {
  let reference: (data: Uint8Array, seed: bigint) => bigint;
  beforeAll(async () => {
    const api = await xxhash();
    reference = (data, seed) => api.h64Raw(data, seed);
  });

  it('gives the published vectors of the sanity buffer', () => {
    const buf = sanityBuffer(222);
    expect(xxh64(new Uint8Array(0))).toBe(0xef46db3751d8e999n);
    expect(xxh64(buf.subarray(0, 1))).toBe(0xe934a84adb052768n);
    expect(xxh64(buf.subarray(0, 1), PRIME32)).toBe(0x5014607643a9b4c3n);
    expect(xxh64(buf.subarray(0, 4))).toBe(0x9136a0dca57457een);
    expect(xxh64(buf.subarray(0, 14))).toBe(0x8282dcc4994e35c8n);
    expect(xxh64(buf.subarray(0, 14), PRIME32)).toBe(0xc3bd6bf63deb6df0n);
    expect(xxh64(buf.subarray(0, 222))).toBe(0xb641ae8cb691c174n);
    expect(xxh64(buf.subarray(0, 222), PRIME32)).toBe(0x20cb8ab7ae10c14an);
  });

  it('gives the published vectors of short strings', () => {
    expect(xxh64(utf8('a'))).toBe(0xd24ec4f1a98c6e5bn);
    expect(xxh64(utf8('abc'))).toBe(0x44bc2cf5ad770999n);
    expect(xxh64Hex('abc')).toBe('44bc2cf5ad770999');
  });

  it('equals the reference implementation on every length path and any seed', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
        (data, seed) => xxh64(data, seed) === reference(data, seed),
      ),
      { seed: 16, numRuns: 2000 },
    );
  });

  it('hashes a string as its UTF-8 bytes, ASCII or not, however long', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const out = xxh64StringInto(text);
        const got = (BigInt(out[0] as number) << 32n) | BigInt(out[1] as number);
        return got === reference(utf8(text), 0n);
      }),
      { seed: 16, numRuns: 500 },
    );
    const long = 'k'.repeat(5000) + 'é';
    expect(xxh64Hex(long)).toBe(reference(utf8(long), 0n).toString(16).padStart(16, '0'));
  });
});
