/**
 * Shared by the WAL tests: a reference model of what a sequence of Raft records means
 * (log-types.ts, written independently of the WAL's own LogImage), a generator of record
 * batches a Raft core could emit from a given log, and a simulated disk to run the WAL on.
 */
import { expect } from 'vitest';
import type { ShoalError } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import { logIndex, term, type LogIndex } from '../../src/base/units.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type {
  Entry,
  HardState,
  RaftPersisted,
  RaftRecord,
  SnapshotMeta,
} from '../../src/raft/log-types.js';
import type { RecordLog } from '../../src/base/protocol.js';
import { walStore } from '../../src/raft/wal/wal.js';
import { SimClock } from '../../src/sim/clock.js';
import { SimStorage } from '../../src/sim/storage.js';

export const VOTES = ['a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32)] as NodeId[];

/** What the records mean, applied one by one (the rules of log-types.ts and Raft §7). */
export interface Model {
  hardState: HardState;
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | undefined;
  entries: Entry[];
}

export function emptyModel(): Model {
  return {
    hardState: { term: term(0), vote: undefined, commit: logIndex(0) },
    snapshot: undefined,
    entries: [],
  };
}

export function lastIndexOf(model: Model): number {
  return model.entries[model.entries.length - 1]?.index ?? model.snapshot?.meta.index ?? 0;
}

function termOf(model: Model, index: number): number | undefined {
  if (index === (model.snapshot?.meta.index ?? 0)) return model.snapshot?.meta.term ?? 0;
  return model.entries.find((e) => e.index === index)?.term;
}

export function applyToModel(model: Model, record: RaftRecord): Model {
  const base = model.snapshot?.meta.index ?? 0;
  switch (record.kind) {
    case 'hard-state':
      return { ...model, hardState: record.hardState };
    case 'entries': {
      const fresh = record.entries.filter((e) => e.index > base);
      const from = fresh[0]?.index;
      if (from === undefined) return model;
      return { ...model, entries: [...model.entries.filter((e) => e.index < from), ...fresh] };
    }
    case 'snapshot': {
      const keep = termOf(model, record.meta.index) === record.meta.term;
      const entries = keep ? model.entries.filter((e) => e.index > record.meta.index) : [];
      return { ...model, snapshot: { meta: record.meta, data: record.data }, entries };
    }
  }
}

export function applyBatch(model: Model, batch: readonly RaftRecord[]): Model {
  return batch.reduce(applyToModel, model);
}

/** The model as `RaftPersisted` (what the WAL must read back). */
export function persistedOf(model: Model): RaftPersisted {
  return { hardState: model.hardState, snapshot: model.snapshot, entries: model.entries };
}

function bytesOf(rng: Rng, max: number): Uint8Array {
  const out = new Uint8Array(rng.int(max + 1));
  for (let i = 0; i < out.length; i++) out[i] = rng.int(256);
  return out;
}

/**
 * A batch of 1..4 records a Raft core could emit from `model`: hard states whose term never goes
 * back, entries that start at most one past the end (sometimes replacing a suffix), and now and
 * then a snapshot, local (at an entry it holds) or installed (anywhere above its base).
 */
export function randomBatch(
  rng: Rng,
  model: Model,
  options: { entryBytesMax?: number; snapshots?: boolean } = {},
): RaftRecord[] {
  const out: RaftRecord[] = [];
  let current = model;
  const count = 1 + rng.int(4);
  for (let i = 0; i < count; i++) {
    const record = randomRecord(
      rng,
      current,
      options.entryBytesMax ?? 300,
      options.snapshots ?? true,
    );
    out.push(record);
    current = applyToModel(current, record);
  }
  return out;
}

function randomRecord(
  rng: Rng,
  model: Model,
  entryBytesMax: number,
  snapshots: boolean,
): RaftRecord {
  const base = model.snapshot?.meta.index ?? 0;
  const last = lastIndexOf(model);
  const roll = rng.int(100);
  const t = model.hardState.term;
  if (roll < 25) {
    const bump = rng.chance(1, 3) ? 1 : 0;
    const vote = rng.chance(1, 3) ? undefined : VOTES[rng.int(VOTES.length)];
    return {
      kind: 'hard-state',
      hardState: { term: term(t + bump), vote, commit: logIndex(rng.int(last + 1)) },
    };
  }
  if (roll < 92 || last === 0 || !snapshots) {
    const from = Math.max(base + 1, last + 1 - (rng.chance(1, 4) ? rng.int(4) : 0));
    const entries: Entry[] = [];
    for (let k = 0; k < 1 + rng.int(6); k++)
      entries.push({
        index: logIndex(from + k),
        term: term(t),
        kind: rng.chance(1, 10) ? 'config' : 'normal',
        data: bytesOf(rng, entryBytesMax),
      });
    return { kind: 'entries', entries };
  }
  const installed = last === base || rng.chance(1, 3);
  const index = installed ? base + 1 + rng.int(last - base + 3) : base + 1 + rng.int(last - base);
  const snapTerm = installed ? t + rng.int(2) : (termOf(model, index) ?? t);
  return {
    kind: 'snapshot',
    meta: { index: logIndex(index), term: term(snapTerm), config: bytesOf(rng, 20) },
    data: bytesOf(rng, 2000),
  };
}

/** A node's disk on a simulated clock, and the WAL opened on it. */
export class SimDisk {
  readonly clock = new SimClock();
  readonly storage: SimStorage;
  private readonly owner = 'n1';

  constructor(
    seed: number,
    options: { tornWrites?: boolean; delayMaxMs?: number } = {},
    readonly segmentBytes = 4096,
  ) {
    this.storage = new SimStorage({
      rng: new Rng(seed).fork('storage'),
      clock: this.clock.nodeClock(this.owner),
      tornWrites: options.tornWrites ?? true,
      durableWriteDelayMinMs: 1,
      durableWriteDelayMaxMs: options.delayMaxMs ?? 3,
    });
  }

  open() {
    return walStore({ segmentBytes: this.segmentBytes }).open(this.storage);
  }

  run(untilMs: number): void {
    this.clock.runUntil(untilMs, { eventsMax: 1_000_000 });
  }

  /** Runs until nothing is pending (every write done). */
  settle(): void {
    this.clock.runUntilIdle({ eventsMax: 1_000_000 });
  }

  /** Power loss: the node's timers die (operations in flight never finish) and unsynced bytes go. */
  crash(): void {
    this.clock.killOwner(this.owner);
    this.storage.crash();
  }

  /**
   * The process stops without a power loss (fail-stop after a failed write, or kill -9): its
   * timers die, the page cache stays, so a restart reads bytes the disk may not hold.
   */
  halt(): void {
    this.clock.killOwner(this.owner);
  }
}

/** Appends and waits (on the simulated clock) for the batch; returns its error code, if any. */
export function appendNow(
  disk: SimDisk,
  log: RecordLog<RaftRecord>,
  records: readonly RaftRecord[],
): string | undefined {
  let result: { error: ShoalError | undefined } | undefined;
  log.append(records, (error) => (result = { error }));
  disk.settle();
  expect(result, 'the append finished').toBeDefined();
  return result?.error?.code;
}

/** Entries `from`..`to` at `t`, each holding its index as text, padded to `padBytes`. */
export function entries(from: number, to: number, t: number, padBytes = 0): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++)
    out.push({
      index: logIndex(i) as LogIndex,
      term: term(t),
      kind: 'normal',
      data: new TextEncoder().encode(`entry ${i}`.padEnd(padBytes, '.')),
    });
  return out;
}
