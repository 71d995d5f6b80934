/**
 * Field layouts shared by the key-value command, result and snapshot codecs (docs/design/kv.md,
 * "Encoding"): length-prefixed byte strings, a KeyValue, single-byte enums, and the decode entry
 * point that turns a `DecodeFailure` into data. Built on src/codec/bytes.ts.
 *
 * Canonical form: an absent optional field and its zero (empty bytes, 0, false) encode the same
 * way and decode as absent, so every value has one encoding.
 */
import {
  DecodeFailure,
  Reader,
  Writer,
  type DecodeErrorCode,
  type FieldLimits,
} from '../codec/bytes.js';
import {
  leaseId,
  revision,
  type KeyValue,
  type KvErrorCode,
  type LeaseId,
  type Revision,
} from './types.js';

/** The version byte every kv encoding starts with. A new layout takes a new number. */
export const KV_CODEC_VERSION = 1;

/** Longest error message kept in an encoded result, bytes (messages are truncated to fit). */
export const ERROR_MESSAGE_BYTES_MAX = 2048;

/** A length-prefixed byte string. */
export function writeBlob(w: Writer, bytes: Uint8Array): void {
  w.varint(bytes.length);
  w.bytes(bytes);
}

/** A length-prefixed byte string, copied out of the input (the store keeps it). */
export function readBlob(r: Reader, what: string): Uint8Array {
  const length = r.varint(what);
  return r.bytes(length, what).slice();
}

/** A blob where empty means absent. */
export function readOptionalBlob(r: Reader, what: string): Uint8Array | undefined {
  const blob = readBlob(r, what);
  return blob.length === 0 ? undefined : blob;
}

export function readRevision(r: Reader, what: string): Revision {
  return revision(r.varint(what));
}

/** 0 = absent. */
export function readOptionalRevision(r: Reader, what: string): Revision | undefined {
  const value = r.varint(what);
  return value === 0 ? undefined : revision(value);
}

/** 0 = no lease. */
export function readOptionalLease(r: Reader, what: string): LeaseId | undefined {
  const value = r.varint(what);
  return value === 0 ? undefined : leaseId(value);
}

export function readLeaseId(r: Reader, what: string): LeaseId {
  const value = r.varint(what);
  if (value === 0) throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: lease id 0`);
  return leaseId(value);
}

export function writeKeyValue(w: Writer, kv: KeyValue): void {
  writeBlob(w, kv.key);
  writeBlob(w, kv.value);
  w.varint(kv.createRevision);
  w.varint(kv.modRevision);
  w.varint(kv.version);
  w.varint(kv.lease ?? 0);
}

export function readKeyValue(r: Reader): KeyValue {
  const key = readBlob(r, 'kv key');
  const value = readBlob(r, 'kv value');
  const base = {
    key,
    value,
    createRevision: readRevision(r, 'kv createRevision'),
    modRevision: readRevision(r, 'kv modRevision'),
    version: r.varint('kv version'),
  };
  const lease = readOptionalLease(r, 'kv lease');
  return lease === undefined ? base : { ...base, lease };
}

/** Smallest encoded KeyValue: six one-byte fields. */
export const KEY_VALUE_BYTES_MIN = 6;

/** Writes the bits of `flags` that are true, bit i for name i. */
export function writeFlags(w: Writer, flags: readonly (boolean | undefined)[]): void {
  let byte = 0;
  flags.forEach((on, i) => {
    if (on === true) byte |= 1 << i;
  });
  w.u8(byte);
}

/** The bits of a flags byte as booleans (only the `count` low bits may be set). */
export function readFlagBits(r: Reader, count: number, what: string): boolean[] {
  const byte = readFlagByte(r, count, what);
  return Array.from({ length: count }, (_, i) => (byte & (1 << i)) !== 0);
}

/** A flags byte of `count` bits as it is (no array), its unused bits checked zero. */
export function readFlagByte(r: Reader, count: number, what: string): number {
  const byte = r.u8(what);
  if (byte >> count !== 0)
    throw new DecodeFailure(
      'ERR_DECODE_MALFORMED',
      `${what}: reserved bits set in 0x${byte.toString(16)}`,
    );
  return byte;
}

/** `{ [name]: true }` when `on`, else `{}` (optional booleans stay absent when false). */
export function flag<N extends string>(name: N, on: boolean | undefined): { [K in N]?: true } {
  return (on === true ? { [name]: true } : {}) as { [K in N]?: true };
}

/** A decode outcome: the value, or a refusal with a stable code. */
export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: DecodeErrorCode & KvErrorCode; readonly detail: string };

/** Runs `read` over `bytes`, requiring the version byte first and every byte consumed. */
export function decodeAll<T>(
  bytes: Uint8Array,
  limits: FieldLimits,
  bytesMax: number,
  what: string,
  read: (r: Reader) => T,
): Decoded<T> {
  if (bytes.length > bytesMax)
    return {
      ok: false,
      code: 'ERR_DECODE_OVERSIZED',
      detail: `${what} of ${bytes.length} bytes exceeds ${bytesMax}`,
    };
  try {
    const r = new Reader(bytes, limits);
    const version = r.u8(`${what} version`);
    if (version !== KV_CODEC_VERSION)
      throw new DecodeFailure(
        'ERR_DECODE_BAD_VERSION',
        `${what} version ${version}; this node reads ${KV_CODEC_VERSION}`,
      );
    const value = read(r);
    r.end();
    return { ok: true, value };
  } catch (err) {
    if (err instanceof DecodeFailure)
      return { ok: false, code: err.code as DecodeErrorCode & KvErrorCode, detail: err.detail };
    throw err;
  }
}

/** A fresh Writer with the version byte written. */
export function versionedWriter(initialBytes = 256): Writer {
  const w = new Writer(initialBytes);
  w.u8(KV_CODEC_VERSION);
  return w;
}
