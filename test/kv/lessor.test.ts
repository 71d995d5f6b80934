/**
 * The leader-side lessor (etcd's lease/lessor.go primary): expiry from `now`, keep-alives,
 * revoke proposals with retry and a batch bound, checkpoints of long leases, and Promote's rule
 * that a new leader gives every lease its full TTL (plus an extension), so a keep-alive lost in a
 * failover never expires a lease.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ms, type Millis } from '../../src/base/time.js';
import { lessorConfig } from '../../src/kv/config.js';
import {
  createLessor,
  demote,
  dueWork,
  keepAlive,
  nextDeadline,
  onLeaseChanges,
  promote,
  remainingMs,
  type LessorState,
} from '../../src/kv/lessor.js';
import { leases } from '../../src/kv/store.js';
import { TestStore, b, lid } from './helpers.js';

const at = (n: number): Millis => ms(n);

function leader(
  records: { id: number; ttlMs: number; remainingTtlMs?: number }[],
  now = 0,
  extendMs = 0,
): LessorState {
  const lessor = createLessor(
    lessorConfig({ checkpointIntervalMs: 60_000, revokeRetryMs: 3_000, revokeBatchMax: 2 }),
  );
  promote(
    lessor,
    records.map((r) => ({ id: lid(r.id), ttlMs: r.ttlMs, remainingTtlMs: r.remainingTtlMs ?? 0 })),
    at(now),
    extendMs,
  );
  return lessor;
}

describe('expiry on the leader', () => {
  it('a follower lessor does nothing and answers not-leader', () => {
    const lessor = createLessor(lessorConfig());
    expect(keepAlive(lessor, lid(1), at(0))).toEqual({ kind: 'not-leader' });
    expect(dueWork(lessor, at(1e9))).toEqual({ revoke: [], checkpoints: [] });
    expect(nextDeadline(lessor)).toBeUndefined();
    onLeaseChanges(lessor, [{ kind: 'granted', id: lid(1), ttlMs: 5 }], at(0));
    expect(lessor.leases.size).toBe(0);
  });

  it('promote starts every lease at its full TTL plus the extension; expired ones are proposed for revoke', () => {
    const lessor = leader(
      [
        { id: 1, ttlMs: 5_000 },
        { id: 2, ttlMs: 9_000 },
      ],
      1_000,
      500,
    );
    expect(nextDeadline(lessor)).toBe(6_500);
    expect(dueWork(lessor, at(6_499)).revoke).toEqual([]);
    expect(dueWork(lessor, at(6_500)).revoke).toEqual([1]);
    expect(remainingMs(lessor, lid(2), at(6_500))).toBe(4_000);
  });

  it('a keep-alive gives a full TTL from now; an expired lease cannot be renewed', () => {
    const lessor = leader([{ id: 1, ttlMs: 5_000 }]);
    expect(keepAlive(lessor, lid(1), at(4_000))).toEqual({
      kind: 'renewed',
      ttlMs: 5_000,
      clearCheckpoint: false,
    });
    expect(dueWork(lessor, at(8_999)).revoke).toEqual([]);
    expect(keepAlive(lessor, lid(1), at(9_000))).toMatchObject({
      kind: 'error',
      code: 'ERR_LEASE_NOT_FOUND',
    });
    expect(keepAlive(lessor, lid(7), at(0))).toMatchObject({ code: 'ERR_LEASE_NOT_FOUND' });
  });

  it('re-proposes a revoke that has not applied after revokeRetryMs, and stops once it applied', () => {
    const lessor = leader([{ id: 1, ttlMs: 1_000 }]);
    expect(dueWork(lessor, at(1_000)).revoke).toEqual([1]);
    expect(dueWork(lessor, at(3_999)).revoke).toEqual([]);
    expect(nextDeadline(lessor)).toBe(4_000);
    expect(dueWork(lessor, at(4_000)).revoke).toEqual([1]);
    onLeaseChanges(lessor, [{ kind: 'revoked', id: lid(1) }], at(4_100));
    expect(nextDeadline(lessor)).toBeUndefined();
    expect(lessor.expiries.size).toBe(0);
  });

  it('returns at most revokeBatchMax leases per call, oldest expiry first', () => {
    const lessor = leader([5, 3, 4, 1, 2].map((id) => ({ id, ttlMs: 1_000 * id })));
    expect(dueWork(lessor, at(10_000)).revoke).toEqual([1, 2]);
    expect(dueWork(lessor, at(10_000)).revoke).toEqual([3, 4]);
    expect(dueWork(lessor, at(10_000)).revoke).toEqual([5]);
  });

  it('follows grants as they apply, and forgets everything when demoted', () => {
    const lessor = leader([]);
    onLeaseChanges(lessor, [{ kind: 'granted', id: lid(3), ttlMs: 2_000 }], at(100));
    expect(nextDeadline(lessor)).toBe(2_100);
    demote(lessor);
    expect(lessor.leases.size).toBe(0);
    expect(nextDeadline(lessor)).toBeUndefined();
  });
});

describe('failover (etcd Promote)', () => {
  it('a keep-alive the old leader acknowledged never expires a lease earlier on the new one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2_000, max: 60_000 }),
        fc.array(fc.integer({ min: 1, max: 59_000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 2_000 }),
        (ttlMs, gaps, failoverDelayMs, extendMs) => {
          // One shared time line for the test; each leader reads it through its own lessor.
          const old = leader([{ id: 1, ttlMs }]);
          let now = 0;
          let acknowledged = 0;
          for (const gap of gaps) {
            now += gap % ttlMs;
            const r = keepAlive(old, lid(1), at(now));
            if (r.kind !== 'renewed') return;
            acknowledged = now;
          }
          // The old leader dies; none of its keep-alives were replicated. A new leader takes over.
          const promotedAt = now + failoverDelayMs;
          const fresh = leader([{ id: 1, ttlMs }], promotedAt, extendMs);
          const expiry = nextDeadline(fresh) as number;
          expect(expiry).toBeGreaterThanOrEqual(acknowledged + ttlMs);
          expect(dueWork(fresh, at(acknowledged + ttlMs - 1)).revoke).toEqual([]);
        },
      ),
      { seed: 1331, numRuns: 500 },
    );
  });
});

describe('checkpoints of long leases (etcd lease checkpointing)', () => {
  it('checkpoints the remaining TTL every interval; a renew then asks to clear it; a new leader starts from it', () => {
    const lessor = leader([
      { id: 1, ttlMs: 600_000 },
      { id: 2, ttlMs: 30_000 },
    ]);
    expect(dueWork(lessor, at(59_999)).checkpoints).toEqual([]);
    expect(dueWork(lessor, at(60_000)).checkpoints).toEqual([{ id: 1, remainingTtlMs: 540_000 }]);
    onLeaseChanges(
      lessor,
      [{ kind: 'checkpointed', id: lid(1), remainingTtlMs: 540_000 }],
      at(60_100),
    );
    expect(keepAlive(lessor, lid(1), at(70_000))).toEqual({
      kind: 'renewed',
      ttlMs: 600_000,
      clearCheckpoint: true,
    });
    onLeaseChanges(lessor, [{ kind: 'checkpointed', id: lid(1), remainingTtlMs: 0 }], at(70_100));
    expect(keepAlive(lessor, lid(1), at(71_000))).toMatchObject({ clearCheckpoint: false });
    const next = leader([{ id: 1, ttlMs: 600_000, remainingTtlMs: 540_000 }], 100_000, 1_000);
    expect(remainingMs(next, lid(1), at(100_000))).toBe(541_000);
  });
});

describe('with the state machine', () => {
  it('grants apply, the lessor expires the lease, the revoke it proposes deletes the keys everywhere', () => {
    const s = new TestStore({ leaseTtlMsMin: 1_000 });
    const lessor = leader([]);
    const grant = s.run({ kind: 'lease-grant', id: lid(9), ttlMs: 1_500 });
    onLeaseChanges(lessor, grant.leaseChanges, at(0));
    s.put('session/a', 'x', { lease: lid(9) });
    const work = dueWork(lessor, at(1_500));
    expect(work.revoke).toEqual([9]);
    const revoked = s.run({ kind: 'lease-revoke', id: work.revoke[0]! });
    onLeaseChanges(lessor, revoked.leaseChanges, at(1_600));
    expect(revoked.events.map((e) => e.type)).toEqual(['delete']);
    expect(leases(s.state)).toEqual([]);
    expect(s.do({ kind: 'range', request: { key: b('session/a') } })).toMatchObject({ count: 0 });
    expect(nextDeadline(lessor)).toBeUndefined();
  });
});
