/**
 * FsStorage's log-file operations (src/base/storage.ts, "Log files") on a real temporary
 * directory: preallocation, positional durable writes through a cached descriptor, durable
 * renames and removals, the boot-time repair write, and bad input refused with ERR_STORAGE_IO.
 * Durability itself (what survives a power cut) is the simulator's to check; here, the effects.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ShoalError } from '../../src/base/errors.js';
import { FsStorage } from '../../src/node/fs-storage.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'shoal-fs-storage-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Runs one asynchronous operation to completion; resolves with its error code, if any. */
function op(
  start: (done: (e: ShoalError | undefined) => void) => void,
): Promise<string | undefined> {
  return new Promise((resolve) => start((e) => resolve(e?.code)));
}

describe('FsStorage log-file operations', () => {
  it('preallocates, writes at offsets through one descriptor, renames and removes durably', async () => {
    const disk = new FsStorage(root);
    expect(await op((d) => disk.createDurable('raft/wal/next.tmp', 3000, d))).toBeUndefined();
    expect(statSync(join(root, 'raft/wal/next.tmp')).size).toBe(3000);
    expect(await op((d) => disk.renameDurable('raft/wal/next.tmp', 'raft/wal/1.seg', d))).toBe(
      undefined,
    );
    const writes = [0, 1, 2].map((i) =>
      op((d) => disk.writeAtDurable('raft/wal/1.seg', 1000 * i + 10, new Uint8Array([i + 1]), d)),
    );
    expect(await Promise.all(writes)).toEqual([undefined, undefined, undefined]);
    const bytes = readFileSync(join(root, 'raft/wal/1.seg'));
    expect([bytes[10], bytes[1010], bytes[2010], bytes.length]).toEqual([1, 2, 3, 3000]);
    disk.closeFile('raft/wal/1.seg');
    expect(
      await op((d) => disk.writeAtDurable('raft/wal/1.seg', 0, new Uint8Array([9]), d)),
    ).toBeUndefined(); // reopened after the close
    disk.writeAt('raft/wal/1.seg', 10, new Uint8Array([0, 0]));
    expect(disk.read('raft/wal/1.seg')?.slice(9, 12)).toEqual(new Uint8Array([0, 0, 0]));
    expect(await op((d) => disk.removeDurable(['raft/wal/1.seg', 'raft/wal/none'], d))).toBe(
      undefined,
    );
    expect(disk.list('raft/wal/')).toEqual([]);
    disk.closeFile('raft/wal/1.seg');
  });

  it('refuses a missing file, an escaping path and a bad fsyncDelayMs with stable codes', async () => {
    const disk = new FsStorage(root, { fsyncDelayMs: 1 });
    expect(await op((d) => disk.writeAtDurable('nope', 0, new Uint8Array([1]), d))).toBe(
      'ERR_STORAGE_IO',
    );
    expect(await op((d) => disk.renameDurable('nope', 'other', d))).toBe('ERR_STORAGE_IO');
    expect(await op((d) => disk.createDurable('../escape', 10, d))).toBe('ERR_STORAGE_IO');
    expect(() => disk.writeAt('nope', 0, new Uint8Array([1]))).toThrow(/cannot write into/);
    expect(await op((d) => disk.createDurable('late', 10, d))).toBeUndefined(); // after the delay
    expect(() => new FsStorage(root, { fsyncDelayMs: -1 })).toThrow(/fsyncDelayMs/);
  });
});
