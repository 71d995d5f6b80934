/**
 * A KvService test double (never in src/): the real MVCC state machine (src/kv) applied
 * in-process, standing in for a raft node's store until raft mode lands. One instance is one
 * linearizable replicated store; several WorkerServers may share it as the members of one
 * cluster. It keeps KvService's asynchrony (answers on a later turn), its watch contract (whole
 * revisions per batch, history replay from a past revision, compaction ends a watch) and its
 * failure modes on demand: `leaderless` makes writes fail with ERR_NO_LEADER, as a cluster
 * between leaders does.
 */
import { ShoalError } from '../../src/base/errors.js';
import { logIndex } from '../../src/base/units.js';
import { kvConfig, watchConfig } from '../../src/kv/config.js';
import {
  apply,
  createKvStore,
  lease as leaseOf,
  leases as allLeases,
  type KvState,
} from '../../src/kv/store.js';
import {
  addWatcher,
  cancelWatcher,
  createWatchRegistry,
  onApplied,
  takeEvents,
} from '../../src/kv/watch.js';
import type {
  DeleteRangeRequest,
  KvOp,
  KvResult,
  LeaseId,
  PutRequest,
  RangeRequest,
  TxnRequest,
} from '../../src/kv/types.js';
import type {
  KvHeader,
  KvService,
  KvStatus,
  KvWatch,
  WatchBatch,
  WatchOptions,
} from '../../src/node/kv-service.js';

const TAKE_MAX = 100_000;

export class KvDouble implements KvService {
  readonly state: KvState = createKvStore(kvConfig());
  private readonly registry = createWatchRegistry(watchConfig({ watchersMax: 100_000 }));
  private readonly wake = new Map<number, () => void>();
  private index = 0;
  /** Writes fail with ERR_NO_LEADER while set (an election in progress). */
  leaderless = false;
  /** Every op applied, for tests that count writes (heartbeats must add none). */
  readonly applied: KvOp[] = [];

  header(): KvHeader {
    return { clusterId: '1', memberId: '1', revision: this.state.mvcc.revision, raftTerm: 1 };
  }

