/**
 * The binary form of a key-value command: the payload of a Raft log entry (docs/design/kv.md,
 * "Encoding"). Layout: version byte, flags (bit 0: a session follows), [clientId string, seq],
 * the op's type byte, the op's fields.
 *
 * `encodeCommand` validates first (commands.ts) and refuses an encoding above requestBytesMax
 * with ERR_TOO_LARGE, so what it returns can be proposed. `decodeCommand` never throws on bad
 * bytes: a refusal carries an ERR_DECODE_* code, and nothing is allocated past the input (every
 * length and count is checked against the bytes left). decode(encode(c)) equals c for every
 * command in canonical form (absent optional fields rather than zeros).
 */
import { assertNever } from '../base/assert.js';
import {
  DecodeFailure,
  Writer,
  readEnum,
  reverseTable,
  type FieldLimits,
  type Reader,
} from '../codec/bytes.js';
import {
  KV_CODEC_VERSION,
  decodeAll,
  flag,
  readBlob,
  readFlagBits,
  readFlagByte,
  readLeaseId,
  readOptionalBlob,
  readOptionalLease,
  readOptionalRevision,
  readRevision,
  writeBlob,
  writeFlags,
  type Decoded,
} from './codec-fields.js';
import { validateCommand } from './commands.js';
import type { KvConfig } from './config.js';
import {
  kvError,
  type Compare,
  type CompareOp,
  type CompareTarget,
  type KvCommand,
  type KvError,
  type KvOp,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type SortOrder,
  type SortTarget,
  type TxnRequest,
} from './types.js';

// APPEND ONLY: these numbers are in every log entry and snapshot ever written.
export const OP_NUMBERS = {
  put: 1,
  'delete-range': 2,
  txn: 3,
  range: 4,
  'lease-grant': 5,
  'lease-revoke': 6,
  'lease-checkpoint': 7,
  compact: 8,
} as const satisfies Record<KvOp['kind'], number>;
const OP_NAMES = reverseTable<KvOp['kind']>(OP_NUMBERS);

const SORT_ORDERS = { none: 0, ascend: 1, descend: 2 } as const satisfies Record<SortOrder, number>;
const SORT_TARGETS = { key: 0, version: 1, create: 2, mod: 3, value: 4 } as const satisfies Record<
  SortTarget,
  number
>;
const COMPARE_TARGETS = {
  version: 0,
  createRevision: 1,
  modRevision: 2,
  value: 3,
  lease: 4,
} as const satisfies Record<CompareTarget, number>;
const COMPARE_OPS = { '=': 0, '>': 1, '<': 2, '!=': 3 } as const satisfies Record<
  CompareOp,
  number
>;
const SORT_ORDER_NAMES = reverseTable<SortOrder>(SORT_ORDERS);
const SORT_TARGET_NAMES = reverseTable<SortTarget>(SORT_TARGETS);
const COMPARE_TARGET_NAMES = reverseTable<CompareTarget>(COMPARE_TARGETS);
const COMPARE_OP_NAMES = reverseTable<CompareOp>(COMPARE_OPS);

/** Validates and encodes `command`; a command that breaks a limit is returned as its KvError. */
export function encodeCommand(command: KvCommand, config: KvConfig): Uint8Array | KvError {
  const invalid = validateCommand(command, config);
  if (invalid !== undefined) return invalid;
  const bytes = encodeCommandUnchecked(command);
  if (bytes.length > config.requestBytesMax)
    return kvError(
      'ERR_TOO_LARGE',
      `request of ${bytes.length} bytes exceeds requestBytesMax (${config.requestBytesMax})`,
    );
  return bytes;
}

/**
 * The writer every command is encoded in (its buffer grows to the largest command and stays;
 * `finish` copies the bytes out). A fresh 64-byte writer per command grew three times for a put
 * of a 256-byte value, four allocations and copies before the last.
 */
const scratch = new Writer(1024);

/** Encodes without validating (tests and the fuzzer use it to build bad commands). */
export function encodeCommandUnchecked(command: KvCommand): Uint8Array {
  const w = scratch;
  w.reset();
  w.u8(KV_CODEC_VERSION);
  const session = command.session;
  writeFlags(w, [session !== undefined]);
  if (session !== undefined) {
    w.string(session.clientId, Number.MAX_SAFE_INTEGER);
    w.varint(session.seq);
  }
  writeOp(w, command.op);
  return w.finish();
}

let limitsConfig: KvConfig | undefined;
let limits: FieldLimits = { decodeListCountMax: 0, decodeStringBytesMax: 0 };

/** The decode limits of `config`, made once per config (a node has one). */
function limitsOf(config: KvConfig): FieldLimits {
  if (config !== limitsConfig) {
    limitsConfig = config;
    limits = {
      decodeListCountMax: config.requestBytesMax,
      decodeStringBytesMax: config.clientIdBytesMax,
    };
  }
  return limits;
}

