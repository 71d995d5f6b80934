/**
 * A slower disk for Shoal agents in the benches (issue 13's "fsyncDelayMs 1 and 10"), preloaded
 * into an agent process with `node --import tsx --import bench/lib-slow-disk.ts` (lib-raft-
 * systems.ts sets NODE_OPTIONS): when BENCH_FSYNC_DELAY_MS is a positive integer, every durable
 * operation of FsStorage (a WAL batch's write + fdatasync, a file created, renamed or removed
 * with its directory fsync) reports success that many ms later, exactly what FsStorage's own
 * `fsyncDelayMs` option does. The agent builds its FsStorage with no options and has no setting
 * for the knob, so it is applied here through FsStorage's public Storage methods, each wrapped
 * to delay its `done` callback on success (errors are reported at once, as FsStorage does).
 */
import type { StorageDone } from '../src/base/storage.js';
import { FsStorage } from '../src/node/fs-storage.js';

/** The environment variable the delay comes in (not SHOAL_*: lib-shoal.ts strips those). */
export const FSYNC_DELAY_ENV = 'BENCH_FSYNC_DELAY_MS';

const DURABLE_METHODS = [
  'createDurable',
  'writeAtDurable',
  'renameDurable',
  'removeDurable',
] as const;

/** Wraps FsStorage's durable methods so each completes `delayMs` later; returns how to undo it. */
export function slowDownFsStorage(delayMs: number): () => void {
  if (!Number.isSafeInteger(delayMs) || delayMs <= 0)
    throw new Error(`${FSYNC_DELAY_ENV}: expected a positive integer, got ${delayMs}`);
  const proto = FsStorage.prototype as unknown as Record<string, (...args: unknown[]) => void>;
  const originals = DURABLE_METHODS.map((name) => [name, proto[name]] as const);
  for (const [name, original] of originals) {
    if (typeof original !== 'function') throw new Error(`FsStorage has no method ${name}`);
    proto[name] = function (this: FsStorage, ...args: unknown[]): void {
      const done = args.at(-1) as StorageDone;
      const delayed: StorageDone = (error) => {
        if (error !== undefined) return done(error);
        setTimeout(() => done(undefined), delayMs);
      };
      original.apply(this, [...args.slice(0, -1), delayed]);
    };
  }
  return () => {
    for (const [name, original] of originals) if (original !== undefined) proto[name] = original;
  };
}

const configured = process.env[FSYNC_DELAY_ENV];
if (configured !== undefined && configured !== '' && configured !== '0')
  slowDownFsStorage(Number(configured));
