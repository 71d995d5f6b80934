/**
 * SimStorage: one simulated node's disk, implementing `Storage` (src/base/storage.ts) with a
 * crash model. Two maps per disk: `live` (what reads see: the page cache) and `durable` (what
 * survives power loss). `fsync(path)` copies live to durable; `crash()` throws live away and
 * keeps durable. With `tornWrites`, a file that grew by appends since its last fsync keeps a
 * seeded random prefix of the unsynced tail (write-back may have flushed part of it): the torn
 * last write that log readers must detect (checksums) rather than trust.
 *
 * Files are inodes and names are directory entries, as on a real file system: `fsync(path)`
 * makes an inode's contents durable, `fsyncDir(dir)` makes the names in `dir` durable
 * (creations, renames, removals). A crash brings back the durable names, each pointing at its
 * inode's durable contents, so a rename whose directory was never synced undoes itself (the old
 * file comes back) and renaming an unsynced file leaves an empty target (the zero-length-file
 * trap), both caught here instead of in production.
 *
 * With `tornWrites`, what survives of unsynced data is seeded: an inode that grew by appends
 * keeps a random prefix of its unsynced tail; one that was overwritten keeps, per 512-byte
 * sector, the old or the new sector, at the old or the new length (write-back may have flushed
 * any of them). Log readers must detect that (checksums) rather than trust it.
 *
 * `writeDurable` runs the shared `durableReplaceSteps` on the node's own clock after a seeded
 * delay in [durableWriteDelayMinMs, durableWriteDelayMaxMs], atomically at completion. A node
 * that crashes first (its timers die with it) loses the write whole; a paused node finishes it
 * after the resume. Disk faults (`setFaults`) make a durable write slow (fsync latency) or fail:
 * an EIO fsync drops the dirty pages (Linux marks them clean: reads still see the new bytes, the
 * disk never gets them, and a later fsync without new writes reports success), and a full disk
 * fails writes with ENOSPC. Either failure reaches the caller as ERR_STORAGE_IO.
 *
 * The log-file operations (`createDurable`, `writeAtDurable`, `renameDurable`, `removeDurable`)
 * change the page cache when issued and sync at completion, after the same seeded delay and
 * faults: a node that crashes in between keeps a torn write (with `tornWrites`: per sector old or
 * new) or an undone name, which is what a WAL's recovery must survive. A write inside a file's
 * length (preallocated space) never fails with ENOSPC; creating a file can.
 */
import { assert } from '../base/assert.js';
import { ShoalError } from '../base/errors.js';
import type { Rng } from '../base/rng.js';
import { durableReplaceSteps, parentDir, type Storage, type StorageDone } from '../base/storage.js';
import { ms, type Clock } from '../base/time.js';

/** Default capacity of one simulated disk (live bytes); writes past it fail with ERR_STORAGE_IO. */
export const DISK_BYTES_MAX = 256 * 1024 * 1024;

/** Longest accepted path, in UTF-16 code units. */
export const PATH_LENGTH_MAX = 1024;

export interface SimStorageOptions {
  /** The disk's own stream (`nodeRng.fork('storage')`), used only for torn writes. */
  rng: Rng;
  /** Keep a random part of unsynced appends on crash. @defaultValue false */
  tornWrites?: boolean;
  /** @defaultValue DISK_BYTES_MAX */
  diskBytesMax?: number;
  /** The node's clock: `writeDurable` completes on it (and dies with the node). Required for `writeDurable`. */
  clock?: Clock;
  /** Bounds of a durable write's latency, ms. @defaultValue 0 and 2 */
  durableWriteDelayMinMs?: number;
  durableWriteDelayMaxMs?: number;
}

/** A durable write of the simulated disk takes 0..2 ms by default: an SSD's fsync, roughly. */
export const DURABLE_WRITE_DELAY_MAX_MS = 2;

