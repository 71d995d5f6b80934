/**
 * Recovery at boot (docs/design/raft-log.md, "Recovery rules"): reads every segment, replays
 * every valid batch, drops a torn tail, and refuses to start on anything else.
 *
 * - Segments are replayed in sequence order. Within a segment, batches follow each other with
 *   consecutive sequence numbers; across segments too (a segment's first batch continues the
 *   previous segment's last).
 * - The first bytes that are not a valid next batch end the segment's log. If what follows is
 *   all zeros, that is its clean end (preallocated space). If not, the bytes are a torn tail
 *   only when nothing valid follows them: no batch starts after them, and, when their BEGIN
 *   record survived, nothing is written past the length it announced. A torn tail is legal in
 *   the newest segment only (the one written when the node stopped): it is zeroed, fsynced,
 *   counted and reported. Damage anywhere else is ERR_STORAGE_CORRUPT, one line naming the file
 *   and byte offset: a batch that was acknowledged may be gone, so the node must not vote or
 *   acknowledge on what is left.
 * - Segments older than a gap in the sequence numbers are leftovers of a compaction a crash
 *   interrupted (removals not yet durable): they are removed, provided the segments after the
 *   gap do not need them (the first one starts at or below the snapshot's index + 1).
 * - The snapshot file named by the last snapshot record must exist and match it; any other
 *   snapshot file (an older one, or a newer one whose record never became durable) is removed.
 * - Only what is durable is believed: a restart without a power loss (after a failed fsync, or
 *   kill -9) may read the last batch from the page cache alone, so it is written again and
 *   fsynced before the log is handed to the core, and an empty newest segment (perhaps one whose
 *   name was never synced) is removed (`settleTail`).
 */
import { ShoalError } from '../../base/errors.js';
import type { Storage } from '../../base/storage.js';
import type { LogIndex } from '../../base/units.js';
import type { RaftPersisted } from '../log-types.js';
import {
  BEGIN_PAYLOAD_BYTES,
  PREPARED_SEGMENT_PATH,
  RECORD_TYPES,
  SNAPSHOT_DIR,
  WAL_DIR,
  decodeSnapshotFile,
  parseSegmentPath,
  readBatch,
  snapshotFileCrc,
  snapshotPath,
  type BatchRead,
  type SnapshotMarker,
  type WalRecord,
} from './format.js';
import { LogImage } from './image.js';

/** A segment as the running WAL tracks it. */
export interface SegmentState {
  readonly path: string;
  readonly seq: number;
  /** The index its first entry would have had when it was opened (last index + 1 then). */
  readonly firstIndex: LogIndex;
  readonly sizeBytes: number;
  /** Bytes holding valid batches: where the next batch goes. */
  used: number;
}

/** What recovery counted (the WAL's counters start from these). */
export interface RecoveryCounters {
  tornTails: number;
  tornBytes: number;
  leftoverSegmentsRemoved: number;
  strayFilesRemoved: number;
  /** Newest segments removed at boot because they held no batch (see `settleTail`). */
  emptySegmentsRemoved: number;
}

export interface Recovered {
  persisted: RaftPersisted;
  /** The log as replayed, keeping only terms from now on. */
  image: LogImage;
  /** Live segments, oldest first; the last is the one to write next. */
  segments: SegmentState[];
  nextBatchSeq: number;
  /** The snapshot file in force, if any. */
  snapshotFile: string | undefined;
  notes: string[];
  counters: RecoveryCounters;
}

const HOW_TO_RECOVER =
  'the node will not start on a damaged Raft log: restore the data dir from a backup, or remove it and add this node back as a new member';

/** The one-line refusal: the file, the byte offset when known, what is wrong. */
export function corrupt(path: string, offset: number | undefined, what: string): ShoalError {
  const where = offset === undefined ? path : `${path} at byte ${offset}`;
  return new ShoalError('ERR_STORAGE_CORRUPT', `${where}: ${what}; ${HOW_TO_RECOVER}`);
}

interface Batch {
  seq: number;
  records: WalRecord[];
  offset: number;
}

interface Scan {
  batches: Batch[];
  /** End of the valid batches. */
  end: number;
  /** End of the torn bytes after them (equal to `end` when the tail is clean). */
  tornEnd: number;
}

/** Index of the last non-zero byte + 1 at or after `from`, or `from` when all are zero. */
function nonZeroEnd(bytes: Uint8Array, from: number): number {
  for (let i = bytes.length - 1; i >= from; i--) if (bytes[i] !== 0) return i + 1;
  return from;
}

/** The offset of a whole valid batch numbered after `afterSeq` in (from, to), if any. */
function laterBatch(
  bytes: Uint8Array,
  from: number,
  to: number,
  afterSeq: number,
): number | undefined {
  for (let at = from + 1; at < to; at++) {
    // Cheap filter first: a BEGIN record's length and type.
    if (bytes[at + 4] !== RECORD_TYPES.begin || bytes[at] !== BEGIN_PAYLOAD_BYTES) continue;
    const read = readBatch(bytes, at, bytes.length);
    if (read.kind === 'batch' && read.seq > afterSeq) return at;
  }
  return undefined;
}

