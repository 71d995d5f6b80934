/**
 * The leader-side lessor (etcd's lease/lessor.go as the primary runs it): it decides when leases
 * expire, from `now` given as input, and says which leases to revoke; the node proposes those
 * revokes through Raft, so expiry is decided once, by the leader, and replicated, never by each
 * replica's clock. Keep-alives are not replicated: they only move the leader's deadline.
 *
 * Clock assumption (docs/design/kv.md, "Leases"): only durations on the current leader's
 * monotonic clock matter. A lease expires no earlier than its TTL after the last keep-alive the
 * leader acknowledged (clock drift between machines is irrelevant; a leader's clock running fast
 * by a factor f shortens a TTL by that factor, as in etcd).
 *
 * Failover (etcd's Promote): a new leader knows no keep-alive the old one received, so it gives
 * every lease its full TTL plus `extendMs` (the node passes an election timeout) from the moment
 * it takes over. A keep-alive lost with the old leader therefore never expires a lease; the cost
 * is that a lease whose client died may live up to one TTL longer across a failover.
 * Long leases (TTL above checkpointIntervalMs) would gain a whole TTL on each failover, so the
 * leader checkpoints their remaining TTL through the log every checkpointIntervalMs, and a new
 * leader starts them from that instead. To keep the guarantee above for them, a keep-alive of a
 * lease that has a checkpoint asks the node to clear it through the log (`clearCheckpoint`) before
 * acknowledging, as etcd does.
 */
import { assert } from '../base/assert.js';
import { BTree, type Tree } from './btree.js';
import type { Millis } from '../base/time.js';
import type { LessorConfig } from './config.js';
import { kvError, type KvError, type LeaseChange, type LeaseId } from './types.js';

interface LeaseClock {
  readonly ttlMs: number;
  expiryMs: number;
  /** When the next checkpoint is due (only for leases with ttlMs above checkpointIntervalMs). */
  checkpointAtMs: number | undefined;
  /** A remaining TTL is checkpointed in the replicated table. */
  checkpointed: boolean;
  /** When a revoke was last proposed for it (an expired lease whose revoke is in flight). */
  revokeProposedMs: number | undefined;
}

/** Deadlines ordered by (time, lease id): one entry per lease per kind, removed exactly. */
type Deadlines = Tree<[number, number], true>;

export interface LessorState {
  readonly config: LessorConfig;
  primary: boolean;
  readonly leases: Map<LeaseId, LeaseClock>;
  /** [expiryMs or revoke retry time, id] for every lease. */
  readonly expiries: Deadlines;
  /** [checkpointAtMs, id] for leases that checkpoint. */
  readonly checkpoints: Deadlines;
}