function checkPath(path: string): void {
  if (path.length === 0 || path.length > PATH_LENGTH_MAX || path.includes('\0')) {
    throw new ShoalError(
      'ERR_STORAGE_IO',
      `storage path ${JSON.stringify(path.slice(0, 80))} must be 1..${PATH_LENGTH_MAX} characters without NUL`,
    );
  }
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > data.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/** Size of a disk sector: the unit a torn overwrite mixes old and new contents in. */
export const SECTOR_BYTES = 512;

/** Faults of one disk while they are active, parts per million of durable writes. */
export interface DiskFaults {
  /** A durable write's fsync fails with EIO and drops its dirty pages. */
  eioPpm: number;
  /** A durable write fails with ENOSPC before writing anything. */
  fullPpm: number;
  /** A durable write takes an extra [0, slowMs] ms (fsync latency under load). */
  slowPpm: number;
  slowMs: number;
}

export const NO_DISK_FAULTS: Readonly<DiskFaults> = {
  eioPpm: 0,
  fullPpm: 0,
  slowPpm: 0,
  slowMs: 0,
};

const PPM = 1_000_000;

/** What the fault model drew for one log-file operation. */
interface LogFault {
  delayMs: number;
  full: boolean;
  eio: boolean;
}

interface Inode {
  live: Uint8Array;
  durable: Uint8Array;
  /** An fsync failed since the last write: the live bytes look clean but never reach the disk. */
  pagesLost: boolean;
}

export class SimStorage implements Storage {
  private readonly names = new Map<string, Inode>();
  private readonly durableNames = new Map<string, Inode>();
  private readonly rng: Rng;
  private readonly tornWrites: boolean;
  private readonly diskBytesMax: number;
  private readonly clock: Clock | undefined;
  private readonly delayRng: Rng;
  private readonly faultRng: Rng;
  private readonly delayMinMs: number;
  private readonly delayMaxMs: number;
  private faults: DiskFaults = { ...NO_DISK_FAULTS };
  /** Crashes, bytes they lost, fsyncs, and injected disk faults (for tests and run summaries). */
  readonly counters = {
    crashes: 0,
    bytesLost: 0,
    fsyncs: 0,
    eio: 0,
    full: 0,
    slow: 0,
    wipes: 0,
    /** Log-file operations issued (createDurable, writeAtDurable, renameDurable, removeDurable). */
    logOps: 0,
  };

  constructor(options: SimStorageOptions) {
    this.rng = options.rng;
    this.tornWrites = options.tornWrites ?? false;
    this.diskBytesMax = options.diskBytesMax ?? DISK_BYTES_MAX;
    this.clock = options.clock;
    this.delayRng = options.rng.fork('durable-write-delay');
    this.faultRng = options.rng.fork('disk-faults');
    this.delayMinMs = options.durableWriteDelayMinMs ?? 0;
    this.delayMaxMs = options.durableWriteDelayMaxMs ?? DURABLE_WRITE_DELAY_MAX_MS;
  }

  /** Replaces the disk's fault rates (NO_DISK_FAULTS turns them off). */
  setFaults(faults: Readonly<DiskFaults>): void {
    this.faults = { ...faults };
  }

  writeDurable(
    path: string,
    data: Uint8Array,
    done: (error: ShoalError | undefined) => void,
  ): void {
    assert(
      this.clock !== undefined,
      'SimStorage.writeDurable needs the node clock (SimStorageOptions.clock)',
    );
    const copy = data.slice();
    const fault = this.drawFault(true);
    this.clock.setTimer(ms(fault.delayMs), () => {
      try {
        if (fault.full) {
          this.counters.full++;
          throw new ShoalError(
            'ERR_STORAGE_IO',
            `simulated ENOSPC writing ${JSON.stringify(path)}`,
          );
        }
        for (const step of durableReplaceSteps(path)) {
          if (step.op === 'write') this.writeFile(step.path, copy);
          else if (step.op === 'fsync') this.syncOrFail(step.path, fault.eio);
          else if (step.op === 'rename') this.rename(step.from, step.to);
          else this.fsyncDir(step.dir);
        }
      } catch (err) {
        return done(
          err instanceof ShoalError ? err : new ShoalError('ERR_STORAGE_IO', String(err)),
        );
      }
      done(undefined);
    });
  }

  writeFile(path: string, data: Uint8Array): void {
    checkPath(path);
    this.setLive(path, data.slice());
  }

  writeAt(path: string, offset: number, data: Uint8Array): void {
    checkPath(path);
    const old = this.names.get(path)?.live;
    if (old === undefined)
      throw new ShoalError(
        'ERR_STORAGE_IO',
        `cannot write into ${JSON.stringify(path)}: no such file`,
      );
    assert(Number.isSafeInteger(offset) && offset >= 0, `writeAt offset ${offset}`);
    const next = new Uint8Array(Math.max(old.length, offset + data.length));
    next.set(old, 0);
    next.set(data, offset);
    this.setLive(path, next);
  }

  createDurable(path: string, sizeBytes: number, done: StorageDone): void {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, `createDurable size ${sizeBytes}`);
    const fault = this.drawFault(true);
    this.issue(done, fault, `create ${JSON.stringify(path)}`, () => {
      this.writeFile(path, new Uint8Array(sizeBytes));
      return () => {
        this.syncOrFail(path, fault.eio);
        this.fsyncDir(parentDir(path));
      };
    });
  }

  writeAtDurable(path: string, offset: number, data: Uint8Array, done: StorageDone): void {
    const fault = this.drawFault(false);
    this.issue(done, fault, `write ${JSON.stringify(path)}`, () => {
      const length = this.names.get(path)?.live.length;
      if (length !== undefined && offset + data.length > length)
        throw new ShoalError(
          'ERR_STORAGE_IO',
          `write of ${data.length} bytes at ${offset} runs past the end of ${JSON.stringify(path)} (${length} bytes)`,
        );
      this.writeAt(path, offset, data);
      return () => this.syncOrFail(path, fault.eio);
    });
  }

  renameDurable(from: string, to: string, done: StorageDone): void {
    this.issue(done, this.drawFault(false), `rename ${JSON.stringify(from)}`, () => {
      this.rename(from, to);
      return () => {
        this.fsyncDir(parentDir(to));
        if (parentDir(from) !== parentDir(to)) this.fsyncDir(parentDir(from));
      };
    });
  }

  removeDurable(paths: readonly string[], done: StorageDone): void {
    this.issue(done, this.drawFault(false), `remove ${paths.length} files`, () => {
      for (const path of paths) this.remove(path);
      return () => {
        for (const dir of new Set(paths.map(parentDir))) this.fsyncDir(dir);
      };
    });
  }

  /** Nothing is cached: every simulated operation works on the inode table directly. */
  closeFile(path: string): void {
    checkPath(path);
  }

  /**
   * Runs a log-file operation: `start` changes the page cache now and returns the sync to run at
   * completion, after the seeded delay on the node's clock (a crash in between loses the sync).
   */
  private issue(done: StorageDone, fault: LogFault, what: string, start: () => () => void): void {
    assert(this.clock !== undefined, 'SimStorage log operations need the node clock');
    this.counters.logOps++;
    let sync: (() => void) | undefined;
    let failure: ShoalError | undefined;
    try {
      if (fault.full) {
        this.counters.full++;
        throw new ShoalError('ERR_STORAGE_IO', `simulated ENOSPC: ${what}`);
      }
      sync = start();
    } catch (err) {
      failure = err instanceof ShoalError ? err : new ShoalError('ERR_STORAGE_IO', String(err));
    }
    this.clock.setTimer(ms(fault.delayMs), () => {
      if (failure !== undefined) return done(failure);
      try {
        sync?.();
      } catch (err) {
        return done(
          err instanceof ShoalError ? err : new ShoalError('ERR_STORAGE_IO', String(err)),
        );
      }
      done(undefined);
    });
  }

  /** The delay and faults of one operation; `allocates`: it may fail with ENOSPC. */
  private drawFault(allocates: boolean): LogFault {
    let delayMs = this.delayRng.range(this.delayMinMs, this.delayMaxMs);
    const { eioPpm, fullPpm, slowPpm, slowMs } = this.faults;
    if (slowPpm > 0 && this.faultRng.chance(slowPpm, PPM)) {
      this.counters.slow++;
      delayMs += this.faultRng.range(0, slowMs);
    }
    const full = allocates && fullPpm > 0 && this.faultRng.chance(fullPpm, PPM);
    const eio = !full && eioPpm > 0 && this.faultRng.chance(eioPpm, PPM);
    return { delayMs, full, eio };
  }

  /** fsync, or an EIO that drops the dirty pages of `path` (Linux marks them clean). */
  private syncOrFail(path: string, eio: boolean): void {
    if (!eio) return this.fsync(path);
    this.failFsync(path);
    throw new ShoalError('ERR_STORAGE_IO', `simulated EIO on fsync of ${JSON.stringify(path)}`);
  }

  append(path: string, data: Uint8Array): void {
    checkPath(path);
    const old = this.names.get(path)?.live ?? new Uint8Array(0);
    const next = new Uint8Array(old.length + data.length);
    next.set(old, 0);
    next.set(data, old.length);
    this.setLive(path, next);
  }

  fsync(path: string): void {
    checkPath(path);
    this.counters.fsyncs++;
    const inode = this.names.get(path);
    // As on a real disk (and FsStorage): fsync of a missing file syncs its directory.
    if (inode === undefined) return this.fsyncDir(parentDir(path));
    if (!inode.pagesLost) inode.durable = inode.live;
  }

  fsyncDir(dir: string): void {
    this.counters.fsyncs++;
    const inDir = (name: string): boolean => parentDir(name) === dir;
    for (const name of [...this.durableNames.keys()])
      if (inDir(name) && !this.names.has(name)) this.durableNames.delete(name);
    for (const [name, inode] of this.names) if (inDir(name)) this.durableNames.set(name, inode);
  }

  read(path: string): Uint8Array | undefined {
    checkPath(path);
    return this.names.get(path)?.live.slice();
  }

  rename(from: string, to: string): void {
    checkPath(from);
    checkPath(to);
    const inode = this.names.get(from);
    if (inode === undefined)
      throw new ShoalError('ERR_STORAGE_IO', `cannot rename ${JSON.stringify(from)}: no such file`);
    if (from === to) return;
    this.names.set(to, inode);
    this.names.delete(from);
  }

  remove(path: string): void {
    checkPath(path);
    this.names.delete(path);
  }

  list(prefix: string): string[] {
    return [...this.names.keys()].filter((p) => p.startsWith(prefix)).sort();
  }

  /** The whole disk is gone (amnesia: a wiped or replaced data dir): nothing survives. */
  wipe(): void {
    this.counters.wipes++;
    this.names.clear();
    this.durableNames.clear();
  }

  /** Power loss: the durable names come back with their inodes' durable contents (torn, with `tornWrites`). */
  crash(): void {
    this.counters.crashes++;
    const survivors = new Map<Inode, Uint8Array>();
    const names = [...this.durableNames.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [, inode] of names)
      if (!survivors.has(inode)) survivors.set(inode, this.survivorOf(inode));
    for (const inode of new Set(this.names.values()))
      this.counters.bytesLost += Math.max(
        0,
        inode.live.length - (survivors.get(inode)?.length ?? 0),
      );
    this.names.clear();
    for (const [name, inode] of names) {
      const kept = survivors.get(inode) as Uint8Array;
      inode.live = kept;
      inode.durable = kept;
      inode.pagesLost = false;
      this.names.set(name, inode);
    }
  }

  /** The bytes of `inode` that survive a crash. */
  private survivorOf(inode: Inode): Uint8Array {
    const { live, durable } = inode;
    if (!this.tornWrites || inode.pagesLost || sameBytes(live, durable)) return durable;
    if (live.length > durable.length && startsWith(live, durable))
      return live.slice(0, durable.length + this.rng.int(live.length - durable.length + 1));
    // An overwrite: each sector old or new, at the old or the new length.
    const length = this.rng.chance(1, 2) ? live.length : durable.length;
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += SECTOR_BYTES) {
      const source = this.rng.chance(1, 2) ? live : durable;
      const end = Math.min(length, at + SECTOR_BYTES);
      for (let i = at; i < end; i++) out[i] = source[i] ?? 0;
    }
    return out;
  }

  /** An fsync that failed: the dirty pages are marked clean without reaching the disk. */
  private failFsync(path: string): void {
    this.counters.eio++;
    const inode = this.names.get(path);
    if (inode !== undefined) inode.pagesLost = true;
  }

  private setLive(path: string, data: Uint8Array): void {
    const inode = this.names.get(path);
    let used = 0;
    for (const other of new Set(this.names.values()))
      if (other !== inode) used += other.live.length;
    if (used + data.length > this.diskBytesMax) {
      throw new ShoalError(
        'ERR_STORAGE_IO',
        `simulated disk full: writing ${JSON.stringify(path)} would use ${used + data.length} bytes, more than diskBytesMax (${this.diskBytesMax})`,
      );
    }
    if (inode === undefined) {
      this.names.set(path, { live: data, durable: new Uint8Array(0), pagesLost: false });
      return;
    }
    inode.live = data;
    inode.pagesLost = false;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && startsWith(a, b);
}
