/**
 * The segmented write-ahead log for Raft (docs/design/raft-log.md): a `LogStore` the generic
 * driver opens at boot and appends each write job to, as one batch with one fdatasync.
 *
 * Core-pure (lint treats src/raft as core code): no timers, no Promises, no node:*; it talks
 * only to the Storage seam's asynchronous log-file operations, whose completions arrive as
 * callbacks. One batch is written at a time; the driver already merges the steps that arrive
 * meanwhile into the next one (group commit).
 *
 * A batch:
 * 1. If it holds snapshot records, the newest one's bytes are written first, as their own file
 *    (snapshot-file.ts: under a temporary name, in slices with the CRC-32C computed one slice per
 *    turn, fsynced, renamed, directory fsynced); the batch is encoded once the file is durable.
 * 2. If it does not fit in the current segment, the WAL rotates: the next segment, preallocated
 *    ahead of need under a temporary name, is renamed to its segment name and its directory
 *    fsynced (`renameDurable`) before anything is written into it. A new segment's first batch
 *    starts with the segment's head: the hard state and the snapshot record in force, so a
 *    replay can start at any segment once older ones are compacted.
 * 3. The batch (BEGIN, records, COMMIT) is written at the segment's end and fdatasynced
 *    (`writeAtDurable`): one sync, whatever the number of records.
 * 4. After a batch with a snapshot record is durable, older snapshot files and the segments the
 *    snapshot covers are removed in the background.
 *
 * Fail-stop: an error from the disk fails that batch, and the log refuses every later append
 * (an assertion: the driver stops on the first failure), since after a failed fdatasync nothing
 * written since the last good one is known durable.
 */
import { AssertionError } from '../../base/assert.js';
import { ShoalError } from '../../base/errors.js';
import type { LogStore, OpenedLog, RecordLog } from '../../base/protocol.js';
import type { Storage, StorageDone } from '../../base/storage.js';
import { logIndex, type LogIndex } from '../../base/units.js';
import type { RaftPersisted, RaftRecord } from '../log-types.js';
import {
  BATCH_OVERHEAD_BYTES,
  PREPARED_SEGMENT_PATH,
  encodeBatch,
  entriesRecords,
  recordsBytes,
  segmentPath,
  snapshotFileSummary,
  snapshotPath,
  type WalRecord,
} from './format.js';
import type { LogImage } from './image.js';
import { recover, type SegmentState } from './recover.js';
import { validateWalOptions, type WalOptions } from './options.js';
import { writeSnapshotFile, type SnapshotFileWritten } from './snapshot-file.js';

/** Most appends queued behind the one being written (the driver queues at most one). */
export const WAL_APPENDS_QUEUED_MAX = 1_024;

/** What the WAL counts (DriverStats.log, metrics). */
export interface WalCounters {
  batches: number;
  records: number;
  entries: number;
  /** fdatasyncs of batches (one per batch). */
  syncs: number;
  bytesWritten: number;
  rotations: number;
  /** Rotations that had to create their segment because none was prepared. */
  rotationsUnprepared: number;
  snapshotsWritten: number;
  segmentsRemoved: number;
  /** Background preparations and removals that failed (the WAL carries on without them). */
  backgroundErrors: number;
  tornTails: number;
  tornBytes: number;
  leftoverSegmentsRemoved: number;
  strayFilesRemoved: number;
  /** Empty newest segments removed at boot (recover.ts, `settleTail`). */
  emptySegmentsRemoved: number;
}

interface Pending {
  records: readonly RaftRecord[];
  done: (error: ShoalError | undefined) => void;
}

/** A batch turned into WAL records, with what a new segment for it would start with. */
interface Prepared {
  records: WalRecord[];
  /** The snapshot file the batch names (written before it). */
  snapshot: { path: string } | undefined;
  entries: number;
  /** The log before the batch: a segment opened for it restates this and is named after it. */
  head: WalRecord[];
  firstIndex: LogIndex;
}

