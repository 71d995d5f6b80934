/**
 * Byte-level primitives every Shoal message is built from (docs/design/wire.md, "Primitives"):
 * unsigned LEB128 varints limited to safe integers, length-prefixed UTF-8 strings, raw 16-byte
 * NodeIds and counted lists. A growable `Writer` encodes; a `Reader` decodes and never trusts its
 * input: every length and count is checked against a named limit before anything is allocated,
 * and any violation becomes a `DecodeFailure` carrying a stable error code.
 *
 * Canonical form: a value has exactly one encoding (shortest varint, well-formed UTF-8), so a
 * decoder that accepts bytes and an encoder that re-encodes the result give the same bytes.
 * Later protocols (election, raft) add their messages with these same primitives.
 */
import { splitAddress, type Address } from '../base/address.js';
import { utf8Bytes } from '../base/utf8.js';
import { AssertionError } from '../base/assert.js';
import type { ErrorCode } from '../base/errors.js';
import { NODE_ID_BYTES, type NodeId } from '../identity/node-id.js';

/** The error codes a decoder can produce. */
export type DecodeErrorCode = Extract<
  ErrorCode,
  | 'ERR_DECODE_TRUNCATED'
  | 'ERR_DECODE_OVERSIZED'
  | 'ERR_DECODE_BAD_MAGIC'
  | 'ERR_DECODE_BAD_VERSION'
  | 'ERR_DECODE_UNKNOWN_TYPE'
  | 'ERR_DECODE_WRONG_CLUSTER'
  | 'ERR_DECODE_MALFORMED'
  | 'ERR_DECODE_UNSAFE_INTEGER'
>;

/**
 * Thrown inside a decoder and caught at its entry point, which returns it as data. Not an
 * `Error`: no stack trace is captured, so hostile input costs no more to reject than to accept.
 */
export class DecodeFailure {
  constructor(
    readonly code: DecodeErrorCode,
    readonly detail: string,
  ) {}
}

/** Longest canonical varint: 8 groups of 7 bits = 56 bits, enough for 2^53 - 1. */
export const VARINT_BYTES_MAX = 8;

/** Bytes of the canonical varint encoding of a safe non-negative integer. */
export function varintBytes(value: number): number {
  let bytes = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) bytes++;
  return bytes;
}

/** Hex digit value by char code, -1 for anything else. Only lowercase: NodeIds are lowercase. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) HEX_VALUE['0123456789abcdef'.charCodeAt(d)] = d;

const textEncoder = new TextEncoder();
// fatal: malformed UTF-8 is an error, not U+FFFD; ignoreBOM: a leading U+FEFF is data, not stripped.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A growable byte buffer. Reuse one across encodes (`reset`) to avoid reallocating.
 *
 * Its assertions are written `if (!cond) throw new AssertionError(...)` rather than
 * `assert(cond, ...)`: on this hot path the message template would be built on every call.
 */
