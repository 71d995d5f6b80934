import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/base/hex.js';

describe('hex', () => {
  it('round-trips any bytes and matches Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = toHex(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('hex'));
        expect(fromHex(text)).toEqual(bytes);
      }),
    );
  });
  it('rejects odd length and non-hex digits', () => {
    expect(() => fromHex('abc')).toThrow(/odd length/);
    expect(() => fromHex('0g')).toThrow(/non-hex/);
  });
});