export class Wal implements RecordLog<RaftRecord> {
  private readonly queue: Pending[] = [];
  private writing = false;
  private failed: ShoalError | undefined;
  private closed = false;
  /** The next segment, preallocated: ready, being created, or absent. */
  private prepared: 'ready' | 'creating' | 'absent' = 'absent';
  private onPrepared: (() => void) | undefined;
  private readonly counts: WalCounters;

  constructor(
    private readonly storage: Storage,
    private readonly segmentBytes: number,
    private readonly image: LogImage,
    private readonly segments: SegmentState[],
    private nextBatchSeq: number,
    private snapshotFile: string | undefined,
    recovered: Pick<
      WalCounters,
      | 'tornTails'
      | 'tornBytes'
      | 'leftoverSegmentsRemoved'
      | 'strayFilesRemoved'
      | 'emptySegmentsRemoved'
    >,
  ) {
    this.counts = {
      batches: 0,
      records: 0,
      entries: 0,
      syncs: 0,
      bytesWritten: 0,
      rotations: 0,
      rotationsUnprepared: 0,
      snapshotsWritten: 0,
      segmentsRemoved: 0,
      backgroundErrors: 0,
      ...recovered,
    };
  }

  counters(): Readonly<Record<string, number>> {
    return { ...this.counts };
  }

  append(records: readonly RaftRecord[], done: (error: ShoalError | undefined) => void): void {
    if (this.closed) return;
    if (this.failed !== undefined)
      throw new AssertionError(`WAL append after a failed write: ${this.failed.message}`);
    if (this.queue.length >= WAL_APPENDS_QUEUED_MAX)
      throw new AssertionError(`more than ${WAL_APPENDS_QUEUED_MAX} WAL appends queued`);
    this.queue.push({ records, done });
    this.next();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const current = this.segments[this.segments.length - 1];
    if (current !== undefined) this.storage.closeFile(current.path);
  }

  // ---- one batch at a time ----

  private next(): void {
    if (this.writing || this.closed || this.failed !== undefined) return;
    const pending = this.queue.shift();
    if (pending === undefined) return;
    this.writing = true;
    // The next segment is prepared from the first batch on (not at open: a node that only
    // reads its log writes nothing).
    this.prepareNext();
    const snapshot = newestSnapshot(pending.records);
    if (snapshot === undefined) return this.write(pending, undefined);
    const path = snapshotPath(this.nextBatchSeq);
    const stopped = (): boolean => this.closed;
    writeSnapshotFile(this.storage, path, snapshot.meta, snapshot.data, stopped, (file) => {
      if (file instanceof ShoalError) {
        this.writing = false;
        return this.fail(file, pending);
      }
      this.counts.snapshotsWritten++;
      this.write(pending, { path, record: snapshot, ...file });
    });
  }

  /** Encodes and writes the batch (its snapshot file, if any, is durable already). */
  private write(pending: Pending, file: WrittenSnapshot | undefined): void {
    const batch = this.encode(pending.records, file);
    this.writeBatch(batch, (error) => {
      if (this.closed) return;
      this.writing = false;
      if (error !== undefined) return this.fail(error, pending);
      // Before `done`: the driver may append the next batch from inside it, and compaction
      // must see the log as of this batch, not of one not yet durable.
      if (batch.snapshot !== undefined) this.compact(batch.snapshot.path);
      pending.done(undefined);
      this.next();
    });
  }

  /** What a new segment starts with: the hard state and snapshot record in force. */
  private headRecords(): WalRecord[] {
    const head: WalRecord[] = [{ kind: 'hard-state', hardState: this.image.hardState }];
    // A restated snapshot never resets: replayed after the log, it is the base already; replayed
    // first (older segments compacted away), it only says where the log starts.
    const snapshot = this.image.snapshot;
    if (snapshot !== undefined)
      head.push({ kind: 'snapshot', marker: { ...snapshot, reset: false } });
    return head;
  }

