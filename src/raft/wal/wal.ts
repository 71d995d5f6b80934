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
 * 1. If it holds a snapshot installed from a leader (one that resets the log), its bytes are
 *    written first, as their own file by durable replace (`writeDurable`: temp file, fsync,
 *    rename, directory fsync). A snapshot this member took of its own state (the log holds its
 *    last entry) does not hold the batch up: its file is written in the background and its
 *    marker goes into a batch of its own once the file is durable (`deferSnapshot`); meanwhile
 *    the log still holds every entry it covers, so a crash before the marker recovers from the
 *    older snapshot and replays them. The batch reports the record durable at once: the core
 *    only compacts its memory on it. Writing a 30 MB snapshot file took the batch, and every
 *    put behind it, about 1-2 s on this machine (docs/benchmarks.md, "Catch-up").
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
import type { ShoalError } from '../../base/errors.js';
import type { LogStore, OpenedLog, RecordLog } from '../../base/protocol.js';
import type { Storage, StorageDone } from '../../base/storage.js';
import { logIndex, type LogIndex } from '../../base/units.js';
import type { RaftPersisted, RaftRecord } from '../log-types.js';
import {
  BATCH_OVERHEAD_BYTES,
  PREPARED_SEGMENT_PATH,
  encodeBatch,
  encodeSnapshotFile,
  entriesRecords,
  recordsBytes,
  segmentPath,
  snapshotFileCrc,
  snapshotPath,
  type WalRecord,
} from './format.js';
import type { LogImage } from './image.js';
import { recover, type SegmentState } from './recover.js';
import { validateWalOptions, type WalOptions } from './options.js';

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
  /** Snapshots of the member's own state whose file or record is not durable yet (a gauge). */
  snapshotsInFlight: number;
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
  /** A deferred snapshot's marker, whose file is durable: written as a batch of its own. */
  marker?: { record: WalRecord & { kind: 'snapshot' }; path: string };
}

/** A batch turned into WAL records, with what a new segment for it would start with. */
interface Prepared {
  records: WalRecord[];
  /** The snapshot file this batch names; `file` is undefined when it is already durable. */
  snapshot: { path: string; file: Uint8Array | undefined } | undefined;
  /** A snapshot of this member's own state, written in the background (`deferSnapshot`). */
  deferred:
    { record: WalRecord & { kind: 'snapshot' }; path: string; file: Uint8Array } | undefined;
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
      snapshotsInFlight: 0,
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
    const batch =
      pending.marker === undefined
        ? this.encode(pending.records)
        : this.encodeMarker(pending.marker);
    if (batch === undefined) {
      // The deferred snapshot was overtaken by a newer one: its file is not needed.
      this.writing = false;
      pending.done(undefined);
      return this.next();
    }
    if (batch.deferred !== undefined) this.deferSnapshot(batch.deferred);
    const finish: StorageDone = (error) => {
      if (this.closed) return;
      this.writing = false;
      if (error !== undefined) return this.fail(error, pending);
      // Before `done`: the driver may append the next batch from inside it, and compaction
      // must see the log as of this batch, not of one not yet durable.
      if (batch.snapshot !== undefined) this.compact(batch.snapshot.path);
      pending.done(undefined);
      this.next();
    };
    const write = (): void => this.writeBatch(batch, finish);
    if (batch.snapshot?.file === undefined) return write();
    const { path, file } = batch.snapshot;
    this.storage.writeDurable(path, file, (error) => {
      if (this.closed) return;
      if (error !== undefined) return finish(error);
      this.counts.snapshotsWritten++;
      write();
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
  private encode(records: readonly RaftRecord[]): Prepared {
    const seq = this.nextBatchSeq;
    const out: Prepared = {
      records: [],
      snapshot: undefined,
      deferred: undefined,
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
            : [this.snapshotRecord(record, seq, out)];
      for (const walRecord of converted) {
        if (walRecord.kind === 'snapshot' && out.deferred?.record === walRecord) continue;
        const why = this.image.apply(walRecord);
        if (why !== undefined) throw new AssertionError(`Raft log contract broken: ${why}`);
        out.records.push(walRecord);
      }
      if (record.kind === 'entries') out.entries += record.entries.length;
    }
    // An installed snapshot in the same batch supersedes this member's own (and takes its name).
    if (out.snapshot !== undefined) out.deferred = undefined;
    // The batch's sequence number names the deferred file: it must be used by a batch.
    if (out.records.length === 0)
      out.records.push({ kind: 'hard-state', hardState: this.image.hardState });
    return out;
  }

  /** A deferred snapshot's marker as a batch of its own, or undefined when a newer one is in force. */
  private encodeMarker(marker: NonNullable<Pending['marker']>): Prepared | undefined {
    if (marker.record.marker.meta.index <= this.image.baseIndex) {
      this.storage.removeDurable([marker.path], (error) => {
        if (error !== undefined && !this.closed) this.counts.backgroundErrors++;
      });
      return undefined;
    }
    const why = this.image.apply(marker.record);
    if (why !== undefined) throw new AssertionError(`Raft log contract broken: ${why}`);
    return {
      records: [marker.record],
      snapshot: { path: marker.path, file: undefined },
      deferred: undefined,
      entries: 0,
      head: this.headRecords(),
      firstIndex: logIndex(this.image.lastIndex + 1),
    };
  }

  /**
   * Writes a snapshot file of this member's own state in the background; once it is durable its
   * marker is queued as a batch of its own (then older files and segments are compacted). A
   * failed write leaves the older snapshot in force (counted in backgroundErrors).
   */
  private deferSnapshot(deferred: NonNullable<Prepared['deferred']>): void {
    this.counts.snapshotsInFlight++;
    this.storage.writeDurable(deferred.path, deferred.file, (error) => {
      if (this.closed) return;
      if (error !== undefined) {
        this.counts.snapshotsInFlight--;
        return void this.counts.backgroundErrors++;
      }
      this.counts.snapshotsWritten++;
      this.queue.push({
        records: [],
        done: () => void this.counts.snapshotsInFlight--,
        marker: { record: deferred.record, path: deferred.path },
      });
      this.next();
    });
  }

  private snapshotRecord(
    record: Extract<RaftRecord, { kind: 'snapshot' }>,
    seq: number,
    out: Prepared,
  ): WalRecord {
    const file = encodeSnapshotFile(record.meta, record.data);
    const path = snapshotPath(seq);
    // Raft §7: an entry at the snapshot's index with its term keeps the entries after it.
    const reset = this.image.termAt(record.meta.index) !== record.meta.term;
    const walRecord = {
      kind: 'snapshot',
      marker: {
        meta: record.meta,
        fileSeq: seq,
        reset,
        fileBytes: file.length,
        fileCrc: snapshotFileCrc(file),
      },
    } as const;
    // Only a snapshot past the one in force can wait: one at the same index replaces it in place.
    if (reset || record.meta.index <= this.image.baseIndex) out.snapshot = { path, file };
    else out.deferred = { record: walRecord, path, file };
    return walRecord;
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
