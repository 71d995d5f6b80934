/**
 * The one reader of persisted counters (incarnation, term, vote term): every protocol that keeps
 * a number on disk parses it here, so a corrupt file is refused the same way everywhere. A file
 * that holds anything but a safe non-negative integer is an error naming the file; it is never
 * read as 0 (that would silently reset a fencing term or an incarnation) and never rewritten.
 */
import { ShoalError } from './errors.js';
import type { Store } from './protocol.js';
import { readDurable } from './storage.js';

/** Longest text shown from a corrupt file in the error message. */
const SHOWN_CHARS_MAX = 40;

function corrupt(file: string, shown: string, what: string): ShoalError {
  return new ShoalError(
    'ERR_STORAGE_CORRUPT',
    `${file} holds ${shown}, not a safe non-negative integer (the ${what} this node persisted); the file was left untouched: ` +
      'restore it from a backup, or write a number no lower than the last one this node used (when unsure, a larger one is safe)',
  );
}

/** A counter read from a parsed document (a JSON field): `value` must be a safe non-negative integer. */
export function persistedCount(value: unknown, file: string, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw corrupt(file, JSON.stringify(value) ?? String(value), what);
}

/** A counter stored as decimal text (an optional trailing newline allowed): the file's bytes. */
export function parsePersistedCount(bytes: Uint8Array, file: string, what: string): number {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const digits = text.endsWith('\n') ? text.slice(0, -1) : text;
  const shown = JSON.stringify(
    text.length > SHOWN_CHARS_MAX ? `${text.slice(0, SHOWN_CHARS_MAX)}…` : text,
  );
  if (!/^(0|[1-9]\d*)$/.test(digits)) throw corrupt(file, shown, what);
  const value = Number(digits);
  if (!Number.isSafeInteger(value)) throw corrupt(file, shown, what);
  return value;
}

/**
 * The store of a protocol that keeps one counter in one file as decimal text and a newline
 * (membership's incarnation, a leader's fencing term): read with parsePersistedCount (0 when
 * the file is absent), written whole by the driver's durable write.
 */
export function counterFileStore<V extends number, R>(
  file: string,
  what: string,
  brand: (value: number) => V,
  valueOf: (record: R) => number,
): Store<V, R> {
  return {
    load: (storage) => {
      const bytes = readDurable(storage, file);
      return brand(bytes === undefined ? 0 : parsePersistedCount(bytes, file, what));
    },
    write: (record) => ({ path: file, data: new TextEncoder().encode(`${valueOf(record)}\n`) }),
  };
}

/**
 * The JSON object a protocol's record file holds, or the error `corrupt(why)` builds when the
 * bytes are not valid JSON (a torn or damaged file) or not an object.
 */
export function parseJsonRecord(
  bytes: Uint8Array,
  corrupt: (why: string) => Error,
): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw corrupt('is not valid JSON (truncated or damaged)');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw corrupt('is not a JSON object');
  return doc as Record<string, unknown>;
}
