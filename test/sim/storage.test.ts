import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import { SimClock } from '../../src/sim/clock.js';
import { NO_DISK_FAULTS, SECTOR_BYTES, SimStorage } from '../../src/sim/storage.js';

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
    disk.fsyncDir('');
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
    disk.fsyncDir('');
    expect(text(disk.read('bad'))).toEqual([2]);
    disk.crash();
    expect(text(disk.read('good'))).toEqual([1]);
    expect(disk.read('good.tmp')).toBeUndefined();
    expect(text(disk.read('bad'))).toEqual([]); // the name survived, the data never did
    expect(codeOf(() => disk.rename('missing', 'x'))).toBe('ERR_STORAGE_IO');
  });

  it('torn writes keep a seeded prefix of unsynced appends, never more', () => {
    const lengths = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const disk = new SimStorage({ rng: new Rng(seed), tornWrites: true });
      disk.append('log', bytes(1, 2));
      disk.fsync('log');
      disk.fsyncDir('');
      disk.append('log', bytes(3, 4, 5, 6));
      disk.crash();
      const after = text(disk.read('log')) ?? [];
      expect(after).toEqual([1, 2, 3, 4, 5, 6].slice(0, after.length));
      expect(after.length).toBeGreaterThanOrEqual(2);
      lengths.add(after.length);
    }
    expect(lengths.size).toBeGreaterThan(2);
  });

  it('a name is durable only once its directory is synced: an unsynced rename undoes itself', () => {
    const disk = new SimStorage({ rng: new Rng(1) });
    disk.writeFile('d/f', bytes(1));
    disk.fsync('d/f');
    disk.crash();
    expect(disk.read('d/f')).toBeUndefined(); // created, never named durably
    disk.writeFile('d/f', bytes(1));
    disk.fsync('d/f');
    disk.fsyncDir('d');
    disk.writeFile('d/f.tmp', bytes(2));
    disk.fsync('d/f.tmp');
    disk.rename('d/f.tmp', 'd/f');
    disk.fsyncDir(''); // another directory: does not cover d/
    expect(text(disk.read('d/f'))).toEqual([2]);
    disk.crash();
    expect(text(disk.read('d/f'))).toEqual([1]);
    expect(disk.list('d/')).toEqual(['d/f']);
    disk.remove('d/f');
    disk.crash();
    expect(text(disk.read('d/f'))).toEqual([1]); // an unsynced remove comes back too
  });

  it('torn overwrites mix old and new sectors at the old or the new length', () => {
    const oldBytes = new Uint8Array(3 * SECTOR_BYTES).fill(1);
    const newBytes = new Uint8Array(2 * SECTOR_BYTES).fill(2);
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const disk = new SimStorage({ rng: new Rng(seed), tornWrites: true });
      disk.writeFile('f', oldBytes);
      disk.fsync('f');
      disk.fsyncDir('');
      disk.writeFile('f', newBytes);
      disk.crash();
      const after = disk.read('f') ?? new Uint8Array(0);
      expect([oldBytes.length, newBytes.length]).toContain(after.length);
      const sectors: number[] = [];
      for (let at = 0; at < after.length; at += SECTOR_BYTES) {
        const sector = after.slice(at, at + SECTOR_BYTES);
        const value = sector[0] as number;
        expect(sector.every((b) => b === value)).toBe(true);
        expect(value === 1 || (value === 2 && at < newBytes.length) || value === 0).toBe(true);
        sectors.push(value);
      }
      outcomes.add(sectors.join(''));
    }
    expect(outcomes.size).toBeGreaterThan(4);
  });

  it('an EIO fsync drops the dirty pages: reads see them, a crash loses them, writeDurable reports it', () => {
    const clock = new SimClock();
    const disk = new SimStorage({ rng: new Rng(1), clock: clock.nodeClock('n1') });
    const results: (string | undefined)[] = [];
    disk.writeDurable('f', bytes(1), (e) => results.push(e?.code));
    clock.runUntil(100, { eventsMax: 1000 });
    disk.setFaults({ ...NO_DISK_FAULTS, eioPpm: 1_000_000 });
    disk.writeDurable('f', bytes(2), (e) => results.push(e?.code));
    clock.runUntil(200, { eventsMax: 1000 });
    expect(results).toEqual([undefined, 'ERR_STORAGE_IO']);
    expect(text(disk.read('f'))).toEqual([1]); // the rename never ran
    expect(text(disk.read('f.tmp'))).toEqual([2]); // page cache still shows it
    disk.fsync('f.tmp'); // reports success, writes nothing: the pages look clean
    disk.fsyncDir('');
    disk.crash();
    expect(text(disk.read('f.tmp'))).toEqual([]);
    expect(text(disk.read('f'))).toEqual([1]);
    disk.setFaults({ ...NO_DISK_FAULTS, fullPpm: 1_000_000 });
    disk.writeDurable('f', bytes(3), (e) => results.push(e?.message));
    clock.runUntil(300, { eventsMax: 1000 });
    expect(results[2]).toMatch(/ENOSPC/);
    expect(disk.counters).toMatchObject({ eio: 1, full: 1 });
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

  describe('log-file operations', () => {
    function disk(seed = 1, tornWrites = false) {
      const clock = new SimClock();
      const storage = new SimStorage({
        rng: new Rng(seed),
        clock: clock.nodeClock('n1'),
        tornWrites,
        durableWriteDelayMinMs: 2,
        durableWriteDelayMaxMs: 2,
      });
      const results: (string | undefined)[] = [];
      const done = (e: { code: string } | undefined): void => void results.push(e?.code);
      const run = (toMs: number): void => void clock.runUntil(toMs, { eventsMax: 1000 });
      // A crash kills the node's timers too: an operation in flight never completes.
      const crash = (): void => {
        clock.killOwner('n1');
        storage.crash();
      };
      return { storage, results, done, run, crash };
    }

    it('createDurable preallocates zeros and makes file and name durable only at completion', () => {
      const d = disk();
      d.storage.createDurable('wal/a.seg', 1000, d.done);
      expect(d.storage.read('wal/a.seg')?.length).toBe(1000);
      d.crash(); // before completion: nothing survives
      expect(d.storage.read('wal/a.seg')).toBeUndefined();
      d.storage.createDurable('wal/a.seg', 1000, d.done);
      d.run(10);
      expect(d.results).toEqual([undefined]); // the first one died with the crash
      d.crash();
      expect(d.storage.read('wal/a.seg')).toEqual(new Uint8Array(1000));
    });

    it('writeAtDurable shows the bytes at once and keeps them across a crash only after done', () => {
      const d = disk();
      d.storage.createDurable('f', 8, d.done);
      d.run(5);
      d.storage.writeAtDurable('f', 2, bytes(7, 7), d.done);
      expect(text(d.storage.read('f'))).toEqual([0, 0, 7, 7, 0, 0, 0, 0]);
      d.run(10);
      d.storage.writeAtDurable('f', 4, bytes(9), d.done);
      d.crash();
      expect(text(d.storage.read('f'))).toEqual([0, 0, 7, 7, 0, 0, 0, 0]);
      expect(d.results).toEqual([undefined, undefined]);
      d.storage.writeAtDurable('f', 7, bytes(1, 2), d.done);
      d.run(100);
      expect(d.results[2]).toBe('ERR_STORAGE_IO'); // past the end of the file
    });

    it('a write torn by a crash keeps, per sector, the old or the new bytes', () => {
      const outcomes = new Set<string>();
      for (let seed = 0; seed < 40; seed++) {
        const d = disk(seed, true);
        d.storage.createDurable('f', 4 * SECTOR_BYTES, d.done);
        d.run(5);
        d.storage.writeAtDurable('f', 0, new Uint8Array(4 * SECTOR_BYTES).fill(5), d.done);
        d.crash();
        const after = d.storage.read('f') ?? new Uint8Array();
        expect(after.length).toBe(4 * SECTOR_BYTES);
        const sectors: number[] = [];
        for (let at = 0; at < after.length; at += SECTOR_BYTES) {
          const sector = after.slice(at, at + SECTOR_BYTES);
          expect(sector.every((b) => b === sector[0])).toBe(true);
          sectors.push(sector[0] as number);
        }
        outcomes.add(sectors.join(''));
      }
      expect(outcomes.size).toBeGreaterThan(4);
    });

    it('renameDurable and removeDurable change names at once and keep them only after done', () => {
      const d = disk();
      d.storage.createDurable('w/next.tmp', 4, d.done);
      d.run(5);
      d.storage.renameDurable('w/next.tmp', 'w/1.seg', d.done);
      expect(d.storage.list('w/')).toEqual(['w/1.seg']);
      d.crash();
      expect(d.storage.list('w/')).toEqual(['w/next.tmp']); // the rename undid itself
      d.storage.renameDurable('w/next.tmp', 'w/1.seg', d.done);
      d.run(20);
      d.storage.removeDurable(['w/1.seg', 'w/missing'], d.done);
      expect(d.storage.list('w/')).toEqual([]);
      d.crash();
      expect(d.storage.list('w/')).toEqual(['w/1.seg']);
      d.storage.removeDurable(['w/1.seg'], d.done);
      d.run(40);
      d.crash();
      expect(d.storage.list('w/')).toEqual([]);
      expect(d.results).toEqual([undefined, undefined, undefined]);
    });

    it('faults: EIO drops the written pages, ENOSPC fails a creation but never a write inside a file', () => {
      const d = disk();
      d.storage.createDurable('f', 4, d.done);
      d.run(5);
      d.storage.setFaults({ ...NO_DISK_FAULTS, fullPpm: 1_000_000 });
      d.storage.writeAtDurable('f', 0, bytes(1), d.done);
      d.storage.createDurable('g', 4, d.done);
      d.run(10);
      expect(d.results).toEqual([undefined, undefined, 'ERR_STORAGE_IO']);
      expect(d.storage.read('g')).toBeUndefined();
      d.storage.setFaults({ ...NO_DISK_FAULTS, eioPpm: 1_000_000 });
      d.storage.writeAtDurable('f', 1, bytes(2), d.done);
      d.run(20);
      expect(d.results[3]).toBe('ERR_STORAGE_IO');
      expect(text(d.storage.read('f'))).toEqual([1, 2, 0, 0]); // the page cache shows it
      d.crash();
      expect(text(d.storage.read('f'))).toEqual([1, 0, 0, 0]); // the disk never got it
      expect(d.storage.counters).toMatchObject({ eio: 1, full: 1, logOps: 4 });
    });
  });
});
