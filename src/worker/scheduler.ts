/**
 * The leader's writes (docs/design/worker-tier.md, "Scale"): status marks from the liveness
 * tracker (compare-and-swap txns on the worker record), and reconciliation of every service's
 * assignments with its desired state whenever the view changes (a scale, a worker down, drained,
 * revoked or new). One reconciliation at a time, and the next waits until the view has seen the
 * previous one's writes, so the same plan is never written twice.
 */
import type { TxnResult } from '../kv/types.js';
import type { KvService } from '../node/kv-service.js';
import type { Candidate } from './core/placement.js';
import { planScale, scaleTxns, type StoredAssignment } from './core/scale.js';
import { recordCasTxn, withStatus } from './core/txns.js';
import type { WorkerStatus } from './core/records.js';
import type { MarkEffect } from './heartbeats.js';
import type { StoreView } from './view.js';

/** Reconciliation runs at most this often, ms (changes in between are coalesced). */
export const RECONCILE_DEBOUNCE_MS = 50;
/** Grace given to replicas leaving a drained worker, ms. */
export const DRAIN_GRACE_MS = 30_000;

export class Scheduler {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private again = false;
  /** The view must reach this revision before the next reconciliation (our last write). */
  private waitRevision = 0;
  private closed = false;
  readonly counters = { reconciles: 0, writes: 0, failures: 0, marks: 0, markConflicts: 0 };

  constructor(
    private readonly opts: {
      kv: KvService;
      view: StoreView;
      selfId: string;
      leading: () => boolean;
      wallNowMs: () => number;
      marked: (id: string, applied: boolean) => void;
    },
  ) {
    opts.view.listen({ changed: () => this.poke() });
  }

  /** Something changed: reconcile soon, if leading. */
  poke(): void {
    if (this.closed || !this.opts.leading()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.reconcile();
    }, RECONCILE_DEBOUNCE_MS);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** Applies a liveness mark as a CAS on the worker record. */
  mark(effect: MarkEffect): void {
    const record = this.opts.view.workers.get(effect.id);
    if (record === undefined || record.modRevision !== effect.expectRevision) {
      this.opts.marked(effect.id, false);
      return;
    }
    const { modRevision: _rev, ...plain } = record;
    const next = withStatus(plain, effect.status, effect.reason, this.opts.wallNowMs());
    this.counters.marks++;
    this.opts.kv.txn(recordCasTxn(next, effect.expectRevision)).then(
      (result) => {
        if (!result.succeeded) this.counters.markConflicts++;
        this.opts.marked(effect.id, result.succeeded);
      },
      () => this.opts.marked(effect.id, false),
    );
  }

  candidates(): Candidate[] {
    const { view, selfId } = this.opts;
    const out: Candidate[] = [];
    for (const server of view.servers.values())
      out.push({ id: server.id, kind: 'server', labels: {}, leader: server.id === selfId });
    for (const w of view.workers.values())
      if (w.status === 'registered')
        out.push({ id: w.id, kind: 'worker', labels: w.labels, leader: false });
    return out;
  }

  private async reconcile(): Promise<void> {
    const { view, kv } = this.opts;
    if (this.closed || !this.opts.leading() || !view.loaded) return;
    if (view.revision < this.waitRevision) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    this.counters.reconciles++;
    try {
      const candidates = this.candidates();
      const status = new Map<string, WorkerStatus>(
        [...view.workers.values()].map((w) => [w.id, w.status]),
      );
      const byService = new Map<string, StoredAssignment[]>();
      for (const row of view.assignments.values()) {
        if (row.value.op === 'delete') continue;
        const list = byService.get(row.service) ?? [];
        list.push({ nodeId: row.nodeId, index: row.index, value: row.value });
        byService.set(row.service, list);
      }
      const names = new Set([...view.services.keys(), ...byService.keys()]);
      for (const name of [...names].sort()) {
        const service = view.services.get(name) ?? {
          service: name,
          replicas: 0,
          roles: [],
          spec: null,
          placement: {},
          generation: 0,
        };
        const puts = planScale({
          service,
          current: byService.get(name) ?? [],
          candidates,
          workerStatus: status,
          drainGraceMs: DRAIN_GRACE_MS,
        });
        for (const txn of scaleTxns(puts)) {
          const result: TxnResult = await kv.txn(txn);
          this.counters.writes++;
          this.waitRevision = Math.max(this.waitRevision, result.revision);
        }
      }
    } catch {
      this.counters.failures++;
      this.again = true;
    } finally {
      this.running = false;
    }
    if (this.again) this.poke();
  }
}
