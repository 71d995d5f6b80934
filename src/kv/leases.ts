/**
 * The replicated lease table (etcd's lease/lessor.go Grant, Revoke, Checkpoint as they run on
 * apply): which leases exist, their TTLs and their keys. Time never enters here: when a lease
 * expires is the leader's business (lessor.ts), which proposes a revoke through the log; every
 * replica then deletes the same keys at the same revision.
 */
import type { LeaseEntry, KvState, WriteTxn } from './state.js';
import { keyBytes } from './keys.js';
import { deleteSpan, txnReadRevision } from './write.js';
import { kvError, type KvResult, type LeaseChange, type LeaseId } from './types.js';

/** Grants lease `id` (a TTL below leaseTtlMsMin is raised to it, as etcd does). */
export function grantLease(
  state: KvState,
  id: LeaseId,
  ttlMs: number,
  changes: LeaseChange[],
): KvResult {
  const { leases, config } = state;
  if (leases.has(id)) return kvError('ERR_LEASE_EXISTS', `lease ${id} already exists`);
  if (leases.size >= config.leasesMax)
    return kvError(
      'ERR_TOO_MANY_LEASES',
      `${leases.size} leases exist; leasesMax is ${config.leasesMax}`,
    );
  const granted = Math.max(ttlMs, config.leaseTtlMsMin);
  leases.set(id, { id, ttlMs: granted, remainingTtlMs: 0, keys: new Set() });
  changes.push({ kind: 'granted', id, ttlMs: granted });
  return { kind: 'lease-grant', id, ttlMs: granted, revision: state.mvcc.revision };
}

/**
 * Revokes lease `id`: deletes its keys in one write transaction, in key order (etcd sorts them
 * too, so every replica, including one restored from a snapshot, deletes in the same order).
 */
export function revokeLease(w: WriteTxn, id: LeaseId): KvResult {
  const lease = w.state.leases.get(id);
  if (lease === undefined) return kvError('ERR_LEASE_NOT_FOUND', `lease ${id} not found`);
  for (const text of [...lease.keys].sort()) deleteSpan(w, { key: keyBytes(text) });
  w.state.leases.delete(id);
  w.leaseChanges.push({ kind: 'revoked', id });
  return { kind: 'lease-revoke', revision: txnReadRevision(w) };
}

/** Records remaining TTLs the leader measured (unknown ids are skipped, as etcd does). */
export function checkpointLeases(
  state: KvState,
  checkpoints: readonly { readonly id: LeaseId; readonly remainingTtlMs: number }[],
  changes: LeaseChange[],
): KvResult {
  for (const { id, remainingTtlMs } of checkpoints) {
    const lease = state.leases.get(id);
    if (lease === undefined) continue;
    lease.remainingTtlMs = remainingTtlMs;
    changes.push({ kind: 'checkpointed', id, remainingTtlMs });
  }
  return { kind: 'lease-checkpoint', revision: state.mvcc.revision };
}

/** A lease as a reader sees it (etcd's LeaseTimeToLive without the leader's remaining TTL). */
export interface LeaseInfo {
  readonly id: LeaseId;
  readonly ttlMs: number;
  readonly remainingTtlMs: number;
  /** Attached keys, in key order. */
  readonly keys: readonly Uint8Array[];
}

export function leaseInfo(entry: LeaseEntry, withKeys: boolean): LeaseInfo {
  return {
    id: entry.id,
    ttlMs: entry.ttlMs,
    remainingTtlMs: entry.remainingTtlMs,
    keys: withKeys ? [...entry.keys].sort().map(keyBytes) : [],
  };
}