  /**
   * Turns the core's records into WAL records and applies them to the image, checking the
   * contract of log-types.ts (an AssertionError names the broken rule: a core bug).
   */
  private encode(records: readonly RaftRecord[], file: WrittenSnapshot | undefined): Prepared {
    const seq = this.nextBatchSeq;
    const out: Prepared = {
      records: [],
      snapshot: undefined,
      entries: 0,
      head: this.headRecords(),
      firstIndex: logIndex(this.image.lastIndex + 1),
    };
    for (const record of records) {
      const converted: WalRecord[] =
        record.kind === 'hard-state'
          ? [record]
          : record.kind === 'entries'
            ? entriesRecords(record.entries)
            : [this.snapshotRecord(record, seq, out, file)];
      for (const walRecord of converted) {
        const why = this.image.apply(walRecord);
        if (why !== undefined) throw new AssertionError(`Raft log contract broken: ${why}`);
        out.records.push(walRecord);
      }
      if (record.kind === 'entries') out.entries += record.entries.length;
    }
    return out;
  }

  private snapshotRecord(
    record: SnapshotRecord,
    seq: number,
    out: Prepared,
    file: WrittenSnapshot | undefined,
  ): WalRecord {
    const path = snapshotPath(seq);
    out.snapshot = { path };
    // The newest snapshot record names the file just written; an older one in the same batch
    // (two steps' records merged) is superseded before the batch is durable, and its marker
    // describes a file never written, as it always did: computed here, in one step (rare).
    const written = file?.record === record ? file : snapshotFileSummary(record.meta, record.data);
    // Raft §7: an entry at the snapshot's index with its term keeps the entries after it.
    const reset = this.image.termAt(record.meta.index) !== record.meta.term;
    return {
      kind: 'snapshot',
      marker: {
        meta: record.meta,
        fileSeq: seq,
        reset,
        fileBytes: written.bytes,
        fileCrc: written.crc,
      },
    };
  }

  /** Writes the batch into the current segment, rotating first when it does not fit. */
  private writeBatch(batch: Prepared, done: StorageDone): void {
    const current = this.segments[this.segments.length - 1];
    const bodyBytes = BATCH_OVERHEAD_BYTES + recordsBytes(batch.records);
    const headBytes = recordsBytes(batch.head);
    const fits =
      current !== undefined &&
      current.used + bodyBytes + (current.used === 0 ? headBytes : 0) <= current.sizeBytes;
    if (fits) return this.writeInto(current, batch, done);
    this.rotate(bodyBytes + headBytes, batch.firstIndex, (error, segment) => {
      if (this.closed) return;
      if (error !== undefined || segment === undefined) return done(error);
      this.writeInto(segment, batch, done);
    });
  }

  private writeInto(segment: SegmentState, batch: Prepared, done: StorageDone): void {
    const records = segment.used === 0 ? [...batch.head, ...batch.records] : batch.records;
    const bytes = encodeBatch(this.nextBatchSeq, records);
    const at = segment.used;
    this.storage.writeAtDurable(segment.path, at, bytes, (error) => {
      if (error === undefined && !this.closed) {
        segment.used = at + bytes.length;
        this.nextBatchSeq++;
        this.counts.batches++;
        this.counts.syncs++;
        this.counts.records += batch.records.length;
        this.counts.entries += batch.entries;
        this.counts.bytesWritten += bytes.length;
      }
      done(error);
    });
  }

  // ---- segments ----