export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialBytes = 1024) {
    this.buf = new Uint8Array(initialBytes);
  }

  get length(): number {
    return this.pos;
  }

  reset(): void {
    this.pos = 0;
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  private ensure(extraBytes: number): void {
    const need = this.pos + extraBytes;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** A safe non-negative integer as a canonical unsigned LEB128 varint. */
  varint(value: number): void {
    if (!(Number.isSafeInteger(value) && value >= 0))
      throw new AssertionError(`varint must be a safe non-negative integer, got ${value}`);
    this.ensure(VARINT_BYTES_MAX);
    const buf = this.buf;
    let pos = this.pos;
    let v = value;
    while (v >= 0x80) {
      buf[pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** Length-prefixed UTF-8; asserts the byte length is at most `bytesMax` (callers validate input). */
  string(text: string, bytesMax: number): void {
    const worstBytes = text.length * 3;
    if (worstBytes < 0x80) {
      // The length fits one varint byte whatever the content: reserve it and patch after writing.
      this.ensure(1 + worstBytes);
      const lengthPos = this.pos++;
      const written = this.utf8(text);
      if (written > bytesMax)
        throw new AssertionError(`string of ${written} bytes exceeds ${bytesMax}`);
      this.buf[lengthPos] = written;
      return;
    }
    const bytes = utf8Bytes(text);
    if (bytes > bytesMax) throw new AssertionError(`string of ${bytes} bytes exceeds ${bytesMax}`);
    this.varint(bytes);
    this.ensure(bytes);
    this.utf8(text);
  }

  /** Writes `text` as UTF-8 (space already ensured); ASCII is copied inline, the rest via TextEncoder. */
  private utf8(text: string): number {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) {
        pos += textEncoder.encodeInto(text.slice(i), buf.subarray(pos)).written;
        break;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
    return pos - start;
  }

  /** A list count, asserted to be at most `countMax`. */
  count(count: number, countMax: number): void {
    if (count > countMax) throw new AssertionError(`list of ${count} entries exceeds ${countMax}`);
    this.varint(count);
  }

  /** A NodeId as its 16 raw bytes. */
  nodeId(id: NodeId): void {
    this.ensure(NODE_ID_BYTES);
    const buf = this.buf;
    let pos = this.pos;
    // A non-hex char maps to -1 (or undefined past the table), which sets `bad` below.
    let bad = id.length !== NODE_ID_BYTES * 2 ? -1 : 0;
    for (let i = 0; i < 2 * NODE_ID_BYTES; i += 2) {
      const hi = HEX_VALUE[id.charCodeAt(i)] ?? -1;
      const lo = HEX_VALUE[id.charCodeAt(i + 1)] ?? -1;
      bad |= hi | lo;
      buf[pos++] = (hi << 4) | lo;
    }
    if (bad < 0) throw new AssertionError(`not a NodeId: ${JSON.stringify(id)}`);
    this.pos = pos;
  }

  /** Exactly `bytes` raw bytes from their lowercase hex (public keys, signatures); asserts the form. */
  hex(text: string, bytes: number): void {
    this.ensure(bytes);
    const buf = this.buf;
    let pos = this.pos;
    let bad = text.length !== bytes * 2 ? -1 : 0;
    for (let i = 0; i < 2 * bytes; i += 2) {
      const hi = HEX_VALUE[text.charCodeAt(i)] ?? -1;
      const lo = HEX_VALUE[text.charCodeAt(i + 1)] ?? -1;
      bad |= hi | lo;
      buf[pos++] = (hi << 4) | lo;
    }
    if (bad < 0)
      throw new AssertionError(`not ${bytes} bytes of lowercase hex: ${text.slice(0, 40)}`);
    this.pos = pos;
  }
}

/** ASCII hex digits of `bytes` (the uninterned path of `Reader.hex`). */
function hexCodes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    out[2 * i] = HEX_CODES[b >> 4] as number;
    out[2 * i + 1] = HEX_CODES[b & 15] as number;
  }
  return out;
}

/**
 * Decoded strings are interned through bounded, direct-mapped tables: a simulated cluster of N
 * nodes decodes the same N ids, names and addresses over and over, and without interning every
 * node would keep its own copy of each (the simulator's memory at 10,000 members, see
 * docs/design/simulator.md). A slot is chosen by an FNV-1a hash of the bytes and a hit is
 * verified char by char, so a collision only costs a fresh string; the tables never grow past
 * their named slot counts. Hits allocate nothing.
 */
export const ASCII_INTERN_STRING_BYTES_MAX = 32;
export const ASCII_INTERN_SLOTS = 65_536;
export const NODE_ID_INTERN_SLOTS = 65_536;
/** Slots for public keys (32 bytes) and signatures (64 bytes): one per member, one per record. */
export const KEY_INTERN_SLOTS = 16_384;
export const SIGNATURE_INTERN_SLOTS = 65_536;
const asciiInterned: (string | undefined)[] = new Array<string | undefined>(
  ASCII_INTERN_SLOTS,
).fill(undefined);
/**
 * The bytes of each interned string, next to it: a hit is verified against this compact table
 * instead of the string itself, which lies anywhere in a multi-gigabyte heap (a cache miss).
 */
const asciiBytes = new Uint8Array(ASCII_INTERN_SLOTS * ASCII_INTERN_STRING_BYTES_MAX);
const asciiLengths = new Uint8Array(ASCII_INTERN_SLOTS);
const HEX_CODES: number[] = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

function sameBytes(
  table: Uint8Array,
  at: number,
  buf: Uint8Array,
  start: number,
  length: number,
): boolean {
  for (let i = 0; i < length; i++) if (table[at + i] !== buf[start + i]) return false;
  return true;
}

/** The interned string for ASCII bytes buf[start..end) (at most ASCII_INTERN_STRING_BYTES_MAX), or undefined when they are not all ASCII. */
function shortAscii(buf: Uint8Array, start: number, end: number): string | undefined {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    if (b >= 0x80) return undefined;
    hash = Math.imul(hash ^ b, 0x01000193);
  }
  const length = end - start;
  const slot = (hash >>> 0) % ASCII_INTERN_SLOTS;
  const at = slot * ASCII_INTERN_STRING_BYTES_MAX;
  const cached = asciiInterned[slot];
  if (
    cached !== undefined &&
    asciiLengths[slot] === length &&
    sameBytes(asciiBytes, at, buf, start, length)
  )
    return cached;
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(buf[i] as number);
  asciiInterned[slot] = text;
  asciiLengths[slot] = length;
  asciiBytes.set(buf.subarray(start, end), at);
  return text;
}

/**
 * A direct-mapped intern table for fixed-size binary fields shown as lowercase hex (NodeIds,
 * public keys, signatures): `slots` strings and their raw bytes side by side.
 */
class HexIntern {
  private readonly strings: (string | undefined)[];
  private readonly raw: Uint8Array;
  /** Scratch for building a missed string as one flat string (not a piecewise concatenation). */
  private readonly scratch: Uint8Array;

  constructor(
    private readonly width: number,
    private readonly slots: number,
  ) {
    this.strings = new Array<string | undefined>(slots).fill(undefined);
    this.raw = new Uint8Array(slots * width);
    this.scratch = new Uint8Array(width * 2);
  }

  /** The interned lowercase hex of the `width` bytes at buf[start..]. */
  intern(buf: Uint8Array, start: number): string {
    const width = this.width;
    let hash = 0x811c9dc5;
    for (let i = start; i < start + width; i++)
      hash = Math.imul(hash ^ (buf[i] as number), 0x01000193);
    const slot = (hash >>> 0) % this.slots;
    const at = slot * width;
    const cached = this.strings[slot];
    if (cached !== undefined && sameBytes(this.raw, at, buf, start, width)) return cached;
    for (let i = 0; i < width; i++) {
      const b = buf[start + i] as number;
      this.scratch[2 * i] = HEX_CODES[b >> 4] as number;
      this.scratch[2 * i + 1] = HEX_CODES[b & 15] as number;
    }
    const text = textDecoder.decode(this.scratch);
    this.strings[slot] = text;
    this.raw.set(buf.subarray(start, start + width), at);
    return text;
  }
}

const nodeIdIntern = new HexIntern(NODE_ID_BYTES, NODE_ID_INTERN_SLOTS);
/** One table per width that `Reader.hex` reads (public keys and signatures). */
const hexInterns = new Map<number, HexIntern>([
  [32, new HexIntern(32, KEY_INTERN_SLOTS)],
  [64, new HexIntern(64, SIGNATURE_INTERN_SLOTS)],
]);

/**
 * The per-field limits both sides enforce (a subset of LIMITS; tests pass other values). The
 * encoder asserts them, since sending what every receiver must refuse is a bug in the caller; the
 * decoder rejects input that breaks them.
 */
export interface FieldLimits {
  decodeListCountMax: number;
  decodeStringBytesMax: number;
}

/** Reads the primitives back, checking every length and count before use. */
export class Reader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly limits: FieldLimits,
    start = 0,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(bytes: number, what: string): void {
    if (this.buf.length - this.pos < bytes) {
      throw new DecodeFailure(
        'ERR_DECODE_TRUNCATED',
        `${what} needs ${bytes} bytes at offset ${this.pos}, ${this.buf.length - this.pos} left`,
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  /** A view (not a copy) of the next `count` bytes. */
  bytes(count: number, what: string): Uint8Array {
    this.need(count, what);
    const out = this.buf.subarray(this.pos, this.pos + count);
    this.pos += count;
    return out;
  }

  /** A canonical varint that is a safe integer. */
  varint(what: string): number {
    const buf = this.buf;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (this.pos >= buf.length)
        throw new DecodeFailure(
          'ERR_DECODE_TRUNCATED',
          `${what}: varint ends at offset ${this.pos}`,
        );
      const b = buf[this.pos++] as number;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0)
          throw new DecodeFailure(
            'ERR_DECODE_MALFORMED',
            `${what}: non-canonical varint (trailing zero group)`,
          );
        if (value > Number.MAX_SAFE_INTEGER)
          throw new DecodeFailure('ERR_DECODE_UNSAFE_INTEGER', `${what}: varint exceeds 2^53 - 1`);
        return value;
      }
      scale *= 0x80;
    }
    throw new DecodeFailure(
      'ERR_DECODE_UNSAFE_INTEGER',
      `${what}: varint longer than ${VARINT_BYTES_MAX} bytes exceeds 2^53 - 1`,
    );
  }

  /** A length-prefixed UTF-8 string of at most `bytesMax` bytes (default: decodeStringBytesMax). */
  string(what: string, bytesMax = this.limits.decodeStringBytesMax): string {
    const length = this.varint(what);
    if (length > bytesMax)
      throw new DecodeFailure(
        'ERR_DECODE_OVERSIZED',
        `${what}: string of ${length} bytes exceeds ${bytesMax}`,
      );
    this.need(length, what);
    const buf = this.buf;
    const start = this.pos;
    const end = start + length;
    this.pos = end;
    if (length <= ASCII_INTERN_STRING_BYTES_MAX) {
      const cached = shortAscii(buf, start, end);
      if (cached !== undefined) return cached;
    }
    try {
      return textDecoder.decode(buf.subarray(start, end));
    } catch {
      throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: invalid UTF-8`);
    }
  }

  /** A NodeId from its 16 raw bytes (any 16 bytes are a valid NodeId). */
  nodeId(what: string): NodeId {
    this.need(NODE_ID_BYTES, what);
    const text = nodeIdIntern.intern(this.buf, this.pos);
    this.pos += NODE_ID_BYTES;
    return text as NodeId;
  }

  /** `bytes` raw bytes as lowercase hex (public keys, signatures); 32 and 64 bytes are interned. */
  hex(bytes: number, what: string): string {
    this.need(bytes, what);
    const table = hexInterns.get(bytes);
    const text =
      table === undefined
        ? textDecoder.decode(hexCodes(this.buf.subarray(this.pos, this.pos + bytes)))
        : table.intern(this.buf, this.pos);
    this.pos += bytes;
    return text;
  }

  /**
   * A list count: at most decodeListCountMax, and at most the bytes left divided by the smallest
   * element size, so a lying count cannot make the caller loop or allocate past the input.
   */
  count(what: string, elementBytesMin: number): number {
    const count = this.varint(what);
    if (count > this.limits.decodeListCountMax)
      throw new DecodeFailure(
        'ERR_DECODE_OVERSIZED',
        `${what}: ${count} entries exceed ${this.limits.decodeListCountMax}`,
      );
    if (count * elementBytesMin > this.remaining)
      throw new DecodeFailure(
        'ERR_DECODE_TRUNCATED',
        `${what}: ${count} entries cannot fit in ${this.remaining} bytes`,
      );
    return count;
  }

  /** Fails unless every byte was consumed. */
  end(): void {
    if (this.pos !== this.buf.length)
      throw new DecodeFailure(
        'ERR_DECODE_MALFORMED',
        `${this.buf.length - this.pos} trailing bytes at offset ${this.pos}`,
      );
  }
}

export { utf8Bytes };

// ---- field helpers every protocol's messages share ----

/** Generous for any host:port; a longer address is refused as oversized. */
export const ADDRESS_BYTES_MAX = 255;

export function writeAddress(w: Writer, address: Address): void {
  w.string(address, ADDRESS_BYTES_MAX);
}

/**
 * Addresses already validated, so a push-pull of N records does not run the host:port parser N
 * times for addresses it has seen (decoded strings are interned, so the lookup hashes nothing new).
 * Bounded: cleared when it reaches VALIDATED_ADDRESSES_MAX.
 */
export const VALIDATED_ADDRESSES_MAX = 65_536;
const validatedAddresses = new Set<string>();

export function readAddress(r: Reader, what: string): Address {
  const text = r.string(what, ADDRESS_BYTES_MAX);
  if (validatedAddresses.has(text)) return text as Address;
  if (splitAddress(text) === undefined)
    throw new DecodeFailure(
      'ERR_DECODE_MALFORMED',
      `${what}: ${JSON.stringify(text)} is not host:port`,
    );
  if (validatedAddresses.size >= VALIDATED_ADDRESSES_MAX) validatedAddresses.clear();
  validatedAddresses.add(text);
  return text as Address;
}

/** A flags byte with only the `allowed` bits; any other bit set is malformed (reserved for later versions). */
export function readFlags(r: Reader, allowed: number, what: string): number {
  const flags = r.u8(what);
  if ((flags & ~allowed) !== 0)
    throw new DecodeFailure(
      'ERR_DECODE_MALFORMED',
      `${what}: reserved bits set in 0x${flags.toString(16)}`,
    );
  return flags;
}

/** A single-byte enum from a reverse table; unknown numbers are malformed. */
export function readEnum<Name extends string>(
  r: Reader,
  table: readonly (Name | undefined)[],
  what: string,
): Name {
  const n = r.u8(what);
  const name = table[n];
  if (name === undefined)
    throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: unknown value ${n}`);
  return name;
}

/** The reverse of a number table: index = wire number, value = name (undefined for unknown). */
export function reverseTable<Name extends string>(
  table: Record<Name, number>,
): readonly (Name | undefined)[] {
  const out: (Name | undefined)[] = [];
  for (const name of Object.keys(table) as Name[]) out[table[name]] = name;
  return out;
}