/** Numeric order of [time, id] (the tree's default comparator would compare arrays as text). */
function byTimeThenId(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

export function createLessor(config: LessorConfig): LessorState {
  return {
    config,
    primary: false,
    leases: new Map(),
    expiries: new BTree<[number, number], true>(undefined, byTimeThenId),
    checkpoints: new BTree<[number, number], true>(undefined, byTimeThenId),
  };
}

/** The replicated facts the lessor starts from (store.ts `leases`). */
export interface LeaseRecord {
  readonly id: LeaseId;
  readonly ttlMs: number;
  readonly remainingTtlMs: number;
}

/** This node became leader at `now`: track every lease from its full TTL (or checkpoint) plus extendMs. */
export function promote(
  lessor: LessorState,
  leases: Iterable<LeaseRecord>,
  now: Millis,
  extendMs: number,
): void {
  demote(lessor);
  lessor.primary = true;
  for (const lease of leases) {
    const ttl = lease.remainingTtlMs > 0 ? lease.remainingTtlMs : lease.ttlMs;
    track(lessor, lease.id, lease.ttlMs, now + extendMs + ttl, lease.remainingTtlMs > 0, now);
  }
}

/** This node is no longer leader: forget every deadline. */
export function demote(lessor: LessorState): void {
  lessor.primary = false;
  lessor.leases.clear();
  lessor.expiries.clear();
  lessor.checkpoints.clear();
}

function track(
  lessor: LessorState,
  id: LeaseId,
  ttlMs: number,
  expiryMs: number,
  checkpointed: boolean,
  now: number,
): void {
  const checkpointAtMs =
    ttlMs > lessor.config.checkpointIntervalMs
      ? now + lessor.config.checkpointIntervalMs
      : undefined;
  const clock: LeaseClock = {
    ttlMs,
    expiryMs,
    checkpointAtMs,
    checkpointed,
    revokeProposedMs: undefined,
  };
  lessor.leases.set(id, clock);
  lessor.expiries.set([expiryMs, id], true);
  if (checkpointAtMs !== undefined) lessor.checkpoints.set([checkpointAtMs, id], true);
}

function untrack(lessor: LessorState, id: LeaseId): void {
  const clock = lessor.leases.get(id);
  if (clock === undefined) return;
  lessor.expiries.delete([expiryKeyMs(lessor, clock), id]);
  if (clock.checkpointAtMs !== undefined) lessor.checkpoints.delete([clock.checkpointAtMs, id]);
  lessor.leases.delete(id);
}

/** Where a lease sits in `expiries`: its expiry, or the retry time once a revoke was proposed. */
function expiryKeyMs(lessor: LessorState, clock: LeaseClock): number {
  return clock.revokeProposedMs === undefined
    ? clock.expiryMs
    : clock.revokeProposedMs + lessor.config.revokeRetryMs;
}

/** Follows the replicated table: grants, revokes and checkpoints as they apply. */
export function onLeaseChanges(
  lessor: LessorState,
  changes: readonly LeaseChange[],
  now: Millis,
): void {
  if (!lessor.primary) return;
  for (const change of changes) {
    if (change.kind === 'granted') {
      untrack(lessor, change.id);
      track(lessor, change.id, change.ttlMs, now + change.ttlMs, false, now);
    } else if (change.kind === 'revoked') untrack(lessor, change.id);
    else {
      const clock = lessor.leases.get(change.id);
      if (clock !== undefined) clock.checkpointed = change.remainingTtlMs > 0;
    }
  }
}

export type KeepAliveOutcome =
  | {
      readonly kind: 'renewed';
      readonly ttlMs: number;
      /** Propose a lease-checkpoint of remaining 0 for this lease, and answer once it applied. */
      readonly clearCheckpoint: boolean;
    }
  | { readonly kind: 'not-leader' }
  | KvError;

/** A keep-alive at `now`: the lease lives ttlMs from now. An expired lease cannot be renewed. */
export function keepAlive(lessor: LessorState, id: LeaseId, now: Millis): KeepAliveOutcome {
  if (!lessor.primary) return { kind: 'not-leader' };
  const clock = lessor.leases.get(id);
  if (clock === undefined || clock.expiryMs <= now)
    return kvError('ERR_LEASE_NOT_FOUND', `lease ${id} not found or expired`);
  lessor.expiries.delete([expiryKeyMs(lessor, clock), id]);
  clock.expiryMs = now + clock.ttlMs;
  lessor.expiries.set([clock.expiryMs, id], true);
  return { kind: 'renewed', ttlMs: clock.ttlMs, clearCheckpoint: clock.checkpointed };
}

/** The lease's remaining TTL on this leader, ms (etcd's LeaseTimeToLive), or undefined. */
export function remainingMs(lessor: LessorState, id: LeaseId, now: Millis): number | undefined {
  const clock = lessor.leases.get(id);
  return clock === undefined ? undefined : Math.max(0, clock.expiryMs - now);
}

export interface LessorWork {
  /** Expired leases: propose a lease-revoke for each. */
  readonly revoke: readonly LeaseId[];
  /** Propose one lease-checkpoint command with these. */
  readonly checkpoints: readonly { readonly id: LeaseId; readonly remainingTtlMs: number }[];
}

/** What is due at `now` (at most revokeBatchMax revokes and as many checkpoints). */
export function dueWork(lessor: LessorState, now: Millis): LessorWork {
  const revoke: LeaseId[] = [];
  const checkpoints: { id: LeaseId; remainingTtlMs: number }[] = [];
  if (!lessor.primary) return { revoke, checkpoints };
  const max = lessor.config.revokeBatchMax;
  for (const [atMs, id] of due(lessor.expiries, now, max)) {
    const clock = lessor.leases.get(id as LeaseId);
    assert(clock !== undefined, `deadline of an untracked lease ${id}`);
    lessor.expiries.delete([atMs, id]);
    clock.revokeProposedMs = now;
    lessor.expiries.set([expiryKeyMs(lessor, clock), id], true);
    revoke.push(id as LeaseId);
  }
  for (const [atMs, id] of due(lessor.checkpoints, now, max)) {
    const clock = lessor.leases.get(id as LeaseId);
    assert(clock !== undefined, `checkpoint of an untracked lease ${id}`);
    lessor.checkpoints.delete([atMs, id]);
    clock.checkpointAtMs = now + lessor.config.checkpointIntervalMs;
    lessor.checkpoints.set([clock.checkpointAtMs, id], true);
    if (clock.expiryMs > now)
      checkpoints.push({ id: id as LeaseId, remainingTtlMs: clock.expiryMs - now });
  }
  return { revoke, checkpoints };
}

function due(deadlines: Deadlines, now: number, max: number): [number, number][] {
  const out: [number, number][] = [];
  for (const [key] of deadlines.entries()) {
    if (key[0] > now || out.length === max) break;
    out.push(key);
  }
  return out;
}

/** The earliest time `dueWork` has something to do, or undefined. */
export function nextDeadline(lessor: LessorState): Millis | undefined {
  if (!lessor.primary) return undefined;
  const a = lessor.expiries.minKey()?.[0];
  const b = lessor.checkpoints.minKey()?.[0];
  const at = a === undefined ? b : b === undefined ? a : Math.min(a, b);
  return at as Millis | undefined;
}
