/**
 * The key-value replica of a `raft` member (docs/design/kv.md, "How a node drives it";
 * docs/design/raft-kv.md): the RaftApplication the Raft driver hands committed entries to. It
 * owns the MVCC store (src/kv) and the node-local watch registry, and tells its listeners what
 * each apply produced: the result for the command's session (the waiting caller matches it),
 * the watchers with news, and the lease changes the leader's lessor follows.
 *
 * Snapshots are point in time without stopping applies: `takeSnapshot` fixes the state at the
 * requested index (`beginSnapshot`) and writes one chunk per turn of the clock, while entries go
 * on applying (kv.md, "Snapshots"). A restore replaces the whole store in one call (a snapshot
 * arrives whole from the Raft core) and turns every watcher into one that replays from history.
 */
import { assert } from '../base/assert.js';
import { ShoalError } from '../base/errors.js';
import { ms, type Clock } from '../base/time.js';
import type { LogIndex } from '../base/units.js';
import { decodeCommand } from '../kv/codec.js';
import type { KvConfig, WatchConfig } from '../kv/config.js';
import {
  abortSnapshot,
  beginSnapshot,
  nextSnapshotChunk,
  type SnapshotWriter,
} from '../kv/snapshot.js';
import { restoreSnapshot } from '../kv/snapshot-restore.js';
import { apply, applyEntry, applyNothing, createKvStore, type KvState } from '../kv/store.js';
import type { ApplyOutput, Session } from '../kv/types.js';
import {
  createWatchRegistry,
  onApplied,
  onStoreReplaced,
  type WatchRegistry,
} from '../kv/watch.js';
import type { RaftApplication, RaftOutcome } from '../raft/application.js';
import type { Entry, SnapshotMeta } from '../raft/log-types.js';

/** Bytes of a snapshot's chunks copied into the whole per clock turn (about 1 ms of memcpy). */
export const SNAPSHOT_JOIN_SLICE_BYTES = 4 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

/** The key a waiting caller is found by: the command's session. */
export function sessionKey(session: Session): string {
  return `${session.clientId}\u0000${session.seq}`;
}

export interface MachineListener {
  /** A command with a session applied (or was refused, or was a duplicate): its output. */
  onResult(key: string, output: ApplyOutput): void;
  /** Watchers with something to take. */
  onWatchers(ids: ReadonlySet<number>): void;
  /** Lease changes of one apply (grants, revokes, checkpoints). */
  onLeaseChanges(output: ApplyOutput): void;
  /** The store was replaced by a snapshot: every waiter may have applied unseen. */
  onRestored(): void;
  /** Outcomes of Raft requests. */
  onOutcome(outcome: RaftOutcome): void;
}

export class KvMachine implements RaftApplication {
  state: KvState;
  readonly registry: WatchRegistry;
  /** Snapshots being written chunk by chunk (one at a time in practice). */
  private readonly writers = new Set<SnapshotWriter>();
  /** Commands applied, refused, and entries that were not commands. */
  readonly counters = { commands: 0, entries: 0, snapshotsTaken: 0, restores: 0 };

  constructor(
    private readonly config: KvConfig,
    watch: WatchConfig,
    private readonly clock: Clock,
    private readonly listener: MachineListener,
  ) {
    this.state = createKvStore(config);
    this.registry = createWatchRegistry(watch);
  }

  apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      this.counters.entries++;
      if (entry.kind !== 'normal') {
        applyNothing(this.state, entry.index);
        continue;
      }
      this.applyCommand(entry.data, entry.index);
    }
  }

  private applyCommand(data: Uint8Array, index: LogIndex): void {
    this.counters.commands++;
    // Decoded once here (the session names the waiter) and applied decoded; bad bytes go through
    // applyEntry, which refuses them the same way on every replica.
    const decoded = decodeCommand(data, this.config);
    if (!decoded.ok) {
      applyEntry(this.state, data, index);
      return;
    }
    const output = apply(this.state, decoded.value, index);
    if (output.events.length > 0) {
      const woken = onApplied(this.registry, output.events);
      if (woken.size > 0) this.listener.onWatchers(woken);
    }
    if (output.leaseChanges.length > 0) this.listener.onLeaseChanges(output);
    const session = decoded.value.session;
    if (session !== undefined) this.listener.onResult(sessionKey(session), output);
  }

  restore(meta: SnapshotMeta, data: Uint8Array): void {
    const restored = restoreSnapshot(data, this.config);
    if ('kind' in restored)
      throw new ShoalError(
        'ERR_SNAPSHOT_CORRUPT',
        `the key-value snapshot at index ${meta.index} cannot be restored: ${restored.message}`,
      );
    if (restored.appliedIndex !== meta.index)
      throw new ShoalError(
        'ERR_SNAPSHOT_CORRUPT',
        `the key-value snapshot labelled index ${meta.index} holds the state at ${restored.appliedIndex}`,
      );
    for (const writer of this.writers) abortSnapshot(writer);
    this.writers.clear();
    const previous = this.state.mvcc.revision;
    this.state = restored;
    this.counters.restores++;
    onStoreReplaced(this.registry, previous);
    this.listener.onWatchers(new Set(this.registry.watchers.keys()));
    this.listener.onRestored();
  }

  /** The whole snapshot at once (RaftApplication's synchronous form; tests). */
  snapshot(index: LogIndex): Uint8Array {
    assert(
      index === this.state.appliedIndex,
      `snapshot at ${index} with ${this.state.appliedIndex} applied`,
    );
    const writer = beginSnapshot(this.state);
    const chunks: Uint8Array[] = [];
    for (let c = nextSnapshotChunk(writer); c !== undefined; c = nextSnapshotChunk(writer))
      chunks.push(c);
    return concat(chunks, writer.bytes);
  }

  /**
   * The state right after `index` (the last entry applied), written one chunk per clock turn
   * while applies go on, then joined into one buffer SNAPSHOT_JOIN_SLICE_BYTES per turn (a join
   * of 29 MB in one step took 19-146 ms on the loaded test machine); `done` gets the bytes, or is
   * never called when a restore replaced the store first (the Raft core asks again later).
   */
  takeSnapshot(index: LogIndex, done: (data: Uint8Array) => void): void {
    assert(
      index === this.state.appliedIndex,
      `snapshot at ${index} with ${this.state.appliedIndex} applied`,
    );
    const writer = beginSnapshot(this.state);
    this.writers.add(writer);
    const chunks: Uint8Array[] = [];
    let out: Uint8Array | undefined;
    let joined = 0;
    let at = 0;
    const next = (): void => {
      if (!this.writers.has(writer)) return;
      if (out === undefined) {
        const chunk = nextSnapshotChunk(writer);
        if (chunk !== undefined) chunks.push(chunk);
        else out = new Uint8Array(writer.bytes);
        this.clock.setTimer(ms(0), next);
        return;
      }
      for (let copied = 0; joined < chunks.length && copied < SNAPSHOT_JOIN_SLICE_BYTES; joined++) {
        const chunk = chunks[joined] as Uint8Array;
        out.set(chunk, at);
        at += chunk.length;
        copied += chunk.length;
        chunks[joined] = EMPTY; // released as soon as copied
      }
      if (joined < chunks.length) {
        this.clock.setTimer(ms(0), next);
        return;
      }
      this.writers.delete(writer);
      this.counters.snapshotsTaken++;
      done(out);
    };
    next();
  }

  outcome(outcome: RaftOutcome): void {
    this.listener.onOutcome(outcome);
  }

  /** Ends snapshots in progress (the node stops). */
  close(): void {
    for (const writer of this.writers) abortSnapshot(writer);
    this.writers.clear();
  }
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Whether a session result says the session is unknown (evicted): the command did not apply. */
export function sessionExpired(output: ApplyOutput): boolean {
  return output.result.kind === 'error' && output.result.code === 'ERR_SESSION_EXPIRED';
}

export type { ApplyOutput } from '../kv/types.js';
export { createKvStore };
