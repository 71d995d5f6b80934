/**
 * Writes inside one write transaction (etcd's etcdserver/txn put.go, delete.go, txn.go and
 * mvcc/kvstore_txn.go storeTxnWrite), on a `WriteTxn` that gives every change revision `main`
 * and the next sub-revision.
 *
 * etcd's rules kept here:
 * - A txn's compares, including those of nested txns, are all evaluated first, against the
 *   revision before the txn (compareToPath). Then every chosen operation is checked (a range's
 *   revision, a put's lease and ignore flags) before anything is written, so a refused txn changes
 *   nothing. Then the operations run in order; a range after a write sees it.
 * - A put attaches its key to the new lease and detaches it from the old one; a delete detaches.
 * - Results carry the transaction's revision once something changed (main), else the revision
 *   before it (main - 1).
 */
import { assert, assertNever } from '../base/assert.js';
import { keySpan, keyText } from './keys.js';
import { deleteRecord, getAt, putRecord, scanAt, type KeyHistory } from './mvcc.js';
import { checkReadRevision, compareHolds, readRange } from './read.js';
import type { WriteTxn } from './state.js';
import {
  kvError,
  revision,
  type DeleteRangeRequest,
  type KeyValue,
  type KvError,
  type LeaseId,
  type OpResult,
  type PutRequest,
  type PutResult,
  type DeleteRangeResult,
  type RequestOp,
  type Revision,
  type TxnRequest,
  type TxnResult,
} from './types.js';

/** The revision a read inside the txn sees: its own once it changed something. */
export function txnReadRevision(w: WriteTxn): Revision {
  return w.sub > 0 ? w.main : revision(w.main - 1);
}

function detach(w: WriteTxn, lease: LeaseId | undefined, text: string): void {
  if (lease !== undefined) w.state.leases.get(lease)?.keys.delete(text);
}

/** ERR_LEASE_NOT_FOUND or ERR_KEY_NOT_FOUND for `put` as the store is now, or undefined. */
export function checkPut(w: WriteTxn, put: PutRequest): KvError | undefined {
  if (put.lease !== undefined && !w.state.leases.has(put.lease))
    return kvError('ERR_LEASE_NOT_FOUND', `lease ${put.lease} not found`);
  if (put.ignoreValue === true || put.ignoreLease === true) {
    const prev = getAt(w.state.mvcc, keyText(put.key), txnReadRevision(w));
    if (prev === undefined)
      return kvError(
        'ERR_KEY_NOT_FOUND',
        'a put with ignoreValue or ignoreLease needs an existing key',
      );
  }
  return undefined;
}

/** Runs a checked put. */
export function doPut(w: WriteTxn, put: PutRequest): PutResult {
  const mvcc = w.state.mvcc;
  const text = keyText(put.key);
  // Only ignoreValue / ignoreLease need the current value before the put (putRecord finds it too).
  const keep = put.ignoreValue === true || put.ignoreLease === true;
  const current = keep ? getAt(mvcc, text, txnReadRevision(w)) : undefined;
  const value = put.ignoreValue === true && current !== undefined ? current.value : put.value;
  const lease = put.ignoreLease === true ? current?.lease : put.lease;
  const { kv, prev } = putRecord(mvcc, text, value, lease, w.main, w.sub++);
  if (prev?.lease !== lease) {
    detach(w, prev?.lease, text);
    if (lease !== undefined) w.state.leases.get(lease)?.keys.add(text);
  }
  w.events.push({ type: 'put', kv, revision: w.main });
  const result: PutResult = { kind: 'put', revision: w.main };
  return put.prevKv === true && prev !== undefined ? { ...result, prevKv: prev } : result;
}

/** Deletes every key of the span that exists now; returns the removed values. */
export function deleteSpan(w: WriteTxn, request: DeleteRangeRequest): KeyValue[] {
  const mvcc = w.state.mvcc;
  const histories: KeyHistory[] = [];
  scanAt(mvcc, keySpan(request.key, request.rangeEnd), txnReadRevision(w), (_kv, text) => {
    const history = mvcc.index.get(text);
    if (history !== undefined) histories.push(history);
    return true;
  });
  const removed: KeyValue[] = [];
  for (const history of histories) {
    const { prev, tombstone } = deleteRecord(mvcc, history, w.main, w.sub++);
    detach(w, prev.lease, history.text);
    w.events.push({ type: 'delete', kv: tombstone, revision: w.main });
    removed.push(prev);
  }
  return removed;
}

export function doDelete(w: WriteTxn, request: DeleteRangeRequest): DeleteRangeResult {
  const removed = deleteSpan(w, request);
  const result: DeleteRangeResult = {
    kind: 'delete-range',
    deleted: removed.length,
    revision: txnReadRevision(w),
  };
  return request.prevKv === true ? { ...result, prevKvs: removed } : result;
}

/** The branch taken at each txn level, in the order etcd's compareToPath lists them. */
function txnPath(w: WriteTxn, txn: TxnRequest, before: number, path: boolean[]): void {
  const succeeded = txn.compare.every((c) => compareHolds(w.state.mvcc, c, before));
  path.push(succeeded);
  for (const op of succeeded ? txn.success : txn.failure)
    if (op.kind === 'txn') txnPath(w, op.request, before, path);
}

/** etcd's checkTxn: the first refusal among the operations the path runs, or undefined. */
function checkTxn(
  w: WriteTxn,
  txn: TxnRequest,
  path: readonly boolean[],
  at: { i: number },
): KvError | undefined {
  const ops = path[at.i++] === true ? txn.success : txn.failure;
  for (const op of ops) {
    const bad =
      op.kind === 'range'
        ? checkReadRevision(w.state.mvcc, op.request.revision ?? 0, w.main - 1)
        : op.kind === 'put'
          ? checkPut(w, op.request)
          : op.kind === 'txn'
            ? checkTxn(w, op.request, path, at)
            : undefined;
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function runTxn(
  w: WriteTxn,
  txn: TxnRequest,
  path: readonly boolean[],
  at: { i: number },
): TxnResult {
  const succeeded = path[at.i++] === true;
  const results: OpResult[] = [];
  for (const op of succeeded ? txn.success : txn.failure) results.push(runOp(w, op, path, at));
  return { kind: 'txn', succeeded, results, revision: txnReadRevision(w) };
}

function runOp(w: WriteTxn, op: RequestOp, path: readonly boolean[], at: { i: number }): OpResult {
  switch (op.kind) {
    case 'range': {
      const result = readRange(w.state.mvcc, op.request, txnReadRevision(w), w.main - 1);
      // checkTxn refused every range that could fail, before anything was written.
      assert(result.kind !== 'error', `checked range refused: ${result.kind}`);
      return result;
    }
    case 'put':
      return doPut(w, op.request);
    case 'delete-range':
      return doDelete(w, op.request);
    case 'txn':
      return runTxn(w, op.request, path, at);
    default:
      return assertNever(op, 'txn op');
  }
}

/** A whole txn: compares, checks, then the chosen branch; a refusal changes nothing. */
export function doTxn(w: WriteTxn, txn: TxnRequest): TxnResult | KvError {
  const path: boolean[] = [];
  txnPath(w, txn, w.main - 1, path);
  const refused = checkTxn(w, txn, path, { i: 0 });
  if (refused !== undefined) return refused;
  // A txn result (a nested one too) carries the revision as of its end.
  return runTxn(w, txn, path, { i: 0 });
}