/** Decodes a command; bad bytes are a refusal with an ERR_DECODE_* code. */
export function decodeCommand(bytes: Uint8Array, config: KvConfig): Decoded<KvCommand> {
  const limits = limitsOf(config);
  return decodeAll(bytes, limits, config.requestBytesMax, 'kv command', (r) => {
    const [hasSession] = readFlagBits(r, 1, 'command flags');
    const session = hasSession
      ? { clientId: r.string('session clientId'), seq: r.varint('session seq') }
      : undefined;
    const op = readOp(r, config.txnDepthMax);
    return session === undefined ? { op } : { session, op };
  });
}

function writeOp(w: Writer, op: KvOp): void {
  w.u8(OP_NUMBERS[op.kind]);
  switch (op.kind) {
    case 'put':
    case 'delete-range':
    case 'range':
    case 'txn':
      writeRequestBody(w, op);
      return;
    case 'lease-grant':
      w.varint(op.id);
      w.varint(op.ttlMs);
      return;
    case 'lease-revoke':
      w.varint(op.id);
      return;
    case 'lease-checkpoint':
      w.varint(op.checkpoints.length);
      for (const c of op.checkpoints) {
        w.varint(c.id);
        w.varint(c.remainingTtlMs);
      }
      return;
    case 'compact':
      w.varint(op.revision);
      return;
    default:
      assertNever(op, 'kv op');
  }
}

function readOp(r: Reader, depthLeft: number): KvOp {
  const kind = readEnum(r, OP_NAMES, 'op type');
  switch (kind) {
    case 'put':
    case 'delete-range':
    case 'range':
    case 'txn':
      return readRequestBody(r, kind, depthLeft);
    case 'lease-grant':
      return { kind, id: readLeaseId(r, 'lease id'), ttlMs: r.varint('lease ttlMs') };
    case 'lease-revoke':
      return { kind, id: readLeaseId(r, 'lease id') };
    case 'lease-checkpoint': {
      const count = r.count('checkpoints', 2);
      const checkpoints = [];
      for (let i = 0; i < count; i++)
        checkpoints.push({
          id: readLeaseId(r, 'checkpoint lease id'),
          remainingTtlMs: r.varint('checkpoint remainingTtlMs'),
        });
      return { kind, checkpoints };
    }
    case 'compact':
      return { kind, revision: readRevision(r, 'compact revision') };
  }
}

/** The fields of a put, delete-range, range or txn (the same inside a txn branch). */
function writeRequestBody(w: Writer, op: RequestOp): void {
  switch (op.kind) {
    case 'put': {
      const p = op.request;
      writeBlob(w, p.key);
      writeBlob(w, p.value);
      w.varint(p.lease ?? 0);
      writeFlags(w, [p.prevKv, p.ignoreValue, p.ignoreLease]);
      return;
    }
    case 'delete-range':
      writeBlob(w, op.request.key);
      writeBlob(w, op.request.rangeEnd ?? EMPTY);
      writeFlags(w, [op.request.prevKv]);
      return;
    case 'range':
      writeRange(w, op.request);
      return;
    case 'txn':
      writeTxn(w, op.request);
      return;
    default:
      assertNever(op, 'request op');
  }
}

const EMPTY = new Uint8Array(0);

function readRequestBody(r: Reader, kind: RequestOp['kind'], depthLeft: number): RequestOp {
  switch (kind) {
    case 'put': {
      const key = readBlob(r, 'put key');
      const value = readBlob(r, 'put value');
      const lease = readOptionalLease(r, 'put lease');
      const bits = readFlagByte(r, 3, 'put flags');
      // Built in place, not of spreads: every replica decodes every put it applies.
      const request: { -readonly [K in keyof PutRequest]: PutRequest[K] } = { key, value };
      if (lease !== undefined) request.lease = lease;
      if ((bits & 1) !== 0) request.prevKv = true;
      if ((bits & 2) !== 0) request.ignoreValue = true;
      if ((bits & 4) !== 0) request.ignoreLease = true;
      return { kind, request };
    }
    case 'delete-range': {
      const key = readBlob(r, 'delete key');
      const rangeEnd = readOptionalBlob(r, 'delete rangeEnd');
      const [prevKv] = readFlagBits(r, 1, 'delete flags');
      return {
        kind,
        request: {
          key,
          ...(rangeEnd === undefined ? {} : { rangeEnd }),
          ...flag('prevKv', prevKv),
        },
      };
    }
    case 'range':
      return { kind, request: readRange(r) };
    case 'txn':
      return { kind, request: readTxn(r, depthLeft) };
  }
}

