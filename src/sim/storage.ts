/**
 * SimStorage: one simulated node's disk, implementing `Storage` (src/base/storage.ts) with a
 * crash model. Two maps per disk: `live` (what reads see: the page cache) and `durable` (what
 * survives power loss). `fsync(path)` copies live to durable; `crash()` throws live away and
 * keeps durable. With `tornWrites`, a file that grew by appends since its last fsync keeps a
 * seeded random prefix of the unsynced tail (write-back may have flushed part of it): the torn
 * last write that log readers must detect (checksums) rather than trust.
 *
 * Namespace changes (`rename`, `remove`) are atomic and durable at once, and `rename` moves the
 * durable contents with the name, so renaming an unsynced file and crashing leaves an empty
 * target: the ext4 zero-length-file trap, caught here instead of in production.
 */
import { ShoalError } from '../base/errors.js';
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';

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
}

function checkPath(path: string): void {
  if (path.length === 0 || path.length > PATH_LENGTH_MAX || path.includes('\0')) {
    throw new ShoalError('ERR_STORAGE_IO', `storage path ${JSON.stringify(path.slice(0, 80))} must be 1..${PATH_LENGTH_MAX} characters without NUL`);
  }
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > data.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

export class SimStorage implements Storage {
  private readonly live = new Map<string, Uint8Array>();
  private readonly durable = new Map<string, Uint8Array>();
  private liveBytes = 0;
  private readonly rng: Rng;
  private readonly tornWrites: boolean;
  private readonly diskBytesMax: number;
  /** Crashes so far and bytes they lost (for tests and run summaries). */
  readonly counters = { crashes: 0, bytesLost: 0, fsyncs: 0 };

  constructor(options: SimStorageOptions) {
    this.rng = options.rng;
    this.tornWrites = options.tornWrites ?? false;
    this.diskBytesMax = options.diskBytesMax ?? DISK_BYTES_MAX;
  }

  writeFile(path: string, data: Uint8Array): void {
    checkPath(path);
    this.setLive(path, data.slice());
  }

  append(path: string, data: Uint8Array): void {
    checkPath(path);
    const old = this.live.get(path) ?? new Uint8Array(0);
    const next = new Uint8Array(old.length + data.length);
    next.set(old, 0);
    next.set(data, old.length);
    this.setLive(path, next);
  }

  fsync(path: string): void {
    checkPath(path);
    this.counters.fsyncs++;
    const data = this.live.get(path);
    if (data === undefined) this.durable.delete(path);
    else this.durable.set(path, data);
  }

  read(path: string): Uint8Array | undefined {
    checkPath(path);
    return this.live.get(path)?.slice();
  }

  rename(from: string, to: string): void {
    checkPath(from);
    checkPath(to);
    const data = this.live.get(from);
    if (data === undefined) throw new ShoalError('ERR_STORAGE_IO', `cannot rename ${JSON.stringify(from)}: no such file`);
    if (from === to) return;
    this.setLive(to, data);
    this.live.delete(from);
    const durableData = this.durable.get(from);
    this.durable.delete(from);
    if (durableData === undefined) this.durable.delete(to);
    else this.durable.set(to, durableData);
  }

  remove(path: string): void {
    checkPath(path);
    this.liveBytes -= this.live.get(path)?.length ?? 0;
    this.live.delete(path);
    this.durable.delete(path);
  }

  list(prefix: string): string[] {
    return [...this.live.keys()].filter((p) => p.startsWith(prefix)).sort();
  }

  /** Power loss: every byte not fsynced is lost (a torn prefix of unsynced appends may survive). */
  crash(): void {
    this.counters.crashes++;
    for (const [path, data] of [...this.live.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const kept = this.survivorOf(path, data);
      this.counters.bytesLost += data.length - (kept?.length ?? 0);
    }
    this.live.clear();
    this.liveBytes = 0;
    for (const [path, data] of this.durable) this.setLive(path, data);
  }

  /** What of `path` survives a crash; with torn writes, also updates its durable copy. */
  private survivorOf(path: string, data: Uint8Array): Uint8Array | undefined {
    const synced = this.durable.get(path);
    if (!this.tornWrites || synced === undefined || data.length <= synced.length || !startsWith(data, synced)) return synced;
    const keptBytes = synced.length + this.rng.int(data.length - synced.length + 1);
    const torn = data.slice(0, keptBytes);
    this.durable.set(path, torn);
    return torn;
  }

  private setLive(path: string, data: Uint8Array): void {
    const oldBytes = this.live.get(path)?.length ?? 0;
    const nextBytes = this.liveBytes - oldBytes + data.length;
    if (nextBytes > this.diskBytesMax) {
      throw new ShoalError('ERR_STORAGE_IO', `simulated disk full: writing ${JSON.stringify(path)} would use ${nextBytes} bytes, more than diskBytesMax (${this.diskBytesMax})`);
    }
    this.live.set(path, data);
    this.liveBytes = nextBytes;
  }
}
