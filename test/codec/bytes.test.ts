import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeFailure, Reader, Writer, utf8Bytes, varintBytes } from '../../src/codec/bytes.js';
import { arbText } from './arbitraries.js';

const LIMITS = { decodeListCountMax: 10, decodeStringBytesMax: 100 };

function readWith<T>(bytes: Uint8Array, read: (r: Reader) => T): T | string {
  try {
    const r = new Reader(bytes, LIMITS);
    const value = read(r);
    r.end();
    return value;
  } catch (err) {
    if (err instanceof DecodeFailure) return err.code;
    throw err;
  }
}

describe('varint', () => {
  it('round-trips every safe integer in varintBytes(v) bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(1 << 16), fc.maxSafeNat()), (value) => {
        const w = new Writer(1);
        w.varint(value);
        const bytes = w.finish();
        expect(bytes.length).toBe(varintBytes(value));
        expect(readWith(bytes, (r) => r.varint('v'))).toBe(value);
      }),
    );
  });
  it('has the documented boundaries', () => {
    const table: [number, number][] = [
      [0, 1],
      [127, 1],
      [128, 2],
      [16383, 2],
      [16384, 3],
      [2 ** 49 - 1, 7],
      [2 ** 49, 8],
      [Number.MAX_SAFE_INTEGER, 8],
    ];
    for (const [value, bytes] of table) expect([value, varintBytes(value)]).toEqual([value, bytes]);
  });
  it('rejects non-canonical, unsafe and cut varints', () => {
    expect(readWith(Uint8Array.from([0x80, 0x00]), (r) => r.varint('v'))).toBe(
      'ERR_DECODE_MALFORMED',
    );
    expect(
      readWith(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), (r) =>
        r.varint('v'),
      ),
    ).toBe('ERR_DECODE_UNSAFE_INTEGER');
    expect(readWith(Uint8Array.from([0x80]), (r) => r.varint('v'))).toBe('ERR_DECODE_TRUNCATED');
  });
});

describe('strings', () => {
  it('utf8Bytes equals TextEncoder length, lone surrogates included', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
          maxLength: 40,
        }),
        (text) => {
          expect(utf8Bytes(text)).toBe(new TextEncoder().encode(text).length);
        },
      ),
    );
  });
  it('round-trip through both the short (patched prefix) and long paths, and the ASCII cache', () => {
    fc.assert(
      fc.property(fc.oneof(arbText(10), arbText(80), fc.string({ maxLength: 30 })), (text) => {
        const w = new Writer(2);
        w.string(text, 1000);
        w.string(text, 1000);
        const bytes = w.finish();
        expect(
          readWith(bytes, (r) =>
            r.string('a', 1000) === text ? r.string('b', 1000) : 'first differs',
          ),
        ).toBe(text);
      }),
    );
  });
  it('a cached string is never returned for different bytes of the same length', () => {
    const w = new Writer();
    for (let i = 0; i < 2000; i++) w.string(`k${i}`, 100);
    const r = new Reader(w.finish(), LIMITS);
    for (let i = 0; i < 2000; i++) expect(r.string('s')).toBe(`k${i}`);
  });
});

describe('counts', () => {
  it('refuses a count above the limit or one that cannot fit in the bytes left', () => {
    expect(readWith(Uint8Array.from([11]), (r) => r.count('c', 1))).toBe('ERR_DECODE_OVERSIZED');
    expect(readWith(Uint8Array.from([3, 0, 0]), (r) => r.count('c', 1))).toBe(
      'ERR_DECODE_TRUNCATED',
    );
    expect(
      readWith(Uint8Array.from([2, 0, 0]), (r) => [r.count('c', 1), r.u8('x'), r.u8('y')]),
    ).toEqual([2, 0, 0]);
  });
});
