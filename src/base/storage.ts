/**
 * The durable-storage seam: the few file operations Shoal's drivers need (identity, peer cache,
 * Raft log and snapshots), with an explicit fsync. The simulator's `SimStorage` implements it
 * with a crash model (every byte not fsynced may be lost); a file-system implementation backs it
 * in production. Pure interface: no I/O here.
 *
 * Two kinds of operation. The plain ones are synchronous: boot-time reads, and the simulator's
 * and tests' direct access. `writeDurable` is how a running protocol persists: it never blocks
 * the event loop (a persist in production waits on the disk off the main thread), and its
 * completion comes back as a callback that the generic driver turns into a `persisted` input
 * (src/base/protocol.ts). A callback rather than a Promise, so the simulator can complete it on
 * its virtual clock without microtasks.
 *
 * Durability contract (what `SimStorage` checks and a real implementation must honour):
 * - `writeFile` and `append` change what `read` returns at once, but survive a crash only after
 *   `fsync(path)`.
 * - Names are directory entries: creating a file, `rename` and `remove` are atomic and visible
 *   at once, but survive a crash only after `fsyncDir` of the directory holding the name (POSIX;
 *   ext4 often forgives a missing directory fsync, XFS and btrfs do not). `rename` moves the
 *   file, so its contents are as durable as the file's last `fsync`: write, fsync, rename,
 *   fsync the directory, never rename unsynced data and expect it to survive.
 * - Bad paths and missing files are rejected with ShoalError ERR_STORAGE_IO, never a crash.
 *
 * Log files. A write-ahead log (src/raft/wal/) appends many small batches to a few large files
 * and cannot afford a whole-file replace per batch. Its operations are asynchronous like
 * `writeDurable` (never on the event loop, `done` called once and never synchronously), but they
 * take effect in the page cache when issued and are durable at `done`, so a crash in between
 * leaves what any real disk may leave (a torn write, a rename without its directory fsync):
 * - `createDurable` preallocates a file (zeros written out, file and directory fsynced);
 * - `writeAtDurable` writes inside an existing file and fdatasyncs it: one sync per batch;
 * - `renameDurable` and `removeDurable` change names and fsync the directory;
 * - `writeAt` (synchronous, boot only) repairs a torn tail before the log is used;
 * - `closeFile` lets the storage drop a cached descriptor when the log closes.
 * Operations on different files may run concurrently and finish in any order; a caller orders
 * what must be ordered by waiting for `done`. A sector (512 bytes) is the unit of tearing: a
 * sector already durable is never damaged by a later write of its unchanged bytes (the disk's
 * atomic-sector promise; docs/design/raft-log.md says what the WAL assumes and why).
 */

import type { ShoalError } from './errors.js';

export interface Storage {
  /** Replaces the file's contents, creating it if missing. Not durable until `fsync(path)`. */
  writeFile(path: string, data: Uint8Array): void;
  /** Appends to the file, creating it if missing. Not durable until `fsync(path)`. */
  append(path: string, data: Uint8Array): void;
  /** Makes the file's current contents durable (or its absence, if it does not exist). */
  fsync(path: string): void;
  /** A copy of the file's current contents, or undefined when it does not exist. */
  read(path: string): Uint8Array | undefined;
  /**
   * Makes the directory entries of `dir` durable (names created, renamed or removed in it; `''`
   * is the root). Names in subdirectories are not covered.
   */
  fsyncDir(dir: string): void;
  /** Atomically moves `from` to `to`, replacing `to`. Throws ERR_STORAGE_IO when `from` is missing. */
  rename(from: string, to: string): void;
  /** Removes the file; removing a missing file does nothing. */
  remove(path: string): void;
  /** The paths of existing files that start with `prefix`, sorted. */
  list(prefix: string): string[];
  /**
   * Replaces `path` with `data` durably, without blocking, by the steps of
   * `durableReplaceSteps(path)` (one sequence for every implementation, so the simulator's crash
   * model judges the sequence production runs; a production disk also fsyncs each parent of a
   * directory it had to create, so a first write survives a power cut too). `done` is called once, never synchronously:
   * with undefined when the new contents are durable, or with the ERR_STORAGE_IO error that
   * stopped it (then `path` holds its old contents). A caller that writes one path again waits
   * for the first `done` (the generic driver writes one record at a time).
   */
  writeDurable(path: string, data: Uint8Array, done: (error: ShoalError | undefined) => void): void;

