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
 *
 * `writeDurable` completes on the node's own clock after a seeded delay in
 * [durableWriteDelayMinMs, durableWriteDelayMaxMs]: the write, fsync and rename happen at
 * completion, atomically. A node that crashes first (its timers die with it) loses the write
 * whole, as a real crash before the rename would; a paused node finishes it after the resume.
 */
import { assert } from '../base/assert.js';
import { ShoalError } from '../base/errors.js';
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
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

export class SimStorage implements Storage {
  private readonly live = new Map<string, Uint8Array>();
  private readonly durable = new Map<string, Uint8Array>();
  private liveBytes = 0;
  private readonly rng: Rng;
  private readonly tornWrites: boolean;
  private readonly diskBytesMax: number;
  private readonly clock: Clock | undefined;
  private readonly delayRng: Rng;
  private readonly delayMinMs: number;
  private readonly delayMaxMs: number;
  /** Crashes so far and bytes they lost (for tests and run summaries). */
  readonly counters = { crashes: 0, bytesLost: 0, fsyncs: 0 };

  constructor(options: SimStorageOptions) {
    this.rng = options.rng;
    this.tornWrites = options.tornWrites ?? false;
    this.diskBytesMax = options.diskBytesMax ?? DISK_BYTES_MAX;
    this.clock = options.clock;
    this.delayRng = options.rng.fork('durable-write-delay');
    this.delayMinMs = options.durableWriteDelayMinMs ?? 0;
    this.delayMaxMs = options.durableWriteDelayMaxMs ?? DURABLE_WRITE_DELAY_MAX_MS;
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
    const delayMs = this.delayRng.range(this.delayMinMs, this.delayMaxMs);
    this.clock.setTimer(ms(delayMs), () => {
      try {
        const tmp = `${path}.tmp`;
        this.writeFile(tmp, copy);
        this.fsync(tmp);
        this.rename(tmp, path);
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
    if (data === undefined)
      throw new ShoalError('ERR_STORAGE_IO', `cannot rename ${JSON.stringify(from)}: no such file`);
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
    if (
      !this.tornWrites ||
      synced === undefined ||
      data.length <= synced.length ||
      !startsWith(data, synced)
    )
      return synced;
    const keptBytes = synced.length + this.rng.int(data.length - synced.length + 1);
    const torn = data.slice(0, keptBytes);
    this.durable.set(path, torn);
    return torn;
  }

  private setLive(path: string, data: Uint8Array): void {
    const oldBytes = this.live.get(path)?.length ?? 0;
    const nextBytes = this.liveBytes - oldBytes + data.length;
    if (nextBytes > this.diskBytesMax) {
      throw new ShoalError(
        'ERR_STORAGE_IO',
        `simulated disk full: writing ${JSON.stringify(path)} would use ${nextBytes} bytes, more than diskBytesMax (${this.diskBytesMax})`,
      );
    }
    this.live.set(path, data);
    this.liveBytes = nextBytes;
  }
}
