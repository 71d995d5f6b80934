/**
 * Byte keys and key ranges, compared bytewise as etcd does (bytes.Compare).
 *
 * Inside the store a key is held as a "binary string": one UTF-16 code unit per byte, each in
 * 0..255. JavaScript compares strings by code unit, so these strings sort exactly as the bytes
 * do, and a Map or B-tree keyed by them needs no custom comparator. `keyText` and `keyBytes`
 * convert between the two forms; neither is UTF-8.
 *
 * Ranges use etcd's encoding (rpc.proto RangeRequest): an absent or empty `rangeEnd` names the
 * single key; `rangeEnd = [0x00]` means every key >= `key`; otherwise [key, rangeEnd).
 */

/** Characters converted per String.fromCharCode call (stays well under engine argument limits). */
const CHARS_PER_CALL = 8192;

/** The binary string of `bytes` (one code unit per byte). */
export function keyText(bytes: Uint8Array): string {
  // apply() takes the typed array itself as the argument list (no iterator, unlike spread).
  if (bytes.length <= CHARS_PER_CALL)
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let text = '';
  for (let i = 0; i < bytes.length; i += CHARS_PER_CALL)
    text += String.fromCharCode.apply(
      null,
      bytes.subarray(i, i + CHARS_PER_CALL) as unknown as number[],
    );
  return text;
}

/** The bytes of a binary string made by `keyText`. */
export function keyBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

const encoder = new TextEncoder();

/** A key from text (UTF-8) or bytes; bytes are returned as they are. */
export function toBytes(key: string | Uint8Array): Uint8Array {
  return typeof key === 'string' ? encoder.encode(key) : key;
}

/**
 * The end of the range holding every key that starts with `prefix` (etcd's GetPrefixRangeEnd):
 * the prefix with its last byte below 0xff incremented and what follows dropped; [0x00] (every
 * key >= prefix) when all its bytes are 0xff or it is empty.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const b = prefix[i] as number;
    if (b < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = b + 1;
      return end;
    }
  }
  return Uint8Array.of(0);
}

/**
 * A key range in binary strings: `end` undefined = the single key `start`; `end` null = every
 * key >= start; otherwise [start, end).
 */
export interface KeySpan {
  readonly start: string;
  readonly end: string | null | undefined;
}

/** The span named by etcd's (key, rangeEnd). */
export function keySpan(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeySpan {
  const start = keyText(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  return { start, end: keyText(rangeEnd) };
}

/** True when `text` is in `span`. */
export function spanHas(span: KeySpan, text: string): boolean {
  if (span.end === undefined) return text === span.start;
  return text >= span.start && (span.end === null || text < span.end);
}

/** True when the two spans share a key. */
export function spansOverlap(a: KeySpan, b: KeySpan): boolean {
  if (a.end === undefined) return spanHas(b, a.start);
  if (b.end === undefined) return spanHas(a, b.start);
  const aBelowB = a.end !== null && a.end <= b.start;
  const bBelowA = b.end !== null && b.end <= a.start;
  return !aBelowB && !bBelowA;
}

/** The same bytes? */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bytewise order (etcd's bytes.Compare): negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