function writeRange(w: Writer, q: RangeRequest): void {
  writeBlob(w, q.key);
  writeBlob(w, q.rangeEnd ?? EMPTY);
  w.varint(q.limit ?? 0);
  w.varint(q.revision ?? 0);
  w.u8(SORT_ORDERS[q.sortOrder ?? 'none']);
  w.u8(SORT_TARGETS[q.sortTarget ?? 'key']);
  writeFlags(w, [q.keysOnly, q.countOnly]);
  w.varint(q.minModRevision ?? 0);
  w.varint(q.maxModRevision ?? 0);
  w.varint(q.minCreateRevision ?? 0);
  w.varint(q.maxCreateRevision ?? 0);
}

function readRange(r: Reader): RangeRequest {
  const key = readBlob(r, 'range key');
  const rangeEnd = readOptionalBlob(r, 'range rangeEnd');
  const limit = r.varint('range limit');
  const revision = readOptionalRevision(r, 'range revision');
  const sortOrder = readEnum(r, SORT_ORDER_NAMES, 'range sortOrder');
  const sortTarget = readEnum(r, SORT_TARGET_NAMES, 'range sortTarget');
  const [keysOnly, countOnly] = readFlagBits(r, 2, 'range flags');
  const filters = {
    minModRevision: readOptionalRevision(r, 'range minModRevision'),
    maxModRevision: readOptionalRevision(r, 'range maxModRevision'),
    minCreateRevision: readOptionalRevision(r, 'range minCreateRevision'),
    maxCreateRevision: readOptionalRevision(r, 'range maxCreateRevision'),
  };
  const out: { -readonly [K in keyof RangeRequest]: RangeRequest[K] } = { key };
  if (rangeEnd !== undefined) out.rangeEnd = rangeEnd;
  if (limit !== 0) out.limit = limit;
  if (revision !== undefined) out.revision = revision;
  if (sortOrder !== 'none') out.sortOrder = sortOrder;
  if (sortTarget !== 'key') out.sortTarget = sortTarget;
  if (keysOnly === true) out.keysOnly = true;
  if (countOnly === true) out.countOnly = true;
  for (const name of Object.keys(filters) as (keyof typeof filters)[]) {
    const value = filters[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function writeTxn(w: Writer, txn: TxnRequest): void {
  w.varint(txn.compare.length);
  for (const c of txn.compare) {
    writeBlob(w, c.key);
    writeBlob(w, c.rangeEnd ?? EMPTY);
    w.u8(COMPARE_TARGETS[c.target]);
    w.u8(COMPARE_OPS[c.op]);
    if (c.target === 'value') writeBlob(w, c.value);
    else w.varint(c.value);
  }
  for (const branch of [txn.success, txn.failure]) {
    w.varint(branch.length);
    for (const op of branch) {
      w.u8(OP_NUMBERS[op.kind]);
      writeRequestBody(w, op);
    }
  }
}

/** Smallest encodings: a compare is 2 blobs + 2 bytes + 1; an op is its type + 4 bytes at least. */
const COMPARE_BYTES_MIN = 5;
const REQUEST_OP_BYTES_MIN = 4;

function readTxn(r: Reader, depthLeft: number): TxnRequest {
  if (depthLeft <= 0)
    throw new DecodeFailure('ERR_DECODE_OVERSIZED', 'txn nested deeper than txnDepthMax');
  const compare: Compare[] = [];
  const compareCount = r.count('txn compares', COMPARE_BYTES_MIN);
  for (let i = 0; i < compareCount; i++) compare.push(readCompare(r));
  const branches: RequestOp[][] = [];
  for (const name of ['success', 'failure']) {
    const count = r.count(`txn ${name} ops`, REQUEST_OP_BYTES_MIN);
    const ops: RequestOp[] = [];
    for (let i = 0; i < count; i++) {
      const kind = readEnum(r, OP_NAMES, `txn ${name} op type`);
      if (kind !== 'put' && kind !== 'delete-range' && kind !== 'range' && kind !== 'txn')
        throw new DecodeFailure('ERR_DECODE_MALFORMED', `txn ${name} op of type ${kind}`);
      ops.push(readRequestBody(r, kind, depthLeft - 1));
    }
    branches.push(ops);
  }
  return { compare, success: branches[0] ?? [], failure: branches[1] ?? [] };
}

function readCompare(r: Reader): Compare {
  const key = readBlob(r, 'compare key');
  const rangeEnd = readOptionalBlob(r, 'compare rangeEnd');
  const target = readEnum(r, COMPARE_TARGET_NAMES, 'compare target');
  const op = readEnum(r, COMPARE_OP_NAMES, 'compare op');
  const range = rangeEnd === undefined ? { key } : { key, rangeEnd };
  return target === 'value'
    ? { ...range, target, op, value: readBlob(r, 'compare value') }
    : { ...range, target, op, value: r.varint('compare value') };
}
