/**
 * The binary form of a command's result (docs/design/kv.md, "Encoding"): what a session keeps for
 * a retried command (thesis §6.3), what a snapshot carries of the sessions, and what a node may
 * send back to a proposer on another node. Layout: version byte, result type byte, fields.
 * Error codes travel as their stable strings and are checked against the registry on decode.
 */
import { assertNever } from '../base/assert.js';
import { DecodeFailure, readEnum, reverseTable, type Reader, type Writer } from '../codec/bytes.js';
import { OP_NUMBERS } from './codec.js';
import {
  ERROR_MESSAGE_BYTES_MAX,
  KEY_VALUE_BYTES_MIN,
  decodeAll,
  readFlagBits,
  readKeyValue,
  readLeaseId,
  readRevision,
  versionedWriter,
  writeFlags,
  writeKeyValue,
  type Decoded,
} from './codec-fields.js';
import {
  KV_ERROR_CODES,
  revision,
  type KeyValue,
  type KvErrorCode,
  type KvResult,
  type OpResult,
  type RangeResult,
} from './types.js';

// APPEND ONLY: these numbers are in session tables inside snapshots. A result has its op's
// number; a refusal has its own.
export const RESULT_NUMBERS = { ...OP_NUMBERS, error: 9 } as const satisfies Record<
  KvResult['kind'],
  number
>;
const RESULT_NAMES = reverseTable<KvResult['kind']>(RESULT_NUMBERS);

const KV_CODES: ReadonlySet<string> = new Set(KV_ERROR_CODES);

export function encodeResult(result: KvResult): Uint8Array {
  const w = versionedWriter(64);
  writeResult(w, result);
  return w.finish();
}

/** Decodes a result; `bytesMax` bounds the input (a result can be as large as a range). */
export function decodeResult(bytes: Uint8Array, bytesMax: number): Decoded<KvResult> {
  const limits = { decodeListCountMax: bytesMax, decodeStringBytesMax: ERROR_MESSAGE_BYTES_MAX };
  return decodeAll(bytes, limits, bytesMax, 'kv result', (r) => readResult(r, true));
}

export function writeResult(w: Writer, result: KvResult): void {
  w.u8(RESULT_NUMBERS[result.kind]);
  switch (result.kind) {
    case 'put':
      w.varint(result.revision);
      writeOptionalKvs(w, result.prevKv === undefined ? undefined : [result.prevKv]);
      return;
    case 'delete-range':
      w.varint(result.deleted);
      w.varint(result.revision);
      writeOptionalKvs(w, result.prevKvs);
      return;
    case 'range':
      writeKvs(w, result.kvs);
      w.varint(result.revision);
      writeFlags(w, [result.more]);
      w.varint(result.count);
      return;
    case 'txn':
      writeFlags(w, [result.succeeded]);
      w.varint(result.revision);
      w.varint(result.results.length);
      for (const r of result.results) writeResult(w, r);
      return;
    case 'lease-grant':
      w.varint(result.id);
      w.varint(result.ttlMs);
      w.varint(result.revision);
      return;
    case 'lease-revoke':
    case 'lease-checkpoint':
    case 'compact':
      w.varint(result.revision);
      return;
    case 'error':
      w.string(result.code, ERROR_MESSAGE_BYTES_MAX);
      w.string(result.message, ERROR_MESSAGE_BYTES_MAX);
      w.varint(result.compactRevision ?? 0);
      return;
    default:
      assertNever(result, 'kv result');
  }
}

function writeKvs(w: Writer, kvs: readonly KeyValue[]): void {
  w.varint(kvs.length);
  for (const kv of kvs) writeKeyValue(w, kv);
}

/** Flag byte, then the list when present. */
function writeOptionalKvs(w: Writer, kvs: readonly KeyValue[] | undefined): void {
  writeFlags(w, [kvs !== undefined]);
  if (kvs !== undefined) writeKvs(w, kvs);
}

function readKvs(r: Reader, what: string): KeyValue[] {
  const count = r.count(what, KEY_VALUE_BYTES_MIN);
  const kvs: KeyValue[] = [];
  for (let i = 0; i < count; i++) kvs.push(readKeyValue(r));
  return kvs;
}

function readOptionalKvs(r: Reader, what: string): KeyValue[] | undefined {
  const [present] = readFlagBits(r, 1, `${what} flag`);
  return present === true ? readKvs(r, what) : undefined;
}

/** Reads one result; inside a txn only op results (put, delete-range, range, txn) may appear. */
function readResult(r: Reader, topLevel: boolean): KvResult {
  const kind = readEnum(r, RESULT_NAMES, 'result type');
  switch (kind) {
    case 'put': {
      const revision = readRevision(r, 'put revision');
      const prev = readOptionalKvs(r, 'put prevKv');
      if (prev !== undefined && prev.length !== 1)
        throw new DecodeFailure('ERR_DECODE_MALFORMED', `put prevKv holds ${prev.length} kvs`);
      return prev === undefined
        ? { kind, revision }
        : { kind, revision, prevKv: prev[0] as KeyValue };
    }
    case 'delete-range': {
      const deleted = r.varint('delete deleted');
      const revision = readRevision(r, 'delete revision');
      const prevKvs = readOptionalKvs(r, 'delete prevKvs');
      return prevKvs === undefined
        ? { kind, deleted, revision }
        : { kind, deleted, revision, prevKvs };
    }
    case 'range':
      return readRangeResult(r);
    case 'txn':
      return readTxnResult(r);
    default:
      if (!topLevel) throw new DecodeFailure('ERR_DECODE_MALFORMED', `txn holds a ${kind} result`);
      return readOtherResult(r, kind);
  }
}

function readRangeResult(r: Reader): RangeResult {
  const kvs = readKvs(r, 'range kvs');
  const revision = readRevision(r, 'range revision');
  const [more] = readFlagBits(r, 1, 'range more');
  return { kind: 'range', kvs, revision, more: more === true, count: r.varint('range count') };
}

function readTxnResult(r: Reader): KvResult {
  const [succeeded] = readFlagBits(r, 1, 'txn succeeded');
  const revision = readRevision(r, 'txn revision');
  const count = r.count('txn results', 2);
  const results: OpResult[] = [];
  for (let i = 0; i < count; i++) results.push(readResult(r, false) as OpResult);
  return { kind: 'txn', succeeded: succeeded === true, results, revision };
}

function readOtherResult(
  r: Reader,
  kind: 'lease-grant' | 'lease-revoke' | 'lease-checkpoint' | 'compact' | 'error',
): KvResult {
  switch (kind) {
    case 'lease-grant':
      return {
        kind,
        id: readLeaseId(r, 'grant id'),
        ttlMs: r.varint('grant ttlMs'),
        revision: readRevision(r, 'grant revision'),
      };
    case 'lease-revoke':
    case 'lease-checkpoint':
    case 'compact':
      return { kind, revision: readRevision(r, `${kind} revision`) };
    case 'error': {
      const code = r.string('error code');
      if (!KV_CODES.has(code))
        throw new DecodeFailure(
          'ERR_DECODE_MALFORMED',
          `unknown error code ${JSON.stringify(code)}`,
        );
      const message = r.string('error message');
      const compact = r.varint('error compactRevision');
      const base = { kind, code: code as KvErrorCode, message };
      return compact === 0 ? base : { ...base, compactRevision: revision(compact) };
    }
  }
}
