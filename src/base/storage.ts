/**
 * The durable-storage seam: the few file operations Shoal's drivers need (identity, peer cache,
 * Raft log and snapshots), with an explicit fsync. The simulator's `SimStorage` implements it
 * with a crash model (every byte not fsynced may be lost); a file-system implementation backs it
 * in production. Pure interface: no I/O here.
 *
 * Synchronous on purpose: a persist-before-send step blocks on fsync anyway (Raft §5.1, etcd's
 * `Ready`), and one synchronous code path keeps the simulator's event order identical to
 * production's (no awaits that could interleave differently).
 *
 * Durability contract (what `SimStorage` checks and a real implementation must honour):
 * - `writeFile` and `append` change what `read` returns at once, but survive a crash only after
 *   `fsync(path)`.
 * - `rename` and `remove` are atomic and their directory change is durable at once; `rename`
 *   carries the file's *durable* contents, so write, fsync, then rename (never rename unsynced
 *   data and expect it to survive).
 * - Bad paths and missing files are rejected with ShoalError ERR_STORAGE_IO, never a crash.
 */

export interface Storage {
  /** Replaces the file's contents, creating it if missing. Not durable until `fsync(path)`. */
  writeFile(path: string, data: Uint8Array): void;
  /** Appends to the file, creating it if missing. Not durable until `fsync(path)`. */
  append(path: string, data: Uint8Array): void;
  /** Makes the file's current contents durable (or its absence, if it does not exist). */
  fsync(path: string): void;
  /** A copy of the file's current contents, or undefined when it does not exist. */
  read(path: string): Uint8Array | undefined;
  /** Atomically moves `from` to `to`, replacing `to`. Throws ERR_STORAGE_IO when `from` is missing. */
  rename(from: string, to: string): void;
  /** Removes the file; removing a missing file does nothing. */
  remove(path: string): void;
  /** The paths of existing files that start with `prefix`, sorted. */
  list(prefix: string): string[];
}
