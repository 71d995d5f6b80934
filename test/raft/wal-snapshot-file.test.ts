/**
 * Snapshot files written in slices (src/raft/wal/snapshot-file.ts; docs/design/raft-log.md,
 * "Snapshot files"): a file of several slices holds the same bytes as one encoded whole, a crash
 * at any point of its writing leaves the previous snapshot in force, and a damaged byte in any
 * slice is found at boot (the CRC covers every slice).
 */
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { logIndex, term } from '../../src/base/units.js';
import type { RaftPersisted, RaftRecord } from '../../src/raft/log-types.js';
import {
  encodeSnapshotFile,
  snapshotFileSummary,
  snapshotPath,
} from '../../src/raft/wal/format.js';
import { SNAPSHOT_SLICE_BYTES, writeSnapshotFile } from '../../src/raft/wal/snapshot-file.js';
import { SimDisk, appendNow, applyBatch, emptyModel, entries, persistedOf } from './wal-helpers.js';

/** Data of `bytes` bytes, every byte a function of its position (a misplaced slice shows). */
function patterned(bytes: number, salt: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + (i >>> 11) + salt) & 0xff;
  return out;
}

const meta = (index: number) => ({
  index: logIndex(index),
  term: term(1),
  config: new TextEncoder().encode('voters'),
});
const hs = (commit: number): RaftRecord => ({
  kind: 'hard-state',
  hardState: { term: term(1), vote: undefined, commit: logIndex(commit) },
});
const snap = (index: number, data: Uint8Array): RaftRecord => ({
  kind: 'snapshot',
  meta: meta(index),
  data,
});
const ents = (from: number, to: number): RaftRecord => ({
  kind: 'entries',
  entries: entries(from, to, 1),
});

// Two and a half slices, so the data spans a full slice boundary and ends inside one.
const BIG = 2 * SNAPSHOT_SLICE_BYTES + SNAPSHOT_SLICE_BYTES / 2 + 7;

describe('snapshot files written in slices', () => {
  it('hold exactly the bytes of the file encoded whole, with its length and CRC', () => {
    for (const bytes of [0, 1, SNAPSHOT_SLICE_BYTES, BIG]) {
      const disk = new SimDisk(40 + bytes, { tornWrites: false });
      const data = patterned(bytes, 3);
      let result: unknown;
      writeSnapshotFile(
        disk.storage,
        'raft/snap/x.snap',
        meta(9),
        data,
        () => false,
        (r) => {
          result = r;
        },
      );
      disk.settle();
      const whole = encodeSnapshotFile(meta(9), data);
      expect(same(disk.storage.read('raft/snap/x.snap'), whole)).toBe(true);
      expect(disk.storage.read('raft/snap/x.snap.tmp')).toBeUndefined();
      expect(result).toEqual(snapshotFileSummary(meta(9), data));
      expect(result).toEqual({ bytes: whole.length, crc: crc32cTail(whole) });
    }
  });

  it('a WAL batch with a multi-slice snapshot reads back after a power loss', () => {
    const disk = new SimDisk(51, {}, 64 * 1024);
    const { log } = disk.open();
    const data = patterned(BIG, 5);
    const batch = [hs(10), ents(1, 10), snap(10, data)];
    expect(appendNow(disk, log, batch)).toBeUndefined();
    disk.crash();
    expectPersisted(disk.open().persisted, [persistedOf(applyBatch(emptyModel(), batch))]);
  });

  it('a crash at any point while a new snapshot file is written keeps the old snapshot or the new', () => {
    const seen = new Set<number>();
    for (let stop = 0; stop < 12; stop++) {
      const disk = new SimDisk(60 + stop, { tornWrites: true }, 64 * 1024);
      const { log } = disk.open();
      const first = [hs(5), ents(1, 5), snap(5, patterned(1000, 1))];
      expect(appendNow(disk, log, first)).toBeUndefined();
      const second = [hs(10), ents(6, 10), snap(10, patterned(BIG, 2))];
      let acked = false;
      log.append(second, (error) => (acked = error === undefined));
      for (let i = 0; i < stop; i++) disk.run(disk.clock.now() + 1);
      disk.crash();
      const model = applyBatch(emptyModel(), first);
      const booted = disk.open().persisted;
      // An acknowledged batch survives; one not acknowledged may or may not.
      const expected = [persistedOf(applyBatch(model, second))];
      if (!acked) expected.push(persistedOf(model));
      expectPersisted(booted, expected, `stop ${stop}`);
      seen.add(booted.snapshot?.meta.index ?? 0);
      // No temporary file is left behind the boot.
      expect(disk.storage.list('raft/snap/').filter((p) => p.endsWith('.tmp'))).toEqual([]);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([5, 10]); // both ends were reached
  });

  it('a damaged byte in any slice of the file is found at boot', () => {
    for (const at of [0, SNAPSHOT_SLICE_BYTES + 100, BIG - 1]) {
      const disk = new SimDisk(70, { tornWrites: false }, 64 * 1024);
      const { log } = disk.open();
      expect(appendNow(disk, log, [hs(10), ents(1, 10), snap(10, patterned(BIG, 4))])).toBe(
        undefined,
      );
      disk.crash();
      const path = snapshotPath(0);
      const file = disk.storage.read(path);
      expect(file?.length).toBe(encodeSnapshotFile(meta(10), patterned(BIG, 4)).length);
      const headBytes = (file as Uint8Array).length - BIG - 4;
      const damaged = Uint8Array.from(file as Uint8Array);
      damaged[headBytes + at] = (damaged[headBytes + at] as number) ^ 0x10;
      disk.storage.writeFile(path, damaged);
      disk.storage.fsync(path);
      let error: unknown;
      try {
        disk.open();
      } catch (err) {
        error = err;
      }
      expect(hasErrorCode(error, 'ERR_STORAGE_CORRUPT'), `byte ${at}`).toBe(true);
    }
  });
});

/** Byte equality without vitest's element-by-element diff (megabytes). */
function same(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(
    Buffer.from(b.buffer, b.byteOffset, b.length),
  );
}

/** `got` is one of `options`: the snapshot data compared as bytes, the rest deeply. */
function expectPersisted(got: RaftPersisted, options: RaftPersisted[], note = ''): void {
  const strip = (p: RaftPersisted) => ({ ...p, snapshot: p.snapshot?.meta });
  const match = options.some(
    (o) =>
      same(o.snapshot?.data, got.snapshot?.data) &&
      JSON.stringify(strip(o)) === JSON.stringify(strip(got)),
  );
  expect(match, note).toBe(true);
}

function crc32cTail(file: Uint8Array): number {
  return new DataView(file.buffer, file.byteOffset).getUint32(file.length - 4, true);
}
