/**
 * Length-prefixed frames for stream channels (docs/design/wire.md, "Frames"): a 4-byte
 * big-endian payload length, then the payload. One frame carries one encoded message. This is
 * the only framing code in Shoal: the TCP transport and the tests use it.
 *
 * `FrameDecoder` is an incremental parser: it holds received chunks between calls but does no
 * I/O. A declared length above `limitBytes` is refused as soon as its 4 header bytes are read,
 * before the body is waited for; after that the decoder stays failed (the stream is out of sync
 * and must be closed). Memory held is what was actually received of one frame plus the last
 * chunk, never what a peer merely claims. Frames are returned without copying when they lie
 * within one received chunk, so the caller must not reuse a chunk after pushing it.
 */
import { assertSafeInt } from '../base/assert.js';
import { LIMITS } from '../base/limits.js';
import type { DecodeError } from './codec.js';

export const FRAME_HEADER_BYTES = 4;

/** The 4-byte big-endian header for a payload of `length` bytes (written apart from the payload: no copy). */
export function encodeFrameHeader(
  length: number,
  frameBytesMax: number = LIMITS.frameBytesMax,
): Uint8Array {
  assertSafeInt(length, 'frame length', 0, frameBytesMax);
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, length, false);
  return header;
}

/** `payload` with its header in front, in one buffer. Asserts it fits `frameBytesMax`. */
export function encodeFrame(
  payload: Uint8Array,
  frameBytesMax: number = LIMITS.frameBytesMax,
): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  out.set(encodeFrameHeader(payload.length, frameBytesMax), 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** What `FrameDecoder.next` found: a whole frame, or a header over the limit (the stream is then unusable). */
export type NextFrame = { frame: Uint8Array } | { oversizedBytes: number };

export type FramePushResult =
  { ok: true; frames: Uint8Array[] } | { ok: false; error: DecodeError };

export class FrameDecoder {
  private readonly chunks: Uint8Array[] = [];
  private heldBytes = 0;
  /** The length of the frame whose header was read and whose body is awaited. */
  private expectedBytes: number | undefined;
  private oversizedBytes: number | undefined;

  /**
   * `limitBytes` may change between `next()` calls: a handshake reads its first frame under a
   * small limit and raises it only once that frame is accepted.
   */
  constructor(public limitBytes: number = LIMITS.frameBytesMax) {}

  /** Bytes held for frames not yet returned (headers included). */
  get bufferedBytes(): number {
    return this.heldBytes + (this.expectedBytes === undefined ? 0 : FRAME_HEADER_BYTES);
  }

  /** Adds received bytes; call `next()` until it returns undefined to read the frames they complete. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.heldBytes += chunk.length;
  }

  /** The next complete frame, an oversized header (again on every later call), or undefined when more bytes are needed. */
  next(): NextFrame | undefined {
    if (this.oversizedBytes !== undefined) return { oversizedBytes: this.oversizedBytes };
    if (this.expectedBytes === undefined) {
      if (this.heldBytes < FRAME_HEADER_BYTES) return undefined;
      const header = this.take(FRAME_HEADER_BYTES);
      const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(
        0,
        false,
      );
      if (length > this.limitBytes) {
        this.oversizedBytes = length;
        return { oversizedBytes: length };
      }
      this.expectedBytes = length;
    }
    if (this.heldBytes < this.expectedBytes) return undefined;
    const frame = this.take(this.expectedBytes);
    this.expectedBytes = undefined;
    return { frame };
  }

  /** `push` then every `next`: the frames `chunk` completes, or the error once a header is oversized. */
  decode(chunk: Uint8Array): FramePushResult {
    this.push(chunk);
    const frames: Uint8Array[] = [];
    for (let found = this.next(); found !== undefined; found = this.next()) {
      if ('oversizedBytes' in found) {
        return {
          ok: false,
          error: {
            code: 'ERR_DECODE_OVERSIZED',
            detail: `frame declares ${found.oversizedBytes} bytes, limit is ${this.limitBytes}`,
          },
        };
      }
      frames.push(found.frame);
    }
    return { ok: true, frames };
  }

  /** Removes and returns the first `count` held bytes; copies only when they span chunks. */
  private take(count: number): Uint8Array {
    this.heldBytes -= count;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0] as Uint8Array;
      const used = Math.min(chunk.length, count - filled);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
