/**
 * Stream framing: each frame is a 4-byte big-endian payload length followed by the payload.
 * The decoder reads the length first and refuses a frame over its limit BEFORE buffering the
 * body, so a hostile peer cannot make us allocate more than `limitBytes` per connection.
 *
 * NOTE: src/codec is to own framing; this minimal copy lives in transport until the two are
 * unified (the wire format is the same: u32 BE length + payload).
 */
import { assertSafeInt } from '../base/assert.js';

export const FRAME_HEADER_BYTES = 4;

/** The 4-byte header for a payload of `length` bytes. */
export function encodeFrameHeader(length: number): Buffer {
  assertSafeInt(length, 'frame length', 0, 0xffff_ffff);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  return header;
}

/** What `FrameDecoder.next` found: a whole frame, or a header over the limit (the stream is then unusable). */
export type NextFrame = { frame: Buffer } | { oversizedBytes: number };

export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** The length of the frame whose header was read and whose body is awaited. */
  private expectedBytes: number | undefined;

  /**
   * `limitBytes` may change between `next()` calls: a handshake reads its first frame under a
   * small limit and raises it only once that frame is accepted.
   */
  constructor(public limitBytes: number) {}

  /** Adds received bytes; call `next()` until it returns undefined to read the frames they complete. */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** The next complete frame, an oversized header, or undefined when more bytes are needed. */
  next(): NextFrame | undefined {
    if (this.expectedBytes === undefined) {
      if (this.bufferedBytes < FRAME_HEADER_BYTES) return undefined;
      const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
      if (length > this.limitBytes) return { oversizedBytes: length };
      this.expectedBytes = length;
    }
    if (this.bufferedBytes < this.expectedBytes) return undefined;
    const frame = this.take(this.expectedBytes);
    this.expectedBytes = undefined;
    return { frame };
  }

  /** Removes and returns the first `count` buffered bytes; copies only when they span chunks. */
  private take(count: number): Buffer {
    this.bufferedBytes -= count;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0] as Buffer;
      const used = Math.min(chunk.length, count - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
