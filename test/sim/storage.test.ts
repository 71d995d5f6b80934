import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import { SimStorage } from '../../src/sim/storage.js';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const text = (data: Uint8Array | undefined): number[] | undefined =>
  data === undefined ? undefined : [...data];

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    return hasErrorCode(err, 'ERR_STORAGE_IO') ? 'ERR_STORAGE_IO' : 'other';
  }
  return undefined;
}

describe('SimStorage', () => {
  it('a crash keeps fsynced data and loses the rest', () => {
    const disk = new SimStorage({ rng: new Rng(1) });
    disk.writeFile('synced', bytes(1, 2));
    disk.fsync('synced');
    disk.append('synced', bytes(3)); // after the fsync: lost
    disk.writeFile('unsynced', bytes(9));
    expect(text(disk.read('synced'))).toEqual([1, 2, 3]);
    disk.crash();
    expect(text(disk.read('synced'))).toEqual([1, 2]);
    expect(disk.read('unsynced')).toBeUndefined();
    expect(disk.list('')).toEqual(['synced']);
    expect(disk.counters.bytesLost).toBe(2);
  });

  it('rename is atomic and carries durable contents: renaming unsynced data loses it on crash', () => {
    const disk = new SimStorage({ rng: new Rng(1) });
    disk.writeFile('good.tmp', bytes(1));
    disk.fsync('good.tmp');
    disk.rename('good.tmp', 'good');
    disk.writeFile('bad.tmp', bytes(2));
    disk.rename('bad.tmp', 'bad');
    expect(text(disk.read('bad'))).toEqual([2]);
    disk.crash();
    expect(text(disk.read('good'))).toEqual([1]);
    expect(disk.read('good.tmp')).toBeUndefined();
    expect(disk.read('bad')).toBeUndefined();
    expect(codeOf(() => disk.rename('missing', 'x'))).toBe('ERR_STORAGE_IO');
  });

  it('torn writes keep a seeded prefix of unsynced appends, never more', () => {
    const lengths = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const disk = new SimStorage({ rng: new Rng(seed), tornWrites: true });
      disk.append('log', bytes(1, 2));
      disk.fsync('log');
      disk.append('log', bytes(3, 4, 5, 6));
      disk.crash();
      const after = text(disk.read('log')) ?? [];
      expect(after).toEqual([1, 2, 3, 4, 5, 6].slice(0, after.length));
      expect(after.length).toBeGreaterThanOrEqual(2);
      lengths.add(after.length);
    }
    expect(lengths.size).toBeGreaterThan(2);
  });

  it('rejects bad paths and a full disk with ERR_STORAGE_IO, leaving state unchanged', () => {
    const disk = new SimStorage({ rng: new Rng(1), diskBytesMax: 4 });
    expect(codeOf(() => disk.writeFile('', bytes(1)))).toBe('ERR_STORAGE_IO');
    expect(codeOf(() => disk.writeFile('a\0b', bytes(1)))).toBe('ERR_STORAGE_IO');
    disk.writeFile('f', bytes(1, 2, 3, 4)); // exactly at the limit
    expect(codeOf(() => disk.append('f', bytes(5)))).toBe('ERR_STORAGE_IO');
    expect(text(disk.read('f'))).toEqual([1, 2, 3, 4]);
    disk.remove('f');
    disk.writeFile('g', bytes(1, 2, 3));
    expect(disk.list('')).toEqual(['g']);
  });
});
