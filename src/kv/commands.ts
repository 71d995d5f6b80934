/**
 * Command validation and builders (docs/design/kv.md, "Commands").
 *
 * `validateCommand` is the one check of a command's arguments and limits. The node runs it
 * before proposing, and the state machine runs it again when it applies the entry, so a command
 * a buggy or hostile proposer slipped into the log is refused the same way on every replica
 * (KvConfig is cluster-wide). The rules are etcd's (etcdserver/api/v3rpc/key.go):
 * - keys are non-empty; a put with `ignoreValue` carries no value, with `ignoreLease` no lease;
 * - a txn level has at most txnOpsMax compares and at most txnOpsMax operations per branch, and a
 *   nested txn gets what its parent left of that budget (checkTxnRequest);
 * - a txn branch never writes a key twice: no two puts of one key, no put inside a range the same
 *   branch deletes, counting nested txns, whose success and failure exclude each other
 *   (checkIntervals, ERR_DUPLICATE_KEY).
 * The request size (requestBytesMax) is checked on the encoded bytes (codec.ts).
 */
import { assert } from '../base/assert.js';
import { utf8Bytes } from '../base/utf8.js';
import type { KvConfig } from './config.js';
import { keySpan, keyText, prefixEnd, spanHas, toBytes, type KeySpan } from './keys.js';
import {
  kvError,
  leaseId,
  type LeaseId,
  type KvCommand,
  type KvError,
  type KvOp,
  type KvResult,
  type RangeRequest,
  type RequestOp,
  type Revision,
  type TxnRequest,
} from './types.js';

/** The first argument or limit `command` breaks, or undefined when it is valid. */
export function validateCommand(command: KvCommand, config: KvConfig): KvError | undefined {
  const session = command.session;
  if (session !== undefined) {
    const idBytes = utf8Bytes(session.clientId);
    if (idBytes === 0) return kvError('ERR_INVALID_ARGUMENT', 'session clientId is empty');
    if (idBytes > config.clientIdBytesMax)
      return kvError(
        'ERR_TOO_LARGE',
        `session clientId of ${idBytes} bytes exceeds clientIdBytesMax (${config.clientIdBytesMax})`,
      );
    if (!Number.isSafeInteger(session.seq) || session.seq < 1)
      return kvError('ERR_INVALID_ARGUMENT', `session seq (${session.seq}) must be at least 1`);
  }
  return validateOp(command.op, config);
}

function validateOp(op: KvOp, config: KvConfig): KvError | undefined {
  switch (op.kind) {
    case 'put':
    case 'delete-range':
    case 'range':
      return validateRequestOp(op, config);
    case 'txn':
      return validateTxn(op.request, config, config.txnOpsMax, 1) ?? checkDuplicates(op.request);
    case 'lease-grant':
      if (!validId(op.id))
        return kvError('ERR_INVALID_ARGUMENT', `lease id ${op.id} is not positive`);
      if (!Number.isSafeInteger(op.ttlMs) || op.ttlMs < 0)
        return kvError('ERR_INVALID_ARGUMENT', `lease ttlMs (${op.ttlMs}) must be >= 0`);
      if (op.ttlMs > config.leaseTtlMsMax)
        return kvError(
          'ERR_LEASE_TTL_TOO_LARGE',
          `lease ttlMs (${op.ttlMs}) exceeds leaseTtlMsMax (${config.leaseTtlMsMax})`,
        );
      return undefined;
    case 'lease-revoke':
      return validId(op.id)
        ? undefined
        : kvError('ERR_INVALID_ARGUMENT', `lease id ${op.id} is not positive`);
    case 'lease-checkpoint':
      if (op.checkpoints.length > config.leasesMax)
        return kvError(
          'ERR_TOO_LARGE',
          `${op.checkpoints.length} checkpoints exceed leasesMax (${config.leasesMax})`,
        );
      for (const c of op.checkpoints)
        if (!validId(c.id) || !Number.isSafeInteger(c.remainingTtlMs) || c.remainingTtlMs < 0)
          return kvError('ERR_INVALID_ARGUMENT', `bad checkpoint for lease ${c.id}`);
      return undefined;
    case 'compact':
      return Number.isSafeInteger(op.revision) && op.revision >= 0
        ? undefined
        : kvError('ERR_INVALID_ARGUMENT', `compact revision ${op.revision} is not >= 0`);
  }
}

