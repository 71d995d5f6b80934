/**
 * The decoder's bounded intern tables (codec/bytes.ts, membership/codec.ts): far more distinct strings
 * than slots still decode to exactly the right values (a collision only costs a fresh string),
 * and the memo of validated addresses never lets a malformed address through, across its bound.
 */
import { describe, expect, it } from 'vitest';
import {
  ASCII_INTERN_SLOTS,
  ASCII_INTERN_STRING_BYTES_MAX,
  DecodeFailure,
  NODE_ID_INTERN_SLOTS,
  Reader,
  Writer,
} from '../../src/codec/bytes.js';
import { VALIDATED_ADDRESSES_MAX, readAddress } from '../../src/codec/bytes.js';
import { readLabels } from '../../src/membership/codec.js';
import type { NodeId } from '../../src/identity/node-id.js';

const LIMITS = { decodeListCountMax: 1 << 20, decodeStringBytesMax: 4096 };

function reader(write: (w: Writer) => void): Reader {
  const w = new Writer();
  write(w);
  return new Reader(w.finish(), LIMITS);
}

describe('decode interning', () => {
  it('decodes more distinct NodeIds than intern slots, each one exactly', () => {
    const count = NODE_ID_INTERN_SLOTS + 1000;
    const ids = Array.from(
      { length: count },
      (_, i) => ((i * 2654435761) >>> 0).toString(16).padStart(8, '0').repeat(4) as NodeId,
    );
    const r = reader((w) => {
      for (const id of ids) w.nodeId(id);
    });
    expect(ids.map(() => r.nodeId('id'))).toEqual(ids);
    const again = reader((w) => {
      for (const id of ids.slice(0, 100)) w.nodeId(id);
    });
    for (const id of ids.slice(0, 100)) expect(again.nodeId('id')).toBe(id);
  });

  it('interns short ASCII strings at the length bound and decodes longer and non-ASCII ones too', () => {
    const texts = [
      ASCII_INTERN_STRING_BYTES_MAX - 1,
      ASCII_INTERN_STRING_BYTES_MAX,
      ASCII_INTERN_STRING_BYTES_MAX + 1,
    ].map((n) => 'x'.repeat(n));
    texts.push(
      'é'.repeat(4),
      ...Array.from({ length: ASCII_INTERN_SLOTS + 10 }, (_, i) => `n${i}`),
    );
    const r = reader((w) => {
      for (const t of texts) w.string(t, 4096);
    });
    expect(texts.map(() => r.string('s'))).toEqual(texts);
  });

  it('rejects a malformed address even after the validated-address memo wrapped around', () => {
    const count = VALIDATED_ADDRESSES_MAX + 1;
    const r = reader((w) => {
      for (let i = 0; i < count; i++) w.string(`h${i}:1`, 255);
      w.string('h0:1', 255);
      w.string('no-port', 255);
    });
    const expected = Array.from({ length: count }, (_, i) => `h${i}:1`);
    expect(expected.map(() => readAddress(r, 'a'))).toEqual(expected);
    expect(readAddress(r, 'a')).toBe('h0:1');
    expect(() => readAddress(r, 'a')).toThrow(DecodeFailure);
  });

  it('decodes an empty label set to one shared frozen object', () => {
    const r = reader((w) => {
      w.varint(0);
      w.varint(0);
    });
    const first = readLabels(r);
    expect(Object.isFrozen(first)).toBe(true);
    expect(readLabels(r)).toBe(first);
  });
});