  // ---- log files (a write-ahead log's operations; see "Log files" above) ----

  /**
   * Boot-time repair: overwrites `data.length` bytes of the existing file `path` at byte
   * `offset` (a write past the end grows the file). Synchronous and not durable until
   * `fsync(path)`; for recovery (zeroing a torn tail), never on the hot path.
   */
  writeAt(path: string, offset: number, data: Uint8Array): void;
  /**
   * Creates `path` (replacing it) as `sizeBytes` zero bytes written out (preallocated: later
   * writes inside it allocate nothing), fsyncs it, then fsyncs its directory, so the file and
   * its name survive a crash. Not atomic: a crash before `done` leaves no file, or one of any
   * length and contents; a caller creates under a temporary name and renames.
   */
  createDurable(path: string, sizeBytes: number, done: StorageDone): void;
  /**
   * Writes `data` at byte `offset` of the existing file `path` (inside its length: a log writes
   * into preallocated space) and makes it durable with one fdatasync. The bytes are in the page
   * cache at once and durable at `done`; a crash before that keeps any mix of old and new
   * sectors (a torn write). An fsync that fails may have dropped the written pages: the caller
   * must treat the file as unknown past its last good sync (a WAL stops).
   */
  writeAtDurable(path: string, offset: number, data: Uint8Array, done: StorageDone): void;
  /** Renames `from` over `to` at once, then fsyncs the directory of `to` (and of `from` if it differs). */
  renameDurable(from: string, to: string, done: StorageDone): void;
  /** Removes the files (missing ones are skipped) at once, then fsyncs their directories. */
  removeDurable(paths: readonly string[], done: StorageDone): void;
  /**
   * Releases whatever the storage keeps open for `path` (a cached file descriptor), after the
   * operations in flight on it finish. A later operation on `path` opens it again.
   */
  closeFile(path: string): void;
}

/**
 * Completion of an asynchronous storage operation: called once, never synchronously, with
 * undefined on success or the ERR_STORAGE_IO error that stopped it.
 */
export type StorageDone = (error: ShoalError | undefined) => void;

/** One step of a durable replace; `write` writes the call's data. */
export type DurableStep =
  | { readonly op: 'write'; readonly path: string }
  | { readonly op: 'fsync'; readonly path: string }
  | { readonly op: 'rename'; readonly from: string; readonly to: string }
  | { readonly op: 'fsync-dir'; readonly dir: string };

/** The directory holding `path`'s entry (`''` for the root). */
export function parentDir(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/**
 * How `writeDurable` replaces a file: write a temporary file, fsync it, rename it over the
 * target, fsync the directory so the rename itself is durable. Every step is needed: without
 * the first fsync a crash can leave an empty target, without the last one the old contents
 * (or no file) come back.
 */
export function durableReplaceSteps(path: string): readonly DurableStep[] {
  const tmp = `${path}.tmp`;
  return [
    { op: 'write', path: tmp },
    { op: 'fsync', path: tmp },
    { op: 'rename', from: tmp, to: path },
    { op: 'fsync-dir', dir: parentDir(path) },
  ];
}

/**
 * Reads a file that `writeDurable` replaces, believing only what is durable: a process killed
 * between a replace's rename and its directory fsync reads the new file back, which a power loss
 * would still undo (the node would then act on a term, vote or incarnation that goes back). Its
 * bytes were fsynced before the rename, so an fsync of the directory at load makes the name, and
 * so the file, durable before anything is decided on it (raft-log.md, rule 9). Every store that
 * loads a replaced file reads it through here.
 */
export function readDurable(storage: Storage, path: string): Uint8Array | undefined {
  const bytes = storage.read(path);
  if (bytes !== undefined) storage.fsyncDir(parentDir(path));
  return bytes;
}