function validId(id: number): boolean {
  return Number.isSafeInteger(id) && id >= 1;
}

function validateKey(
  key: Uint8Array,
  rangeEnd: Uint8Array | undefined,
  config: KvConfig,
): KvError | undefined {
  if (key.length === 0) return kvError('ERR_INVALID_ARGUMENT', 'key is empty');
  if (key.length > config.keyBytesMax)
    return kvError(
      'ERR_TOO_LARGE',
      `key of ${key.length} bytes exceeds keyBytesMax (${config.keyBytesMax})`,
    );
  if (rangeEnd !== undefined && rangeEnd.length > config.keyBytesMax)
    return kvError(
      'ERR_TOO_LARGE',
      `rangeEnd of ${rangeEnd.length} bytes exceeds keyBytesMax (${config.keyBytesMax})`,
    );
  return undefined;
}

function validRevision(value: number | undefined): boolean {
  return value === undefined || (Number.isSafeInteger(value) && value >= 0);
}

function validateRange(request: RangeRequest, config: KvConfig): KvError | undefined {
  const bad = validateKey(request.key, request.rangeEnd, config);
  if (bad !== undefined) return bad;
  if (request.limit !== undefined && !(Number.isSafeInteger(request.limit) && request.limit >= 0))
    return kvError('ERR_INVALID_ARGUMENT', `range limit (${request.limit}) must be >= 0`);
  for (const name of [
    'revision',
    'minModRevision',
    'maxModRevision',
    'minCreateRevision',
    'maxCreateRevision',
  ] as const)
    if (!validRevision(request[name]))
      return kvError('ERR_INVALID_ARGUMENT', `range ${name} (${request[name]}) must be >= 0`);
  return undefined;
}

function validateRequestOp(
  op: Exclude<RequestOp, { kind: 'txn' }>,
  config: KvConfig,
): KvError | undefined {
  switch (op.kind) {
    case 'range':
      return validateRange(op.request, config);
    case 'delete-range':
      return validateKey(op.request.key, op.request.rangeEnd, config);
    case 'put': {
      const put = op.request;
      const bad = validateKey(put.key, undefined, config);
      if (bad !== undefined) return bad;
      if (put.value.length > config.valueBytesMax)
        return kvError(
          'ERR_TOO_LARGE',
          `value of ${put.value.length} bytes exceeds valueBytesMax (${config.valueBytesMax})`,
        );
      if (put.ignoreValue === true && put.value.length !== 0)
        return kvError('ERR_INVALID_ARGUMENT', 'a put with ignoreValue must carry no value');
      if (put.ignoreLease === true && put.lease !== undefined)
        return kvError('ERR_INVALID_ARGUMENT', 'a put with ignoreLease must carry no lease');
      if (put.lease !== undefined && !validId(put.lease))
        return kvError('ERR_INVALID_ARGUMENT', `lease id ${put.lease} is not positive`);
      return undefined;
    }
  }
}

