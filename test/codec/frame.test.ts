import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/base/limits.js';
import { FrameDecoder, encodeFrame } from '../../src/codec/frame.js';

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Pushes `stream` cut at `splits` and returns the frames (or the error code). */
function decodeSplit(stream: Uint8Array, splits: number[], limit?: number): Uint8Array[] | string {
  const decoder = new FrameDecoder(limit);
  const frames: Uint8Array[] = [];
  let start = 0;
  for (const end of [...splits, stream.length]) {
    const result = decoder.decode(stream.subarray(start, end));
    if (!result.ok) return result.error.code;
    frames.push(...result.frames);
    start = end;
  }
  expect(decoder.bufferedBytes).toBe(0);
  return frames;
}

describe('frames', () => {
  it('encodeFrame writes a 4-byte big-endian length', () => {
    expect(Array.from(encodeFrame(Uint8Array.from([7, 8, 9])))).toEqual([0, 0, 0, 3, 7, 8, 9]);
    expect(Array.from(encodeFrame(new Uint8Array(0)))).toEqual([0, 0, 0, 0]);
  });

  it('decodes a stream of frames cut at every split point', () => {
    const payloads = [
      Uint8Array.from([1, 2, 3]),
      new Uint8Array(0),
      Uint8Array.from({ length: 300 }, (_, i) => i & 255),
      Uint8Array.from([9]),
    ];
    const stream = concat(payloads.map((p) => encodeFrame(p)));
    for (let a = 0; a <= stream.length; a++) {
      expect(decodeSplit(stream, [a])).toEqual(payloads);
    }
    for (let a = 0; a <= 12; a++)
      for (let b = a; b <= stream.length; b += 7)
        expect(decodeSplit(stream, [a, b])).toEqual(payloads);
  });

  it('decodes byte by byte and in random chunkings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (payloads, cuts) => {
          const stream = concat(payloads.map((p) => encodeFrame(p)));
          const splits = cuts.map((c) => c % (stream.length + 1)).sort((x, y) => x - y);
          expect(decodeSplit(stream, splits)).toEqual(payloads);
          expect(
            decodeSplit(
              stream,
              Array.from({ length: stream.length }, (_, i) => i),
            ),
          ).toEqual(payloads);
        },
      ),
    );
  });

  it('returns a frame that lies within one chunk as a view of it (no copy), and copies one that spans chunks', () => {
    const decoder = new FrameDecoder();
    const chunk = encodeFrame(Uint8Array.from([1, 2]));
    const whole = decoder.decode(chunk);
    expect(whole.ok && whole.frames[0]?.buffer).toBe(chunk.buffer);
    const split = encodeFrame(Uint8Array.from([3, 4]));
    decoder.decode(split.subarray(0, 5));
    const spanned = decoder.decode(split.subarray(5));
    expect(spanned.ok && spanned.frames[0]?.buffer).not.toBe(split.buffer);
    expect(spanned.ok && Array.from(spanned.frames[0] ?? [])).toEqual([3, 4]);
  });

  it('frame size at limit - 1, limit and limit + 1', () => {
    const limit = 64;
    for (const [size, expected] of [
      [limit - 1, 1],
      [limit, 1],
      [limit + 1, 'ERR_DECODE_OVERSIZED'],
    ] as const) {
      const frame = encodeFrame(new Uint8Array(size), limit + 1);
      const result = decodeSplit(frame, [], limit);
      expect(typeof result === 'string' ? result : result.length).toBe(expected);
    }
  });

  it('refuses an oversized declared length from its header alone, and stays failed', () => {
    const decoder = new FrameDecoder();
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, LIMITS.frameBytesMax + 1, false);
    expect(decoder.decode(header.subarray(0, 3))).toEqual({ ok: true, frames: [] });
    const result = decoder.decode(header.subarray(3));
    expect(result.ok ? 'ok' : result.error.code).toBe('ERR_DECODE_OVERSIZED');
    expect(decoder.bufferedBytes).toBe(0); // the header was read and nothing else is held
    const after = decoder.decode(encodeFrame(Uint8Array.from([1])));
    expect(after.ok).toBe(false);
  });

  it('holds only what has arrived, not what the header claims', () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame(new Uint8Array(LIMITS.frameBytesMax));
    decoder.decode(frame.subarray(0, 10));
    expect(decoder.bufferedBytes).toBe(10);
  });

  it('encodeFrame asserts the payload fits the limit', () => {
    expect(() => encodeFrame(new Uint8Array(5), 4)).toThrow(/must be <= 4/);
  });
});