/** Reads a segment's batches and classifies what follows them (see the module comment). */
function scanSegment(path: string, bytes: Uint8Array, newest: boolean): Scan {
  const batches: Batch[] = [];
  let at = 0;
  let read: BatchRead;
  for (;;) {
    read = readBatch(bytes, at, bytes.length);
    if (read.kind !== 'batch') break;
    const last = batches[batches.length - 1];
    if (last !== undefined && read.seq !== last.seq + 1)
      throw corrupt(path, at, `batch ${read.seq} follows batch ${last.seq}`);
    batches.push({ seq: read.seq, records: read.records, offset: at });
    at = read.end;
  }
  if (read.kind === 'foreign')
    throw corrupt(
      path,
      at,
      `a batch of WAL format version ${read.version}, which this Shoal does not read`,
    );
  const tornEnd = nonZeroEnd(bytes, at);
  if (tornEnd === at) return { batches, end: at, tornEnd };
  const lastSeq = batches[batches.length - 1]?.seq ?? -1;
  const extent = read.kind === 'invalid' ? read.extent : undefined;
  if (extent !== undefined && tornEnd > at + extent)
    throw corrupt(
      path,
      at,
      `a damaged batch (${read.kind === 'invalid' ? read.why : ''}) with data written after it`,
    );
  const later = laterBatch(bytes, at, tornEnd, lastSeq);
  if (later !== undefined)
    throw corrupt(path, at, `a damaged batch with a valid batch after it (at byte ${later})`);
  if (!newest)
    throw corrupt(
      path,
      at,
      'damaged bytes after the last batch of a segment that is not the newest',
    );
  return { batches, end: at, tornEnd };
}

/** Lists the WAL directory: segments by sequence, after removing stray temporary files. */
function listSegments(
  storage: Storage,
  out: Recovered,
): { path: string; seq: number; firstIndex: LogIndex }[] {
  const segments = [];
  for (const path of storage.list(`${WAL_DIR}/`)) {
    const parsed = parseSegmentPath(path);
    if (parsed !== undefined) segments.push({ path, ...parsed });
    else if (path === PREPARED_SEGMENT_PATH || path.endsWith('.tmp')) {
      storage.remove(path);
      out.counters.strayFilesRemoved++;
    } else out.notes.push(`${path}: not a WAL file, left alone`);
  }
  segments.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < segments.length; i++)
    if (segments[i]?.seq === segments[i - 1]?.seq)
      throw corrupt(
        segments[i]?.path ?? WAL_DIR,
        undefined,
        'two segments with one sequence number',
      );
  return segments;
}

/** Reads the log back (see the module comment); throws ERR_STORAGE_CORRUPT on damage. */
export function recover(storage: Storage): Recovered {
  const out: Recovered = {
    persisted: { hardState: new LogImage(false, true).hardState, snapshot: undefined, entries: [] },
    image: new LogImage(true, true),
    segments: [],
    nextBatchSeq: 0,
    snapshotFile: undefined,
    notes: [],
    counters: {
      tornTails: 0,
      tornBytes: 0,
      leftoverSegmentsRemoved: 0,
      strayFilesRemoved: 0,
      emptySegmentsRemoved: 0,
    },
  };
  const all = listSegments(storage, out);
  let first = all.length - 1;
  while (first > 0 && all[first - 1]?.seq === (all[first]?.seq ?? 0) - 1) first--;
  const leftovers = all.slice(0, Math.max(0, first));
  const live = all.slice(Math.max(0, first));
  const anchored = leftovers.length === 0 && (live[0]?.seq ?? 0) === 0;
  const image = new LogImage(true, anchored);
  let lastSeq: number | undefined;
  let lastBatch: LastBatch | undefined;
  for (const [i, segment] of live.entries()) {
    const bytes = storage.read(segment.path);
    if (bytes === undefined) throw corrupt(segment.path, undefined, 'vanished while being read');
    const scan = scanSegment(segment.path, bytes, i === live.length - 1);
    for (const [j, batch] of scan.batches.entries()) {
      if (j === 0 && lastSeq !== undefined && batch.seq !== lastSeq + 1)
        throw corrupt(
          segment.path,
          batch.offset,
          `batch ${batch.seq} follows batch ${lastSeq} of the previous segment`,
        );
      if (j === 0 && batch.records[0]?.kind !== 'hard-state')
        throw corrupt(
          segment.path,
          batch.offset,
          'a segment that does not start with its head (the hard state)',
        );
      for (const record of batch.records) {
        const why = image.apply(record);
        if (why !== undefined) throw corrupt(segment.path, batch.offset, why);
      }
      lastSeq = batch.seq;
    }
    const last = scan.batches[scan.batches.length - 1];
    if (last !== undefined)
      lastBatch = { path: segment.path, bytes, offset: last.offset, end: scan.end };
    if (scan.tornEnd > scan.end) repairTail(storage, segment.path, scan, out);
    out.segments.push({ ...segment, sizeBytes: bytes.length, used: scan.end });
  }
  const start = live[0];
  const why = image.finish();
  if (why !== undefined && start !== undefined) throw corrupt(start.path, undefined, why);
  if (!anchored && start !== undefined && start.firstIndex - 1 > image.baseIndex)
    throw corrupt(
      start.path,
      undefined,
      `the segments before this one are gone, but the snapshot covers entries only up to ${image.baseIndex}`,
    );
  settleTail(storage, lastBatch, out);
  removeLeftovers(storage, leftovers, out);
  out.nextBatchSeq = lastSeq === undefined ? 0 : lastSeq + 1;
  out.snapshotFile = loadSnapshot(storage, image.snapshot, out);
  out.persisted = { ...out.persisted, hardState: image.hardState, entries: image.releaseEntries() };
  out.image = image;
  return out;
}

