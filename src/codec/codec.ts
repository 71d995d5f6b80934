/**
 * The envelope every Shoal message travels in (docs/design/wire.md): magic 'SH', protocol
 * version, message type, cluster id, then the type's payload. The payloads belong to the
 * protocols: each describes its messages as a `MessageTable` in its own folder
 * (membership/codec.ts, election/codec.ts) and encodes and decodes with `encodeWith` and
 * `decodeWith` here, so every message shares the envelope, the limits and the error codes.
 *
 * Decoding is a pure function of the bytes and never trusts them: the total size, every length
 * and every count is checked against a named limit before use; outcomes are data
 * (`DecodeResult`), never an exception. Encoding is canonical, so for any bytes that decode,
 * encoding the result gives the same bytes back (the fuzz tests check exactly this).
 */
import { assert } from '../base/assert.js';
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';
import {
  DecodeFailure,
  Reader,
  Writer,
  reverseTable,
  type DecodeErrorCode,
  type FieldLimits,
} from './bytes.js';
import { PROTOCOL_VERSION, WIRE_MAGIC } from './wire-numbers.js';

/** The limits a decode enforces; defaults from LIMITS. */
export interface CodecLimits extends FieldLimits {
  decodeMessageBytesMax: number;
  clusterIdBytesMax: number;
}

export const DEFAULT_CODEC_LIMITS: Readonly<CodecLimits> = {
  decodeMessageBytesMax: LIMITS.decodeMessageBytesMax,
  decodeListCountMax: LIMITS.decodeListCountMax,
  decodeStringBytesMax: LIMITS.decodeStringBytesMax,
  clusterIdBytesMax: LIMITS.clusterIdBytesMax,
};

export interface DecodeError {
  code: DecodeErrorCode;
  detail: string;
}

export type DecodeResult<M> = { ok: true; message: M } | { ok: false; error: DecodeError };

export interface DecodeExpect {
  /** Messages of any other cluster id are refused with ERR_DECODE_WRONG_CLUSTER. */
  clusterId: string;
  limits?: Partial<CodecLimits>;
}

/** The envelope's type byte reserved for the compressed wrapper (compressed.ts): no table may use it. */
export const RESERVED_TYPE_NUMBERS: ReadonlySet<number> = new Set([0, 15]);

/**
 * One protocol's messages on the wire: their type numbers (APPEND ONLY) and payload layouts.
 * `read` is called only with a type of this table, after the envelope; `write` writes the payload.
 */
export interface MessageTable<M extends { readonly type: string }> {
  readonly numbers: Readonly<Record<M['type'], number>>;
  write(w: Writer, message: M, limits: FieldLimits): void;
  read(r: Reader, type: M['type'], limits: FieldLimits): M;
}

/** A table with its reverse index, checked once: numbers unique, in 1..255, none reserved. */
export interface CompiledTable<M extends { readonly type: string }> extends MessageTable<M> {
  readonly byNumber: readonly (M['type'] | undefined)[];
}

export function compileTable<M extends { readonly type: string }>(
  table: MessageTable<M>,
): CompiledTable<M> {
  const seen = new Set<number>();
  for (const [type, n] of Object.entries(table.numbers) as [string, number][]) {
    assert(
      Number.isInteger(n) && n >= 1 && n <= 255,
      `message type ${type}: number ${n} is not a byte above 0`,
    );
    assert(!RESERVED_TYPE_NUMBERS.has(n), `message type ${type}: number ${n} is reserved`);
    assert(!seen.has(n), `message type ${type}: number ${n} is taken by another type`);
    seen.add(n);
  }
  return { ...table, byNumber: reverseTable(table.numbers) };
}

/** Two protocols' tables as one (a test's or a tool's view of every message); numbers must not collide. */
export function combineTables<
  A extends { readonly type: string },
  B extends { readonly type: string },
>(a: MessageTable<A>, b: MessageTable<B>): CompiledTable<A | B> {
  const inA = (type: string): type is A['type'] => Object.hasOwn(a.numbers, type);
  return compileTable<A | B>({
    numbers: { ...a.numbers, ...b.numbers } as Record<(A | B)['type'], number>,
    write: (w, m, limits) =>
      inA(m.type) ? a.write(w, m as A, limits) : b.write(w, m as B, limits),
    read: (r, type, limits) =>
      inA(type) ? a.read(r, type, limits) : b.read(r, type as B['type'], limits),
  });
}

