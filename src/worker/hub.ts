/**
 * Fans assignment events out to the workers connected to this server (docs/design/
 * worker-tier.md, "Assignments"). One watch of the store (the StoreView's) feeds every
 * subscriber, and a bounded in-memory log of recent assignment batches lets a worker that
 * resumes from a recent revision catch up without its own store watch. A worker that resumes
 * from before the log gets a dedicated store watch from its revision (the store's history), at
 * most historyWatchesMax at once; compaction past its revision ends the call with `compacted`
 * (the worker then asks for a snapshot). Snapshots come from the view's in-memory state, which is
 * exactly the store at `view.revision`.
 */
import { prefixes } from './core/layout.js';
import {
  batchesOf,
  snapshotOf,
  type AssignmentBatch,
  type AssignmentSnapshot,
} from './core/assignments.js';
import { revision, type KvEvent, type KeyValue } from '../kv/types.js';
import type { KvService } from '../node/kv-service.js';
import { keys } from './core/layout.js';
import { records } from './core/records.js';
import type { StoreView } from './view.js';

export interface HubLimits {
  /** Assignment batches kept in memory for resuming workers. @defaultValue 100000 */
  cacheBatchesMax: number;
  /** Dedicated store watches for workers resuming from before the cache. @defaultValue 1000 */
  historyWatchesMax: number;
}

export const HUB_DEFAULTS: HubLimits = { cacheBatchesMax: 100_000, historyWatchesMax: 1_000 };

export interface Subscriber {
  readonly nodeId: string;
  /** Highest revision sent (or skipped as known). */
  lastSent: number;
  /** The revision of the last batch sent, or where the stream started (messages carry it as afterRevision). */
  lastBatch: number;
  send(message: {
    snapshot?: AssignmentSnapshot;
    batches: AssignmentBatch[];
    afterRevision?: number;
  }): void;
  end(reason: 'compacted' | 'unavailable'): void;
}

interface LogEntry {
  readonly nodeId: string;
  readonly batch: AssignmentBatch;
}

export class AssignmentHub {
  private readonly log: LogEntry[] = [];
  private logHead = 0;
  /** Every batch with a revision at or above this is in the log. */
  private cacheStart = Number.MAX_SAFE_INTEGER;
  private readonly byNode = new Map<string, Set<Subscriber>>();
  private historyWatches = 0;
  readonly counters = { bad: 0, historyWatches: 0, refusedHistory: 0, subscribers: 0 };

  constructor(
    private readonly view: StoreView,
    private readonly kv: KvService,
    private readonly limits: HubLimits = HUB_DEFAULTS,
  ) {
    view.listen({
      reloaded: (revision) => this.onReload(revision),
      events: (events) => this.onEvents(events),
    });
    if (view.loaded) this.cacheStart = view.revision + 1;
  }

  get subscribers(): number {
    return this.counters.subscribers;
  }

  /**
   * Starts sending `nodeId`'s assignments: a snapshot first when asked, then every batch after
   * `fromRevision - 1` (0: after the current revision). Returns the unsubscribe function.
   */
  subscribe(sub: Subscriber, fromRevision: number, snapshot: boolean): () => void {
    if (snapshot) {
      sub.lastSent = this.view.revision;
      sub.lastBatch = this.view.revision;
      sub.send({ snapshot: this.snapshot(sub.nodeId), batches: [] });
    } else if (fromRevision === 0 || fromRevision > this.view.revision) {
      sub.lastSent = Math.max(this.view.revision, fromRevision - 1);
      sub.lastBatch = fromRevision === 0 ? this.view.revision : fromRevision - 1;
    } else if (fromRevision >= this.cacheStart) {
      sub.lastBatch = fromRevision - 1;
      const batches = this.cached(sub.nodeId, fromRevision);
      sub.lastSent = this.view.revision;
      if (batches.length > 0) this.sendBatches(sub, batches);
    } else return this.fromHistory(sub, fromRevision);
    return this.attach(sub);
  }

  private sendBatches(sub: Subscriber, batches: AssignmentBatch[]): void {
    const afterRevision = sub.lastBatch;
    sub.lastBatch = (batches[batches.length - 1] as AssignmentBatch).revision;
    sub.send({ batches, afterRevision });
  }

  /** A progress notification to every live stream (etcd's): the stream's position, no batches. */
  progress(): void {
    for (const set of this.byNode.values())
      for (const sub of set)
        if (sub.lastBatch > 0) sub.send({ batches: [], afterRevision: sub.lastBatch });
  }

