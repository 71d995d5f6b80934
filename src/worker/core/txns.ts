/**
 * The worker tier's writes to the replicated store, as etcd txns built here (pure) and run by
 * whichever store the shell has (a raft node's KvService, the simulator's store). Every rule that
 * must survive a failover is a compare inside the txn, evaluated by the state machine in log
 * order, never a check in some server's memory:
 *
 * - registration: `version(token/<id>) < maxUses` and `version(token-revoked/<id>) = 0`, then a
 *   put of token/<id> (its version is the use count: one put per use), of token-use/<id>/<worker>
 *   and of the worker record. Concurrent registrations with one token are ordered by the log;
 *   the (maxUses+1)th fails its compare on every replica, so uses never exceed the maximum,
 *   whoever leads. A worker (one key) that already used the token registers again without a new
 *   use, so a retry after a lost answer does not burn the token.
 * - status changes (down, registered again, drained, revoked) and certificate renewals:
 *   compare-and-swap on the worker record's modRevision, so a change computed from a stale view
 *   (a mark racing a re-registration) is refused instead of overwriting it.
 */
import type { KeyValue, RangeResult, TxnRequest, TxnResult } from '../../kv/types.js';
import { keys } from './layout.js';
import { records, type TokenUse, type WorkerRecord } from './records.js';
import type { TokenClaims } from './token.js';

export function registrationTxn(
  claims: Pick<TokenClaims, 'tokenId' | 'maxUses' | 'expiresAtMs'>,
  record: WorkerRecord,
  nowMs: number,
): TxnRequest {
  const tokenKey = keys.token(claims.tokenId);
  const revokedKey = keys.tokenRevoked(claims.tokenId);
  const useKey = keys.tokenUse(claims.tokenId, record.id);
  const use: TokenUse = {
    lastWorkerId: record.id,
    maxUses: claims.maxUses,
    expiresAtMs: claims.expiresAtMs,
    atMs: nowMs,
  };
  const putRecord = {
    kind: 'put' as const,
    request: { key: keys.worker(record.id), value: records.worker.encode(record) },
  };
  return {
    // This worker (its key) never used this token: take a use, if one is left.
    compare: [{ key: useKey, target: 'version', op: '=', value: 0 }],
    success: [
      {
        kind: 'txn',
        request: {
          compare: [
            { key: tokenKey, target: 'version', op: '<', value: claims.maxUses },
            { key: revokedKey, target: 'version', op: '=', value: 0 },
          ],
          success: [
            { kind: 'put', request: { key: tokenKey, value: records.tokenUse.encode(use) } },
            {
              kind: 'put',
              request: { key: useKey, value: new TextEncoder().encode(String(nowMs)) },
            },
            putRecord,
          ],
          failure: [
            { kind: 'range', request: { key: tokenKey } },
            { kind: 'range', request: { key: revokedKey } },
          ],
        },
      },
    ],
    // It did (a retry after a lost answer, or a worker that lost its certificate but kept its
    // key): the same use again, so the record is replaced and no new use is taken.
    failure: [putRecord],
  };
}

export type RegistrationOutcome =
  | { ok: true; revision: number; retried: boolean }
  | { ok: false; refusal: 'revoked' | 'used-up'; uses: number };

/** What a registration txn's result means. */
export function registrationOutcome(result: TxnResult): RegistrationOutcome {
  if (!result.succeeded) return { ok: true, revision: result.revision, retried: true };
  const inner = result.results[0] as TxnResult;
  if (inner.succeeded) return { ok: true, revision: result.revision, retried: false };
  const [token, revoked] = inner.results as [RangeResult, RangeResult];
  const uses = token.kvs[0]?.version ?? 0;
  return { ok: false, refusal: revoked.kvs.length > 0 ? 'revoked' : 'used-up', uses };
}

/** Revokes a token: later registrations with it fail their compare. */
export function revokeTokenTxn(tokenId: string, nowMs: number): TxnRequest {
  return {
    compare: [],
    success: [
      {
        kind: 'put',
        request: {
          key: keys.tokenRevoked(tokenId),
          value: new TextEncoder().encode(String(nowMs)),
        },
      },
    ],
    failure: [],
  };
}

/** Replaces a worker record if it is still at `expectRevision` (0: must be absent). */
export function recordCasTxn(record: WorkerRecord, expectRevision: number): TxnRequest {
  const key = keys.worker(record.id);
  return {
    compare: [{ key, target: 'modRevision', op: '=', value: expectRevision }],
    success: [{ kind: 'put', request: { key, value: records.worker.encode(record) } }],
    failure: [],
  };
}

/** The record with a new status, for a status change at `nowMs`. */
export function withStatus(
  record: WorkerRecord,
  status: WorkerRecord['status'],
  reason: string,
  nowMs: number,
): WorkerRecord {
  return { ...record, status, reason: reason.slice(0, 256), changedAtMs: nowMs };
}

/** A stored worker record with its revision, or undefined when the value does not parse. */
export function workerFromKv(kv: KeyValue): (WorkerRecord & { modRevision: number }) | undefined {
  const record = records.worker.decode(kv.value);
  return record === undefined ? undefined : { ...record, modRevision: kv.modRevision };
}