// One scratch writer reused by every encode: encoding is synchronous and never re-entrant, so
// sharing it costs nothing and saves a buffer allocation per message.
const scratch = new Writer(4096);
const sizeScratch = new Writer(1024);

function limitsOf(partial: Partial<CodecLimits> | undefined): CodecLimits {
  return partial === undefined ? DEFAULT_CODEC_LIMITS : { ...DEFAULT_CODEC_LIMITS, ...partial };
}

function writeEnvelope<M extends { readonly type: string }>(
  w: Writer,
  table: CompiledTable<M>,
  msg: M,
  clusterId: string,
  limits: CodecLimits,
): void {
  w.u8(WIRE_MAGIC >>> 8);
  w.u8(WIRE_MAGIC & 0xff);
  w.u8(PROTOCOL_VERSION);
  w.u8(table.numbers[msg.type as M['type']]);
  w.string(clusterId, limits.clusterIdBytesMax);
  table.write(w, msg, limits);
}

/**
 * Encodes `msg` for `clusterId`. Asserts (a caller bug) when a field breaks `limits`: a message
 * every receiver must refuse is never sent. Returns a fresh buffer the caller owns.
 */
export function encodeWith<M extends { readonly type: string }>(
  table: CompiledTable<M>,
  msg: M,
  clusterId: string,
  limits?: Partial<CodecLimits>,
): Uint8Array {
  scratch.reset();
  writeEnvelope(scratch, table, msg, clusterId, limitsOf(limits));
  return scratch.finish();
}

/** The exact encoded size of `msg` in bytes (to check it fits LIMITS.packetBytesMax). */
export function encodedBytesWith<M extends { readonly type: string }>(
  table: CompiledTable<M>,
  msg: M,
  clusterId: string,
): number {
  sizeScratch.reset();
  writeEnvelope(sizeScratch, table, msg, clusterId, DEFAULT_CODEC_LIMITS);
  return sizeScratch.length;
}

/** The exact bytes `write(w, value)` adds to a buffer (an update's share of a packet, say); no closure per call. */
export function fieldBytes<A>(
  write: (w: Writer, value: A, limits: FieldLimits) => void,
  value: A,
): number {
  sizeScratch.reset();
  write(sizeScratch, value, DEFAULT_CODEC_LIMITS);
  return sizeScratch.length;
}

const clusterIdEncoder = new TextEncoder();
let cachedClusterId: string | undefined;
let cachedClusterIdBytes = new Uint8Array(0);

/** The expected cluster id as UTF-8, cached: a node decodes with the same id every time. */
function clusterIdBytes(clusterId: string): Uint8Array {
  if (clusterId !== cachedClusterId) {
    cachedClusterIdBytes = clusterIdEncoder.encode(clusterId);
    cachedClusterId = clusterId;
  }
  return cachedClusterIdBytes;
}

const MAGIC_BYTES = [WIRE_MAGIC >>> 8, WIRE_MAGIC & 0xff];

/** Magic, version and type byte; returns the type number. The magic is checked on whatever prefix is present. */
function readHeader(bytes: Uint8Array, r: Reader): number {
  for (let i = 0; i < MAGIC_BYTES.length; i++) {
    if (i >= bytes.length)
      throw new DecodeFailure(
        'ERR_DECODE_TRUNCATED',
        `${bytes.length} bytes: shorter than the envelope header`,
      );
    if (bytes[i] !== MAGIC_BYTES[i])
      throw new DecodeFailure('ERR_DECODE_BAD_MAGIC', 'does not start with the Shoal magic "SH"');
  }
  r.bytes(MAGIC_BYTES.length, 'magic');
  const version = r.u8('protocol version');
  if (version !== PROTOCOL_VERSION)
    throw new DecodeFailure(
      'ERR_DECODE_BAD_VERSION',
      `protocol version ${version}, this node speaks ${PROTOCOL_VERSION}`,
    );
  return r.u8('message type');
}

