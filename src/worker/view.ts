/**
 * A server's view of the worker tier's replicated state (everything under the reserved prefix),
 * read from its own applied store: one serializable range at start, then one watch of the whole
 * prefix from the next revision, so the view moves with the replica's applied index and never
 * misses or repeats a change. Followers serve from it (trust bundle, certificate checks,
 * assignment streams); the leader's liveness tracker and scheduler follow it too.
 *
 * A value that does not parse is counted (`badValues`) and skipped. A watch that ends (the node
 * compacted past it, a leader change that cancelled it, an error) is reopened with a fresh range
 * after a short backoff, and listeners see the difference as changes.
 */
import { ShoalError } from '../base/errors.js';
import type { KvEvent, KeyValue } from '../kv/types.js';
import type { KvService } from '../node/kv-service.js';
import { WORKER_PREFIX, parseKey, type ParsedKey } from './core/layout.js';
import {
  records,
  type AssignmentValue,
  type ServerRecord,
  type ServiceRecord,
  type StatusRecord,
  type WorkerRecord,
} from './core/records.js';
import { prefixEnd } from '../kv/keys.js';

export type Revisioned<T> = T & { modRevision: number };

export interface StoredAssignmentRow {
  nodeId: string;
  service: string;
  index: number;
  value: AssignmentValue;
  modRevision: number;
}

export interface ViewListener {
  /** Worker records that changed (removed ones have `removed`). */
  workers?(
    changes: readonly {
      id: string;
      record: Revisioned<WorkerRecord> | undefined;
      modRevision: number;
    }[],
  ): void;
  /** Every event under the prefix, in order, with the revision the view reached. */
  events?(events: readonly KvEvent[], revision: number): void;
  /** The view was (re)loaded from a range at `revision`: the event stream restarts there. */
  reloaded?(revision: number): void;
  /** Anything changed (CA bundle, servers, services, statuses). */
  changed?(): void;
}

const RESTART_BACKOFF_MS = 500;
const decoder = new TextDecoder();

export class StoreView {
  readonly workers = new Map<string, Revisioned<WorkerRecord>>();
  readonly servers = new Map<string, ServerRecord>();
  readonly caPems = new Map<string, string>();
  readonly services = new Map<string, Revisioned<ServiceRecord>>();
  readonly statuses = new Map<string, StatusRecord>();
  /** Live assignment keys (set, drain, delete tombstones) by key text. */
  readonly assignments = new Map<string, StoredAssignmentRow>();
  revision = 0;
  loaded = false;
  badValues = 0;
  reloads = 0;
  private readonly listeners = new Set<ViewListener>();
  private closed = false;
  private cancel: (() => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly kv: KvService) {}