  private attach(sub: Subscriber): () => void {
    let set = this.byNode.get(sub.nodeId);
    if (set === undefined) this.byNode.set(sub.nodeId, (set = new Set()));
    set.add(sub);
    this.counters.subscribers++;
    return () => {
      if (set.delete(sub)) this.counters.subscribers--;
      if (set.size === 0) this.byNode.delete(sub.nodeId);
    };
  }

  private snapshot(nodeId: string): AssignmentSnapshot {
    const kvs: KeyValue[] = [];
    for (const row of this.view.assignments.values()) {
      if (row.nodeId !== nodeId) continue;
      kvs.push({
        key: keys.assignment(row.nodeId, row.service, row.index),
        value: records.assignment.encode(row.value),
        createRevision: revision(row.modRevision),
        modRevision: revision(row.modRevision),
        version: 1,
      });
    }
    return snapshotOf(kvs, nodeId, this.view.revision, this.counters);
  }

  private cached(nodeId: string, fromRevision: number): AssignmentBatch[] {
    const out: AssignmentBatch[] = [];
    for (let i = this.logHead; i < this.log.length; i++) {
      const entry = this.log[i] as LogEntry;
      if (entry.nodeId === nodeId && entry.batch.revision >= fromRevision) out.push(entry.batch);
    }
    return out;
  }

  private fromHistory(sub: Subscriber, fromRevision: number): () => void {
    if (this.historyWatches >= this.limits.historyWatchesMax) {
      this.counters.refusedHistory++;
      sub.end('unavailable');
      return () => undefined;
    }
    this.historyWatches++;
    this.counters.historyWatches++;
    const { key, rangeEnd } = prefixes.assignmentsOf(sub.nodeId);
    const watch = this.kv.watch({ key, rangeEnd, fromRevision });
    let open = true;
    void (async () => {
      try {
        for await (const batch of watch.batches) {
          if (!open) return;
          if (batch.kind === 'compacted') return sub.end('compacted');
          if (batch.kind === 'canceled') return sub.end('unavailable');
          const batches = batchesOf(batch.events, sub.nodeId, this.counters).filter(
            (b) => b.revision > sub.lastSent,
          );
          if (batches.length === 0) continue;
          sub.lastSent = (batches[batches.length - 1] as AssignmentBatch).revision;
          this.sendBatches(sub, batches);
        }
      } catch {
        if (open) sub.end('unavailable');
      }
    })();
    return () => {
      if (!open) return;
      open = false;
      this.historyWatches--;
      watch.cancel();
    };
  }

  private onReload(revision: number): void {
    // The view skipped from its old revision to `revision`: batches in between were never seen
    // here, so live subscribers must reconnect and resume from what they have.
    this.log.length = 0;
    this.logHead = 0;
    this.cacheStart = revision + 1;
    for (const set of [...this.byNode.values()]) for (const sub of [...set]) sub.end('unavailable');
  }

  private onEvents(events: readonly KvEvent[]): void {
    const perNode = new Map<string, KvEvent[]>();
    const assignPrefix = prefixes.allAssignments().key;
    for (const event of events) {
      if (event.type !== 'put' || !startsWith(event.kv.key, assignPrefix)) continue;
      const nodeId = new TextDecoder().decode(
        event.kv.key.subarray(assignPrefix.length, assignPrefix.length + 32),
      );
      const list = perNode.get(nodeId);
      if (list === undefined) perNode.set(nodeId, [event]);
      else list.push(event);
    }
    for (const [nodeId, list] of perNode) {
      for (const batch of batchesOf(list, nodeId, this.counters)) {
        this.append({ nodeId, batch });
        for (const sub of this.byNode.get(nodeId) ?? []) {
          if (batch.revision <= sub.lastSent) continue;
          sub.lastSent = batch.revision;
          this.sendBatches(sub, [batch]);
        }
      }
    }
  }

  private append(entry: LogEntry): void {
    this.log.push(entry);
    if (this.log.length - this.logHead > this.limits.cacheBatchesMax) {
      const dropped = this.log[this.logHead++] as LogEntry;
      this.cacheStart = Math.max(this.cacheStart, dropped.batch.revision + 1);
      if (this.logHead > 4096 && this.logHead * 2 > this.log.length) {
        this.log.splice(0, this.logHead);
        this.logHead = 0;
      }
    }
  }
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