/** Where the last valid batch of the log lies (the segment's bytes as read). */
interface LastBatch {
  path: string;
  bytes: Uint8Array;
  offset: number;
  end: number;
}

/**
 * Rule 9 of raft-log.md: before the log is believed, what a process restart (no power loss) may
 * have read from the page cache alone is made durable or dropped. Only the last batch can be in
 * that state: each batch is written after the one before it was synced, and a write that fails
 * stops the WAL. Its sync may have failed with EIO (Linux then marks the pages clean: reads see
 * them, the disk never gets them, and a later fsync without new writes succeeds), or the process
 * was killed before the sync ran. So its bytes are written again (dirtying the pages) and
 * fsynced. A newest segment that holds no batch may be one whose creation or rename was never
 * synced into its directory (the failure that stopped the WAL): it is removed, durably, so no
 * acknowledged batch ever goes into a file whose name only the page cache knows; the next
 * rotation creates a segment again.
 */
function settleTail(storage: Storage, last: LastBatch | undefined, out: Recovered): void {
  const newest = out.segments[out.segments.length - 1];
  if (newest !== undefined && newest.used === 0) {
    storage.remove(newest.path);
    storage.fsyncDir(WAL_DIR);
    out.segments.pop();
    out.counters.emptySegmentsRemoved++;
  }
  if (last === undefined) return;
  storage.writeAt(last.path, last.offset, last.bytes.subarray(last.offset, last.end));
  storage.fsync(last.path);
}

function repairTail(storage: Storage, path: string, scan: Scan, out: Recovered): void {
  const bytes = scan.tornEnd - scan.end;
  storage.writeAt(path, scan.end, new Uint8Array(bytes));
  storage.fsync(path);
  out.counters.tornTails++;
  out.counters.tornBytes += bytes;
  out.notes.push(
    `${path}: dropped a torn batch at byte ${scan.end} (${bytes} bytes): the last write before the node stopped, never acknowledged`,
  );
}

function removeLeftovers(
  storage: Storage,
  leftovers: readonly { path: string }[],
  out: Recovered,
): void {
  if (leftovers.length === 0) return;
  for (const { path } of leftovers) storage.remove(path);
  storage.fsyncDir(WAL_DIR);
  out.counters.leftoverSegmentsRemoved += leftovers.length;
  out.notes.push(
    `removed ${leftovers.length} segment(s) up to ${leftovers[leftovers.length - 1]?.path}: left over from a compaction a crash interrupted`,
  );
}

/** Reads and checks the snapshot file the log names; removes every other snapshot file. */
function loadSnapshot(
  storage: Storage,
  marker: SnapshotMarker | undefined,
  out: Recovered,
): string | undefined {
  const path = marker === undefined ? undefined : snapshotPath(marker.fileSeq);
  if (marker !== undefined && path !== undefined) {
    const file = storage.read(path);
    if (file === undefined)
      throw corrupt(path, undefined, 'missing, but the log names it as its snapshot');
    if (file.length !== marker.fileBytes || snapshotFileCrc(file) !== marker.fileCrc)
      throw corrupt(
        path,
        undefined,
        'not the snapshot file the log names (its length or CRC differs)',
      );
    const decoded = decodeSnapshotFile(file);
    if (typeof decoded === 'string')
      throw corrupt(path, undefined, `a snapshot file that ${decoded}`);
    if (decoded.meta.index !== marker.meta.index || decoded.meta.term !== marker.meta.term)
      throw corrupt(
        path,
        undefined,
        `holds the snapshot at ${decoded.meta.index}, not ${marker.meta.index}`,
      );
    out.persisted = { ...out.persisted, snapshot: { meta: marker.meta, data: decoded.data } };
  }
  const others = storage.list(`${SNAPSHOT_DIR}/`).filter((p) => p !== path);
  if (others.length > 0) {
    for (const other of others) storage.remove(other);
    storage.fsyncDir(SNAPSHOT_DIR);
    out.counters.strayFilesRemoved += others.length;
  }
  return path;
}
