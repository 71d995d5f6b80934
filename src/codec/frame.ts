/**
 * Length-prefixed frames for stream channels (docs/design/wire.md, "Frames"): a 4-byte
 * big-endian payload length, then the payload. One frame carries one encoded message.
 *
 * `FrameDecoder` is an incremental parser: it holds the partial frame between chunks but does no
 * I/O. A declared length above the limit is refused as soon as its 4 header bytes arrive, before
 * any of the payload is buffered; after an error the decoder stays failed (the stream is out of
 * sync and must be closed). Memory held is at most 4 header bytes plus the bytes received so far
 * of one frame (never more than frameBytesMax), not what a peer merely claims.
 */
import { assert } from '../base/assert.js';
import { LIMITS } from '../base/limits.js';
import type { DecodeError } from './codec.js';

export const FRAME_HEADER_BYTES = 4;

/** `payload` with its 4-byte big-endian length in front. Asserts it fits `frameBytesMax`. */
export function encodeFrame(payload: Uint8Array, frameBytesMax: number = LIMITS.frameBytesMax): Uint8Array {
  assert(payload.length <= frameBytesMax, `frame payload of ${payload.length} bytes exceeds ${frameBytesMax}`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length, false);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export type FramePushResult = { ok: true; frames: Uint8Array[] } | { ok: false; error: DecodeError };

export class FrameDecoder {
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerBytes = 0;
  /** The current frame's declared length, once its header has arrived and passed the limit. */
  private expectedBytes: number | undefined;
  /** Copies of the current frame's bytes received so far: memory grows with data, not with claims. */
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  private failure: DecodeError | undefined;

  constructor(private readonly frameBytesMax: number = LIMITS.frameBytesMax) {}

  /** Bytes held for the frame in progress (header included). */
  get bufferedBytes(): number {
    return this.headerBytes + this.partBytes;
  }

  /** Consumes `chunk`; returns every frame it completes (copies the caller owns) or the error. */
  push(chunk: Uint8Array): FramePushResult {
    if (this.failure !== undefined) return { ok: false, error: this.failure };
    const frames: Uint8Array[] = [];
    let pos = 0;
    // Each pass completes one frame (consuming at least its 4 header bytes) or uses up the chunk.
    for (;;) {
      if (this.expectedBytes === undefined) {
        pos = this.takeHeader(chunk, pos);
        if (this.failure !== undefined) return { ok: false, error: this.failure };
        if (this.expectedBytes === undefined) break;
      }
      const take = Math.min(this.expectedBytes - this.partBytes, chunk.length - pos);
      if (take > 0) {
        const part = new Uint8Array(take);
        part.set(chunk.subarray(pos, pos + take));
        this.parts.push(part);
        this.partBytes += take;
        pos += take;
      }
      if (this.partBytes < this.expectedBytes) break;
      frames.push(this.completeFrame());
    }
    return { ok: true, frames };
  }

  /** Copies header bytes from `chunk`; once all 4 are in, checks the declared length against the limit. */
  private takeHeader(chunk: Uint8Array, start: number): number {
    let pos = start;
    while (this.headerBytes < FRAME_HEADER_BYTES && pos < chunk.length) this.header[this.headerBytes++] = chunk[pos++] as number;
    if (this.headerBytes < FRAME_HEADER_BYTES) return pos;
    const length = new DataView(this.header.buffer).getUint32(0, false);
    if (length > this.frameBytesMax) {
      this.failure = { code: 'ERR_DECODE_OVERSIZED', detail: `frame declares ${length} bytes, limit is ${this.frameBytesMax}` };
    } else {
      this.expectedBytes = length;
    }
    return pos;
  }

  private completeFrame(): Uint8Array {
    const frame = this.parts.length === 1 ? (this.parts[0] as Uint8Array) : concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    this.headerBytes = 0;
    this.expectedBytes = undefined;
    return frame;
  }
}

function concat(parts: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const out = new Uint8Array(totalBytes);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}