/** Compares the cluster id as bytes (no string decode on the hot path); names the foreign id on mismatch. */
function checkClusterId(r: Reader, expected: string, limits: CodecLimits): void {
  const length = r.varint('cluster id length');
  if (length > limits.clusterIdBytesMax)
    throw new DecodeFailure(
      'ERR_DECODE_OVERSIZED',
      `cluster id of ${length} bytes exceeds ${limits.clusterIdBytesMax}`,
    );
  const got = r.bytes(length, 'cluster id');
  const want = clusterIdBytes(expected);
  let same = got.length === want.length;
  for (let i = 0; same && i < got.length; i++) same = got[i] === want[i];
  if (!same) {
    const shown = new TextDecoder('utf-8').decode(got);
    throw new DecodeFailure(
      'ERR_DECODE_WRONG_CLUSTER',
      `message is for cluster ${JSON.stringify(shown)}, this node is in ${JSON.stringify(expected)}`,
    );
  }
}

/**
 * Decodes one message of `table`. Never throws for any input: every failure is a DecodeResult
 * with a stable code (ERR_DECODE_*) and a detail naming the field and offset. A type number
 * outside the table is ERR_DECODE_UNKNOWN_TYPE (another protocol's message sent to this port).
 */
export function decodeWith<M extends { readonly type: string }>(
  table: CompiledTable<M>,
  bytes: Uint8Array,
  expect: DecodeExpect,
): DecodeResult<M> {
  const limits = limitsOf(expect.limits);
  if (bytes.length > limits.decodeMessageBytesMax) {
    return {
      ok: false,
      error: {
        code: 'ERR_DECODE_OVERSIZED',
        detail: `message of ${bytes.length} bytes exceeds ${limits.decodeMessageBytesMax}`,
      },
    };
  }
  const r = new Reader(bytes, limits);
  try {
    const typeNumber = readHeader(bytes, r);
    const type = table.byNumber[typeNumber];
    if (type === undefined)
      throw new DecodeFailure(
        'ERR_DECODE_UNKNOWN_TYPE',
        `message type ${typeNumber} is not in this node's table`,
      );
    checkClusterId(r, expect.clusterId, limits);
    const message = table.read(r, type, limits);
    r.end();
    return { ok: true, message };
  } catch (err) {
    if (err instanceof DecodeFailure)
      return { ok: false, error: { code: err.code, detail: err.detail } };
    throw err;
  }
}

/** `decodeWith` for callers at the API edge: throws ShoalError with the ERR_DECODE_* code. */
export function decodeOrThrow<M extends { readonly type: string }>(
  table: CompiledTable<M>,
  bytes: Uint8Array,
  expect: DecodeExpect,
): M {
  const result = decodeWith(table, bytes, expect);
  if (!result.ok)
    throw new ShoalError(result.error.code, `cannot decode message: ${result.error.detail}`);
  return result.message;
}

/**
 * The raw version and type numbers of an envelope, whatever version it is, or undefined when it
 * does not start with the magic. Type numbers are append-only, so a frame of another protocol
 * version can still be recognised as a push-pull and answered (`bad_version`).
 */
export function envelopeHeader(
  bytes: Uint8Array,
): { version: number; typeNumber: number } | undefined {
  if (bytes.length < 4 || bytes[0] !== WIRE_MAGIC >>> 8 || bytes[1] !== (WIRE_MAGIC & 0xff))
    return undefined;
  return { version: bytes[2] as number, typeNumber: bytes[3] as number };
}

/**
 * The cluster id an envelope names, without decoding the payload; undefined when the header
 * itself is invalid. Lets a node answer a stranger's join with a `reject` it can decode
 * (reason `wrong_cluster`) instead of leaving it to time out.
 */
export function envelopeClusterId(
  bytes: Uint8Array,
  limits?: Partial<CodecLimits>,
): string | undefined {
  const resolved = limitsOf(limits);
  const r = new Reader(bytes, resolved);
  try {
    readHeader(bytes, r);
    const length = r.varint('cluster id length');
    if (length > resolved.clusterIdBytesMax) return undefined;
    return new TextDecoder('utf-8', { fatal: true }).decode(r.bytes(length, 'cluster id'));
  } catch (err) {
    // DecodeFailure from the reader, TypeError from the fatal UTF-8 decoder: not an envelope.
    if (err instanceof DecodeFailure || err instanceof TypeError) return undefined;
    throw err;
  }
}
