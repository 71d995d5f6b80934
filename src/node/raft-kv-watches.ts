/**
 * Watches on a `raft` member's replica (docs/design/kv.md, "Watches"; kv-service.ts `KvWatch`):
 * each watch is a watcher in the replica's registry and an async iterator of batches (or their
 * poll form, `KvWatch.poll`: the same steps, a callback instead of a promise). A batch is what
 * the registry hands out at once (at most WATCH_BATCH_EVENTS events); the iterator then sleeps
 * until an apply wakes it. A slow consumer never holds up applies: its watcher falls
 * behind and catches up from history (or ends `compacted` if compaction overtook it).
 *
 * An apply does not wake its watchers in its own turn: their ids are gathered and woken at the
 * end of the event-loop turn (`setImmediate`), so the answer to the write that applied (and to
 * every other write of the same turn) is encoded and handed to its socket before any watch
 * response is built. Delivering first put the writer's answer behind every watch response of the
 * member (encoded, written, and read by a client that shares its event loop with the watchers):
 * the watch fan-out bench's writer waited that long per put.
 *
 * Watches are node-local (not replicated): they see this member's applies, so a watch on a
 * follower may trail the leader by the replication delay, never by more than what is applied
 * here. A restore from a snapshot replays each watcher from where it stood.
 */
import { ShoalError } from '../base/errors.js';
import type { KvEvent, KvError, Revision } from '../kv/types.js';
import { addWatcher, cancelWatcher, takeEvents } from '../kv/watch.js';
import type { KvHeader, KvWatch, WatchBatch, WatchOptions } from './kv-service.js';
import type { KvState } from '../kv/store.js';
import type { WatchRegistry } from '../kv/watch.js';

/** Where watches read: a replica's store and its registry (KvMachine; the etcd tests' double). */
export interface WatchSource {
  readonly state: KvState;
  readonly registry: WatchRegistry;
}

/** Events one batch takes from the registry. */
export const WATCH_BATCH_EVENTS = 1000;

/** The fields of the registry's watcher the progress rule reads (src/kv/watch.ts). */
interface WatcherView {
  readonly synced: boolean;
  readonly queue: readonly KvEvent[];
  readonly nextMain: number;
}

interface Sleeper {
  ended: boolean;
  wake: (() => void) | undefined;
}

export class Watches {
  private readonly wakers = new Map<number, () => void>();
  /** Watchers an apply woke, waiting for the end of the turn. */
  private readonly woken = new Set<number>();
  private wakeScheduled = false;
  private closed = false;

  constructor(
    private readonly machine: WatchSource,
    private readonly header: () => KvHeader,
  ) {}

  get count(): number {
    return this.wakers.size;
  }

  /** Watchers with something to take (an apply, a restore): woken at the end of the turn. */
  wake(ids: Iterable<number>): void {
    for (const id of ids) this.woken.add(id);
    if (this.wakeScheduled || this.woken.size === 0) return;
    this.wakeScheduled = true;
    setImmediate(() => this.wakeNow());
  }

  private wakeNow(): void {
    this.wakeScheduled = false;
    const ids = [...this.woken];
    this.woken.clear();
    for (const id of ids) this.wakers.get(id)?.();
  }

  watch(options: WatchOptions): KvWatch {
    if (this.closed) throw new ShoalError('ERR_TRANSPORT_CLOSED', 'the node is closed');
    const added = addWatcher(this.machine.registry, this.machine.state, {
      key: options.key,
      ...(options.rangeEnd === undefined ? {} : { rangeEnd: options.rangeEnd }),
      ...(options.fromRevision === undefined ? {} : { fromRevision: options.fromRevision }),
      noPut: options.noPut === true,
      noDelete: options.noDelete === true,
      prevKv: options.prevKv === true,
    });
    if ('kind' in added) return this.refused(added);
    return this.live(added.id, options.signal);
  }

  private refused(error: KvError): KvWatch {
    if (error.code !== 'ERR_COMPACTED' || error.compactRevision === undefined)
      throw new ShoalError(error.code, error.message);
    const batch: WatchBatch = {
      kind: 'compacted',
      compactRevision: error.compactRevision,
      header: this.header(),
    };
    async function* batches(): AsyncGenerator<WatchBatch> {
      yield batch;
    }
    let polled = false;
    return {
      id: 0,
      batches: batches(),
      progress: () => batch.header,
      cancel: () => undefined,
      poll: () => (polled ? 'ended' : ((polled = true), batch)),
    };
  }

  private live(id: number, signal: AbortSignal | undefined): KvWatch {
    const sleeper: Sleeper = { ended: false, wake: undefined };
    const stop = (): void => {
      if (sleeper.ended) return;
      sleeper.ended = true;
      cancelWatcher(this.machine.registry, id);
      this.wakers.delete(id);
      sleeper.wake?.();
    };
    this.wakers.set(id, () => sleeper.wake?.());
    signal?.addEventListener('abort', stop, { once: true });
    return {
      id,
      batches: this.batches(id, sleeper, stop),
      progress: () => ({ ...this.header(), revision: this.progressRevision(id) }),
      cancel: stop,
      poll: (wake) => {
        const next = this.next(id, sleeper, stop);
        if (next === 'wait')
          sleeper.wake = () => {
            sleeper.wake = undefined;
            wake();
          };
        return next;
      },
    };
  }

  /** The revision this watch has handed out every event up to (KvWatch.progress's rule). */
  private progressRevision(id: number): Revision {
    const current = this.machine.state.mvcc.revision;
    const watcher = this.machine.registry.watchers.get(id) as WatcherView | undefined;
    if (watcher === undefined) return current;
    if (!watcher.synced) return (watcher.nextMain - 1) as Revision;
    const first = watcher.queue[0];
    return first === undefined ? current : ((first.revision - 1) as Revision);
  }

  /**
   * One step of watch `id`: its next batch, 'wait' (nothing now; an apply will wake it), or
   * 'ended'. A batch that ends the watch (compacted, or canceled because the node closed) stops
   * it, so the step after it is 'ended'.
   */
  private next(id: number, sleeper: Sleeper, stop: () => void): WatchBatch | 'wait' | 'ended' {
    for (;;) {
      if (sleeper.ended) return 'ended';
      if (this.closed) {
        stop();
        return { kind: 'canceled', reason: 'the node closed', header: this.header() };
      }
      const machine = this.machine;
      const taken = takeEvents(machine.registry, machine.state, id, WATCH_BATCH_EVENTS);
      if (taken === undefined) {
        stop();
        return 'ended';
      }
      const header = this.header();
      if (taken.compactRevision !== undefined) {
        stop();
        return { kind: 'compacted', compactRevision: taken.compactRevision, header };
      }
      if (taken.events.length > 0) return { kind: 'events', events: taken.events, header };
      if (!taken.pending) return 'wait';
    }
  }

  private async *batches(
    id: number,
    sleeper: Sleeper,
    stop: () => void,
  ): AsyncGenerator<WatchBatch> {
    try {
      for (;;) {
        const next = this.next(id, sleeper, stop);
        if (next === 'ended') return;
        if (next !== 'wait') {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (sleeper.wake = resolve));
        sleeper.wake = undefined;
      }
    } finally {
      stop();
      this.wakers.delete(id);
    }
  }

  close(): void {
    this.closed = true;
    for (const wake of [...this.wakers.values()]) wake();
  }
}