  private later<T>(work: () => T): Promise<T> {
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        try {
          resolve(work());
        } catch (err) {
          reject(err);
        }
      }),
    );
  }

  private run(op: KvOp): KvResult {
    if (this.leaderless && op.kind !== 'range')
      throw new ShoalError('ERR_NO_LEADER', 'no leader (test double)');
    const out = apply(this.state, { op }, logIndex(++this.index));
    if (op.kind !== 'range') this.applied.push(op);
    if (out.result.kind === 'error') throw new ShoalError(out.result.code, out.result.message);
    for (const id of onApplied(this.registry, out.events)) this.wake.get(id)?.();
    return out.result;
  }

  /** Applies synchronously (test setup). */
  runNow(op: KvOp): KvResult {
    return this.run(op);
  }

  /** Runs `op` and checks its result is of `kind` (anything else is a bug of the double). */
  private result<K extends KvResult['kind']>(
    op: KvOp,
    kind: K,
  ): Extract<KvResult, { kind: K }> & { header: KvHeader } {
    const result = this.run(op);
    if (result.kind !== kind) throw new Error(`expected a ${kind} result, got ${result.kind}`);
    return { ...(result as Extract<KvResult, { kind: K }>), header: this.header() };
  }

  put(request: PutRequest) {
    return this.later(() => this.result({ kind: 'put', request }, 'put'));
  }

  range(request: RangeRequest) {
    return this.later(() => this.result({ kind: 'range', request }, 'range'));
  }

  deleteRange(request: DeleteRangeRequest) {
    return this.later(() => this.result({ kind: 'delete-range', request }, 'delete-range'));
  }

  txn(request: TxnRequest) {
    return this.later(() => this.result({ kind: 'txn', request }, 'txn'));
  }

  compact(revision: number) {
    return this.later(() => {
      this.run({ kind: 'compact', revision: revision as never });
      return { header: this.header() };
    });
  }

  watch(options: WatchOptions): KvWatch {
    const added = addWatcher(this.registry, this.state, options);
    const queue: WatchBatch[] = [];
    let notify: (() => void) | undefined;
    let ended = false;
    const id = 'id' in added ? added.id : -1;
    const drain = (): void => {
      if (ended) return;
      const events = [];
      for (;;) {
        const taken = takeEvents(this.registry, this.state, id, TAKE_MAX);
        if (taken === undefined) break;
        events.push(...taken.events);
        if (taken.compactRevision !== undefined) {
          queue.push({
            kind: 'compacted',
            compactRevision: taken.compactRevision,
            header: this.header(),
          });
          ended = true;
          break;
        }
        if (!taken.pending) break;
      }
      if (events.length > 0)
        queue.splice(queue.length - (ended ? 1 : 0), 0, {
          kind: 'events',
          events,
          header: this.header(),
        });
      notify?.();
    };
    if ('id' in added) {
      this.wake.set(id, () => setImmediate(drain));
      setImmediate(drain);
    } else if (added.code === 'ERR_COMPACTED') {
      queue.push({
        kind: 'compacted',
        compactRevision: added.compactRevision as never,
        header: this.header(),
      });
      ended = true;
    } else throw new ShoalError(added.code, added.message);
    const cancel = (): void => {
      if (id >= 0) cancelWatcher(this.registry, id);
      this.wake.delete(id);
      if (!ended) queue.push({ kind: 'canceled', reason: 'cancelled', header: this.header() });
      ended = true;
      notify?.();
    };
    options.signal?.addEventListener('abort', cancel, { once: true });
    const batches: AsyncIterable<WatchBatch> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<WatchBatch>> => {
          for (;;) {
            const batch = queue.shift();
            if (batch !== undefined) {
              if (batch.kind === 'canceled' && queue.length === 0 && ended)
                return { done: true, value: undefined };
              return { done: false, value: batch };
            }
            if (ended) return { done: true, value: undefined };
            await new Promise<void>((resolve) => (notify = resolve));
          }
        },
        return: async () => {
          cancel();
          return { done: true, value: undefined };
        },
      }),
    };
    return { id, batches, progress: () => this.header(), cancel };
  }

  /** Ends every open watch as a restarting node would (their owners must reopen them). */
  cancelAllWatches(): void {
    for (const id of [...this.registry.watchers.keys()]) {
      cancelWatcher(this.registry, id);
      this.wake.get(id)?.();
    }
  }

  leaseGrant(ttlMs: number, options: { id?: LeaseId } = {}) {
    return this.later(() => {
      const id = options.id ?? ((this.index + 1) as LeaseId);
      this.run({ kind: 'lease-grant', id, ttlMs });
      return { id, ttlMs, header: this.header() };
    });
  }

  leaseRevoke(id: LeaseId) {
    return this.later(() => {
      this.run({ kind: 'lease-revoke', id });
      return { header: this.header() };
    });
  }

  leaseKeepAlive(id: LeaseId) {
    return this.later(() => {
      const info = leaseOf(this.state, id);
      if (info === undefined) throw new ShoalError('ERR_LEASE_NOT_FOUND', `lease ${id} not found`);
      return { id, ttlMs: info.ttlMs, header: this.header() };
    });
  }

  leaseTimeToLive(id: LeaseId) {
    return this.later(() => {
      const info = leaseOf(this.state, id, true);
      return {
        id,
        remainingMs: info === undefined ? -1 : info.ttlMs,
        grantedTtlMs: info?.ttlMs ?? 0,
        keys: [],
        header: this.header(),
      };
    });
  }

  leases() {
    return this.later(() => ({
      ids: allLeases(this.state).map((l) => l.id),
      header: this.header(),
    }));
  }

  members() {
    return this.later(() => ({ members: [], header: this.header() }));
  }

  status(): Promise<KvStatus> {
    return this.later(() => ({
      header: this.header(),
      leader: undefined,
      raftIndex: this.index,
      raftAppliedIndex: this.index,
      dbSizeBytes: 0,
      version: 'test-double',
    }));
  }
}
