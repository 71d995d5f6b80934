/**
 * Checkers of the `worker-tier` scenarios (docs/design/worker-tier.md, "Simulation"), over the
 * logs the scenario keeps:
 *
 * - `no-down-before-promise`: no worker is declared down (a mark asked by a leader) before the
 *   TTL its last acknowledged heartbeat promised, plus grace, has run out. This is what "no live
 *   worker is declared down because of a leader change" means operationally: a new leader never
 *   saw the old one's renewals and must honour them anyway. Slack: the leader's own tolerated
 *   clock jump (stallThresholdMs) and 0.2 % drift.
 * - `assignments-once-in-order`: in each life of each worker process, deliveries are one snapshot
 *   at revision R0 that matches the store at R0, then batches whose revisions are exactly the
 *   store revisions after R0 that put a key under the worker's assign/ prefix, in order, each
 *   once, with the store's events.
 * - `token-uses-within-max`: no token's use count (its key's version) ever exceeds maxUses.
 */
import type { Checker } from '../checkers.js';
import { logChecker } from '../checkers.js';
import { range as readRange } from '../../kv/store.js';
import { batchesOf, snapshotOf, type AssignmentBatch } from '../../worker/core/assignments.js';
import { keys, prefixes } from '../../worker/core/layout.js';
import type { SimStore } from './worker-tier-store.js';

export interface MarkRecord {
  readonly workerId: string;
  readonly atMs: number;
  /** The last promise (global ms) the worker was given, minus slack; 0 if none. */
  readonly promisedUntilMs: number;
}

export type Delivery =
  | {
      readonly workerId: string;
      readonly life: number;
      readonly kind: 'snapshot';
      readonly revision: number;
      readonly count: number;
    }
  | {
      readonly workerId: string;
      readonly life: number;
      readonly kind: 'batch';
      readonly batch: AssignmentBatch;
    };

export interface WorkerTierView {
  readonly store: SimStore;
  readonly marks: readonly MarkRecord[];
  readonly deliveries: readonly Delivery[];
  readonly tokens: readonly { tokenId: string; maxUses: number }[];
}

export function noDownBeforePromise(): Checker<WorkerTierView> {
  return logChecker(
    'no-down-before-promise',
    (v) => v.marks,
    (m) =>
      m.atMs < m.promisedUntilMs
        ? `worker ${m.workerId.slice(0, 8)} declared down at ${m.atMs} ms, before its promise ran out at ${m.promisedUntilMs} ms`
        : undefined,
  );
}

/** The revisions (with their batch) that put assignments of each worker, built as the log grows. */
class AssignmentIndex {
  private seen = 0;
  readonly byWorker = new Map<string, AssignmentBatch[]>();
  private readonly counters = { bad: 0 };

  update(store: SimStore): void {
    const prefix = new TextDecoder().decode(prefixes.allAssignments().key);
    for (; this.seen < store.log.length; this.seen++) {
      const entry = store.log[this.seen];
      if (entry === undefined) break;
      const nodes = new Set<string>();
      for (const e of entry.events) {
        const text = new TextDecoder().decode(e.kv.key);
        if (e.type === 'put' && text.startsWith(prefix))
          nodes.add(text.slice(prefix.length, prefix.length + 32));
      }
      for (const node of nodes)
        for (const batch of batchesOf(entry.events, node, this.counters)) {
          const list = this.byWorker.get(node) ?? [];
          list.push(batch);
          this.byWorker.set(node, list);
        }
    }
  }

  /** The first batch of `worker` with a revision above `after`. */
  next(worker: string, after: number): AssignmentBatch | undefined {
    const list = this.byWorker.get(worker) ?? [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] as AssignmentBatch).revision <= after) lo = mid + 1;
      else hi = mid;
    }
    return list[lo];
  }
}

export function assignmentsOnceInOrder(): Checker<WorkerTierView> {
  const index = new AssignmentIndex();
  const last = new Map<string, number>();
  let seen = 0;
  return {
    name: 'assignments-once-in-order',
    check(view: WorkerTierView): readonly string[] {
      if (seen === view.deliveries.length) return [];
      index.update(view.store);
      const out: string[] = [];
      for (; seen < view.deliveries.length; seen++) {
        const d = view.deliveries[seen] as Delivery;
        const key = `${d.workerId}/${d.life}`;
        const who = `worker ${d.workerId.slice(0, 8)} (life ${d.life})`;
        const previous = last.get(key);
        if (d.kind === 'snapshot') {
          if (previous !== undefined && d.revision <= previous)
            out.push(`${who} got a snapshot at r${d.revision} after r${previous}`);
          const { key: k, rangeEnd } = prefixes.assignmentsOf(d.workerId);
          const stored = readRange(view.store.state, {
            key: k,
            rangeEnd,
            revision: d.revision as never,
          });
          if ('kvs' in stored) {
            const expected = snapshotOf(stored.kvs, d.workerId, d.revision, { bad: 0 }).assignments
              .length;
            if (expected !== d.count)
              out.push(
                `${who}'s snapshot at r${d.revision} has ${d.count} assignments, the store ${expected}`,
              );
          }
          last.set(key, d.revision);
          continue;
        }
        if (previous === undefined) {
          out.push(`${who} got batch r${d.batch.revision} before any snapshot`);
          last.set(key, d.batch.revision);
          continue;
        }
        const expected = index.next(d.workerId, previous);
        if (expected === undefined || expected.revision !== d.batch.revision)
          out.push(
            d.batch.revision <= previous
              ? `${who} got r${d.batch.revision} again (or out of order) after r${previous}`
              : `${who} got r${d.batch.revision} after r${previous}, but r${expected?.revision ?? '?'} came first: an assignment revision was missed`,
          );
        else if (JSON.stringify(expected.events) !== JSON.stringify(d.batch.events))
          out.push(`${who}'s r${d.batch.revision} differs from the store's events`);
        last.set(key, Math.max(previous, d.batch.revision));
      }
      return out;
    },
  };
}

export function tokenUsesWithinMax(): Checker<WorkerTierView> {
  let seen = -1;
  return {
    name: 'token-uses-within-max',
    check(view: WorkerTierView): readonly string[] {
      if (view.store.log.length === seen) return [];
      seen = view.store.log.length;
      const out: string[] = [];
      for (const t of view.tokens) {
        const stored = readRange(view.store.state, { key: keys.token(t.tokenId) });
        const uses = 'kvs' in stored ? (stored.kvs[0]?.version ?? 0) : 0;
        if (uses > t.maxUses)
          out.push(`token ${t.tokenId.slice(0, 8)} used ${uses} times, max ${t.maxUses}`);
      }
      return out;
    },
  };
}