/** etcd's checkTxnRequest: per-level budget, nested txns get what is left. */
function validateTxn(
  txn: TxnRequest,
  config: KvConfig,
  opsMax: number,
  depth: number,
): KvError | undefined {
  if (depth > config.txnDepthMax)
    return kvError(
      'ERR_TOO_MANY_OPS',
      `txn nesting depth ${depth} exceeds txnDepthMax (${config.txnDepthMax})`,
    );
  const ops = Math.max(txn.compare.length, txn.success.length, txn.failure.length);
  if (ops > opsMax)
    return kvError(
      'ERR_TOO_MANY_OPS',
      `txn has ${ops} compares or operations in one branch; at most ${opsMax} allowed here (txnOpsMax ${config.txnOpsMax})`,
    );
  for (const c of txn.compare) {
    const bad = validateKey(c.key, c.rangeEnd, config);
    if (bad !== undefined) return bad;
    if (c.target !== 'value' && !(Number.isSafeInteger(c.value) && c.value >= 0))
      return kvError('ERR_INVALID_ARGUMENT', `compare ${c.target} value (${c.value}) must be >= 0`);
  }
  for (const op of [...txn.success, ...txn.failure]) {
    const bad =
      op.kind === 'txn'
        ? validateTxn(op.request, config, opsMax - ops, depth + 1)
        : validateRequestOp(op, config);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

interface Writes {
  readonly puts: Set<string>;
  readonly dels: KeySpan[];
}

function deleted(dels: readonly KeySpan[], key: string): boolean {
  return dels.some((span) => spanHas(span, key));
}

/** etcd's checkIntervals over one branch: the keys it puts and the ranges it deletes, or a duplicate. */
function branchWrites(ops: readonly RequestOp[]): Writes | KvError {
  const dels: KeySpan[] = [];
  for (const op of ops)
    if (op.kind === 'delete-range') dels.push(keySpan(op.request.key, op.request.rangeEnd));
  const puts = new Set<string>();
  const duplicate = (key: string): KvError =>
    kvError('ERR_DUPLICATE_KEY', `txn writes key ${JSON.stringify(key)} twice in one branch`);
  for (const op of ops) {
    if (op.kind !== 'txn') continue;
    const then = branchWrites(op.request.success);
    if ('kind' in then) return then;
    const otherwise = branchWrites(op.request.failure);
    if ('kind' in otherwise) return otherwise;
    for (const key of then.puts) {
      if (puts.has(key) || deleted(dels, key)) return duplicate(key);
      puts.add(key);
    }
    for (const key of otherwise.puts) {
      // A key both branches put is fine: only one branch runs.
      if ((puts.has(key) && !then.puts.has(key)) || deleted(dels, key)) return duplicate(key);
      puts.add(key);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (op.kind !== 'put') continue;
    const key = keyText(op.request.key);
    if (puts.has(key) || deleted(dels, key)) return duplicate(key);
    puts.add(key);
  }
  return { puts, dels };
}

function checkDuplicates(txn: TxnRequest): KvError | undefined {
  for (const branch of [txn.success, txn.failure]) {
    const writes = branchWrites(branch);
    if ('kind' in writes) return writes;
  }
  return undefined;
}

// ---- builders for the common shapes ----

/** The range of every key starting with `prefix` (text is UTF-8). */
export function prefixRange(prefix: string | Uint8Array): {
  key: Uint8Array;
  rangeEnd: Uint8Array;
} {
  const key = toBytes(prefix);
  return key.length === 0
    ? { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }
    : { key, rangeEnd: prefixEnd(key) };
}

/**
 * A compare-and-swap put (INTERFACE.md: `shoal kv put --prev-revision N`, HTTP `?prevRevision=N`):
 * writes only if the key's modRevision is `prevRevision` (0: only if the key is absent). Map its
 * result with `casOutcome`.
 */
export function casPut(
  key: Uint8Array,
  value: Uint8Array,
  prevRevision: Revision | 0,
  options: { lease?: LeaseId } = {},
): KvOp {
  const put = options.lease === undefined ? { key, value } : { key, value, lease: options.lease };
  return {
    kind: 'txn',
    request: {
      compare: [{ key, target: 'modRevision', op: '=', value: prevRevision }],
      success: [{ kind: 'put', request: put }],
      failure: [{ kind: 'range', request: { key } }],
    },
  };
}

/** A `casPut` result as the put result it stands for, or ERR_CAS_FAILED naming the current revision. */
export function casOutcome(result: KvResult): KvResult {
  if (result.kind !== 'txn') return result;
  const first = result.results[0];
  assert(first !== undefined, 'a casPut txn runs one operation in either branch');
  if (result.succeeded) return first;
  const kv = first.kind === 'range' ? first.kvs[0] : undefined;
  return kvError(
    'ERR_CAS_FAILED',
    kv === undefined
      ? 'compare-and-swap failed: the key does not exist'
      : `compare-and-swap failed: the key's modRevision is ${kv.modRevision}`,
  );
}

/** A lease id for a grant, from a proposer's random source (a collision is refused: ERR_LEASE_EXISTS). */
export function randomLeaseId(int: (bound: number) => number): LeaseId {
  // Two 26-bit draws make a 52-bit id; +1 keeps it off 0 (no lease).
  return leaseId(int(2 ** 26) * 2 ** 26 + int(2 ** 26) + 1);
}