  /**
   * Opens the next segment: the prepared one renamed (its directory fsynced before use), or, if
   * none is ready and none is coming, or the batch needs more room, one created for it.
   */
  private rotate(
    needBytes: number,
    firstIndex: LogIndex,
    done: (error: ShoalError | undefined, segment?: SegmentState) => void,
  ): void {
    const last = this.segments[this.segments.length - 1];
    const seq = last === undefined ? 0 : last.seq + 1;
    const path = segmentPath(seq, firstIndex);
    const opened =
      (sizeBytes: number): StorageDone =>
      (error) => {
        if (error !== undefined) return done(error);
        if (last !== undefined) this.storage.closeFile(last.path);
        const segment: SegmentState = { path, seq, firstIndex, sizeBytes, used: 0 };
        this.segments.push(segment);
        this.counts.rotations++;
        this.prepareNext();
        done(undefined, segment);
      };
    if (needBytes > this.segmentBytes) {
      this.counts.rotationsUnprepared++;
      return this.storage.createDurable(path, needBytes, opened(needBytes));
    }
    if (this.prepared === 'creating') {
      this.onPrepared = () => this.rotate(needBytes, firstIndex, done);
      return;
    }
    if (this.prepared === 'ready') {
      this.prepared = 'absent';
      return this.storage.renameDurable(PREPARED_SEGMENT_PATH, path, opened(this.segmentBytes));
    }
    this.counts.rotationsUnprepared++;
    this.storage.createDurable(path, this.segmentBytes, opened(this.segmentBytes));
  }

  /** Preallocates the next segment in the background, so a rotation costs one rename. */
  private prepareNext(): void {
    if (this.prepared !== 'absent' || this.closed) return;
    this.prepared = 'creating';
    this.storage.createDurable(PREPARED_SEGMENT_PATH, this.segmentBytes, (error) => {
      if (this.closed) return;
      if (error !== undefined) this.counts.backgroundErrors++;
      this.prepared = error === undefined ? 'ready' : 'absent';
      const waiting = this.onPrepared;
      this.onPrepared = undefined;
      waiting?.();
    });
  }

  /**
   * After the snapshot in `snapshotFile` is durable: removes older snapshot files and every
   * segment before the newest one that starts at or below the snapshot's index + 1 (a replay
   * from that one needs nothing older; recover.ts checks the same rule).
   */
  private compact(path: string): void {
    const removable: string[] = [];
    if (this.snapshotFile !== undefined && this.snapshotFile !== path)
      removable.push(this.snapshotFile);
    this.snapshotFile = path;
    const base = this.image.baseIndex;
    let keepFrom = 0;
    for (const [i, segment] of this.segments.entries())
      if (segment.firstIndex <= base + 1) keepFrom = i;
    const gone = this.segments.splice(0, keepFrom);
    for (const segment of gone) {
      this.storage.closeFile(segment.path);
      removable.push(segment.path);
    }
    if (removable.length === 0) return;
    this.storage.removeDurable(removable, (error) => {
      if (this.closed) return;
      if (error !== undefined) this.counts.backgroundErrors++;
      else this.counts.segmentsRemoved += gone.length;
    });
  }

  private fail(error: ShoalError, pending: Pending): void {
    this.failed = error;
    pending.done(error);
    for (const waiting of this.queue.splice(0)) waiting.done(error);
  }
}

type SnapshotRecord = Extract<RaftRecord, { kind: 'snapshot' }>;

/** A snapshot file written for a batch: its path, the record it holds, its length and CRC. */
interface WrittenSnapshot extends SnapshotFileWritten {
  path: string;
  record: SnapshotRecord;
}

/** The last snapshot record of a batch (the one whose file the batch writes), if any. */
function newestSnapshot(records: readonly RaftRecord[]): SnapshotRecord | undefined {
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i] as RaftRecord;
    if (record.kind === 'snapshot') return record;
  }
  return undefined;
}

/**
 * The Raft WAL as a `LogStore`: `open` recovers (recover.ts) and returns the log to append to.
 * Throws ERR_STORAGE_CORRUPT when the log is damaged anywhere but its torn tail, and
 * ERR_INVALID_CONFIG for bad options.
 */
export function walStore(options: WalOptions = {}): LogStore<RaftPersisted, RaftRecord> {
  const { segmentBytes } = validateWalOptions(options);
  return {
    kind: 'log',
    open(storage: Storage): OpenedLog<RaftPersisted, RaftRecord> {
      const recovered = recover(storage);
      const log = new Wal(
        storage,
        segmentBytes,
        recovered.image,
        recovered.segments,
        recovered.nextBatchSeq,
        recovered.snapshotFile,
        recovered.counters,
      );
      return { persisted: recovered.persisted, log, notes: recovered.notes };
    },
  };
}