  listen(listener: ViewListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the first range is loaded (rejects only if closed first). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        if (this.closed) return reject(new ShoalError('ERR_ABORTED', 'store view closed'));
        this.load().then(
          () => resolve(),
          () => (this.timer = setTimeout(attempt, RESTART_BACKOFF_MS)),
        );
      };
      attempt();
    });
  }

  close(): void {
    this.closed = true;
    this.cancel?.();
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private async load(): Promise<void> {
    const range = await this.kv.range(
      { key: WORKER_PREFIX, rangeEnd: prefixEnd(WORKER_PREFIX) },
      { consistency: 'serializable' },
    );
    if (this.closed) return;
    const before = new Map(this.workers);
    this.workers.clear();
    this.servers.clear();
    this.caPems.clear();
    this.services.clear();
    this.statuses.clear();
    this.assignments.clear();
    for (const kv of range.kvs) this.put(kv);
    this.revision = range.header.revision;
    this.loaded = true;
    this.reloads++;
    const changes = [...new Set([...before.keys(), ...this.workers.keys()])].flatMap((id) => {
      const now = this.workers.get(id);
      const was = before.get(id);
      if (now?.modRevision === was?.modRevision) return [];
      return [{ id, record: now, modRevision: now?.modRevision ?? this.revision }];
    });
    for (const l of this.listeners) {
      l.reloaded?.(this.revision);
      if (changes.length > 0) l.workers?.(changes);
      l.changed?.();
    }
    this.follow(this.revision + 1);
  }

  private follow(fromRevision: number): void {
    const watch = this.kv.watch({
      key: WORKER_PREFIX,
      rangeEnd: prefixEnd(WORKER_PREFIX),
      fromRevision,
    });
    this.cancel = () => watch.cancel();
    void (async () => {
      try {
        for await (const batch of watch.batches) {
          if (this.closed) return;
          if (batch.kind !== 'events') break;
          this.apply(batch.events, batch.header.revision);
        }
      } catch {
        // Reopened below.
      }
      this.restartLater();
    })();
  }

  private restartLater(): void {
    if (!this.closed)
      this.timer = setTimeout(
        () => void this.load().catch(() => this.restartLater()),
        RESTART_BACKOFF_MS,
      );
  }

  private apply(events: readonly KvEvent[], headerRevision: number): void {
    const changes: {
      id: string;
      record: Revisioned<WorkerRecord> | undefined;
      modRevision: number;
    }[] = [];
    for (const event of events) {
      const parsed = event.type === 'put' ? this.put(event.kv) : this.remove(event.kv);
      if (parsed?.kind === 'worker')
        changes.push({
          id: parsed.workerId,
          record: this.workers.get(parsed.workerId),
          modRevision: event.revision,
        });
    }
    const last = events[events.length - 1];
    this.revision = Math.max(this.revision, last?.revision ?? 0, headerRevision);
    for (const l of this.listeners) {
      if (changes.length > 0) l.workers?.(changes);
      l.events?.(events, this.revision);
      l.changed?.();
    }
  }

  private put(kv: KeyValue): ParsedKey | undefined {
    const parsed = parseKey(kv.key);
    if (parsed === undefined) return undefined;
    const bad = (): undefined => {
      this.badValues++;
      return undefined;
    };
    switch (parsed.kind) {
      case 'worker': {
        const record = records.worker.decode(kv.value);
        if (record === undefined || record.id !== parsed.workerId) return bad();
        this.workers.set(record.id, { ...record, modRevision: kv.modRevision });
        break;
      }
      case 'server': {
        const record = records.server.decode(kv.value);
        if (record === undefined) return bad();
        this.servers.set(parsed.serverId, record);
        break;
      }
      case 'ca':
        this.caPems.set(parsed.serverId, decoder.decode(kv.value));
        break;
      case 'service': {
        const record = records.service.decode(kv.value);
        if (record === undefined) return bad();
        this.services.set(parsed.service, { ...record, modRevision: kv.modRevision });
        break;
      }
      case 'status': {
        const record = records.status.decode(kv.value);
        if (record === undefined) return bad();
        this.statuses.set(parsed.nodeId, record);
        break;
      }
      case 'assignment': {
        const value = records.assignment.decode(kv.value);
        if (value === undefined) return bad();
        this.assignments.set(decoder.decode(kv.key), {
          nodeId: parsed.nodeId,
          service: parsed.service,
          index: parsed.index,
          value,
          modRevision: kv.modRevision,
        });
        break;
      }
      default:
        break;
    }
    return parsed;
  }

  private remove(kv: KeyValue): ParsedKey | undefined {
    const parsed = parseKey(kv.key);
    if (parsed === undefined) return undefined;
    if (parsed.kind === 'worker') this.workers.delete(parsed.workerId);
    else if (parsed.kind === 'server') this.servers.delete(parsed.serverId);
    else if (parsed.kind === 'ca') this.caPems.delete(parsed.serverId);
    else if (parsed.kind === 'service') this.services.delete(parsed.service);
    else if (parsed.kind === 'status') this.statuses.delete(parsed.nodeId);
    else if (parsed.kind === 'assignment') this.assignments.delete(decoder.decode(kv.key));
    return parsed;
  }

  /** The trust bundle: every server CA certificate, in server id order. */
  bundle(): string[] {
    return [...this.caPems.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, pem]) => pem);
  }
}
