/**
 * Writes a snapshot file without stopping the process (docs/design/raft-log.md, "Snapshot
 * files"): the file (format.ts: head, data, CRC-32C) is never built in memory. It is created
 * under a temporary name at its final length (`createDurable`), its head and data are written in
 * place slice by slice (`writeAtDurable`, a few in flight, each slice a view of the data, not a
 * copy), the CRC-32C is computed one slice per write completion, then the trailing CRC is
 * written and the file renamed over its name, with its directory fsynced (`renameDurable`).
 *
 * The same durability as a durable replace (storage.ts `durableReplaceSteps`): every byte is
 * fsynced before the rename, and the rename is made durable by the directory fsync before `done`,
 * so a crash at any point leaves either no file under `path` or the whole file; a crash before
 * the rename leaves a temporary file, which recovery removes with every snapshot file the log
 * does not name (recover.ts, `loadSnapshot`).
 *
 * Bounded synchronous work: the longest step computes the CRC-32C of one slice
 * (SNAPSHOT_SLICE_BYTES, about 1.5 ms at 650 MB/s), where encoding the file whole took a copy and
 * a CRC of all of it in one step (209-495 ms for 29 MB on the loaded test machine).
 *
 * Core-pure (src/raft is core code): no timers, no Promises; the storage's completions are the
 * turns the work is spread over.
 */
import type { ShoalError } from '../../base/errors.js';
import type { Storage } from '../../base/storage.js';
import type { SnapshotMeta } from '../log-types.js';
import { crc32c } from './crc32c.js';
import { SNAPSHOT_CRC_BYTES, snapshotFileHead, snapshotFileTail } from './format.js';

/** Bytes of data written, and checksummed, per step. */
export const SNAPSHOT_SLICE_BYTES = 1024 * 1024;
/** Slices written at once (their fdatasyncs overlap). */
export const SNAPSHOT_WRITES_IN_FLIGHT = 4;

/** What the WAL's snapshot record says of the file it names. */
export interface SnapshotFileWritten {
  bytes: number;
  crc: number;
}

/**
 * Writes `meta` and `data` as the snapshot file `path`; `done` gets its length and CRC once the
 * file and its name are durable, or the first storage error (then `path` is untouched). Nothing
 * more is issued, and `done` is not called, once `stopped()` (the WAL closed).
 */
export function writeSnapshotFile(
  storage: Storage,
  path: string,
  meta: SnapshotMeta,
  data: Uint8Array,
  stopped: () => boolean,
  done: (result: SnapshotFileWritten | ShoalError) => void,
): void {
  const head = snapshotFileHead(meta, data.length);
  const bytes = head.length + data.length + SNAPSHOT_CRC_BYTES;
  const tmp = `${path}.tmp`;
  // The pieces to write: the head, then the data slice by slice (views, not copies).
  const pieces: { at: number; bytes: Uint8Array }[] = [{ at: 0, bytes: head }];
  for (let at = 0; at < data.length; at += SNAPSHOT_SLICE_BYTES)
    pieces.push({
      at: head.length + at,
      bytes: data.subarray(at, Math.min(data.length, at + SNAPSHOT_SLICE_BYTES)),
    });
  let issued = 0;
  let inFlight = 0;
  let failed: ShoalError | undefined;
  let crc = crc32c(head);
  let checked = 0;

  /** The CRC-32C of the next slice not yet checksummed (at most SNAPSHOT_SLICE_BYTES). */
  const checksumSlice = (): void => {
    const end = Math.min(data.length, checked + SNAPSHOT_SLICE_BYTES);
    crc = crc32c(data, checked, end, crc);
    checked = end;
  };

  const issue = (): void => {
    while (failed === undefined && inFlight < SNAPSHOT_WRITES_IN_FLIGHT && issued < pieces.length) {
      const piece = pieces[issued++] as { at: number; bytes: Uint8Array };
      inFlight++;
      storage.writeAtDurable(tmp, piece.at, piece.bytes, written);
    }
  };

  // One slice is checksummed per completion: there is one more completion (the head's) than
  // data slices, so the CRC is whole when the last write completes.
  const written = (error: ShoalError | undefined): void => {
    if (stopped()) return;
    inFlight--;
    if (error !== undefined && failed === undefined) failed = error;
    if (failed !== undefined) {
      if (inFlight === 0) done(failed);
      return;
    }
    if (checked < data.length) checksumSlice();
    if (issued < pieces.length) return issue();
    if (inFlight > 0) return;
    while (checked < data.length) checksumSlice(); // unreachable: see above
    finish();
  };

  const finish = (): void => {
    storage.writeAtDurable(tmp, bytes - SNAPSHOT_CRC_BYTES, snapshotFileTail(crc), (error) => {
      if (stopped()) return;
      if (error !== undefined) return done(error);
      storage.renameDurable(tmp, path, (renameError) => {
        if (stopped()) return;
        if (renameError !== undefined) return done(renameError);
        done({ bytes, crc });
      });
    });
  };

  storage.createDurable(tmp, bytes, (error) => {
    if (stopped()) return;
    if (error !== undefined) return done(error);
    issue();
  });
}
