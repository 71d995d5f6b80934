/**
 * The WAL (src/raft/wal/): its bytes (CRC-32C, records, batches, names, snapshot files), what it
 * reads back after a clean stop, rotation, truncation semantics (Raft §5.3), snapshots and
 * compaction (Raft §7), torn tails dropped, damage elsewhere refused with ERR_STORAGE_CORRUPT,
 * and the core's contract enforced. Random crashes are in wal-crash.test.ts, real files in
 * wal-files.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import { logIndex, term } from '../../src/base/units.js';
import type { RaftRecord } from '../../src/raft/log-types.js';
import { crc32c } from '../../src/raft/wal/crc32c.js';
import {
  BATCH_OVERHEAD_BYTES,
  ENTRIES_RECORD_BYTES_MAX,
  decodeSnapshotFile,
  encodeBatch,
  encodeSnapshotFile,
  entriesRecords,
  parseSegmentPath,
  readBatch,
  segmentPath,
  type WalRecord,
} from '../../src/raft/wal/format.js';
import { validateWalOptions } from '../../src/raft/wal/options.js';
import { NO_DISK_FAULTS } from '../../src/sim/storage.js';
import {
  SimDisk,
  VOTES,
  appendNow,
  applyBatch,
  emptyModel,
  entries,
  persistedOf,
  randomBatch,
  type Model,
} from './wal-helpers.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function corruptMessage(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(hasErrorCode(err, 'ERR_STORAGE_CORRUPT')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected ERR_STORAGE_CORRUPT');
}

describe('CRC-32C', () => {
  it('matches the RFC 3720 (iSCSI) check values, in one call or continued', () => {
    const digits = text('123456789');
    expect(crc32c(digits)).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(digits, 4, 9, crc32c(digits, 0, 4))).toBe(0xe3069283);
  });
});

const recordArb: fc.Arbitrary<WalRecord> = fc.oneof(
  fc
    .record({
      t: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      commit: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      vote: fc.option(fc.constantFrom(...VOTES), { nil: undefined }),
    })
    .map(({ t, commit, vote }) => ({
      kind: 'hard-state' as const,
      hardState: { term: term(t), commit: logIndex(commit), vote },
    })),
  fc
    .record({
      first: fc.integer({ min: 1, max: 2 ** 40 }),
      list: fc.array(
        fc.record({
          t: fc.nat({ max: 2 ** 40 }),
          kind: fc.constantFrom('normal' as const, 'config' as const, 'noop' as const),
          data: fc.uint8Array({ maxLength: 64 }),
        }),
        { minLength: 1, maxLength: 5 },
      ),
    })
    .map(({ first, list }) => ({
      kind: 'entries' as const,
      entries: list.map((e, i) => ({
        index: logIndex(first + i),
        term: term(e.t),
        kind: e.kind,
        data: e.data,
      })),
    })),
  fc
    .record({
      index: fc.nat({ max: 2 ** 40 }),
      t: fc.nat({ max: 2 ** 40 }),
      config: fc.uint8Array({ maxLength: 30 }),
      fileSeq: fc.nat({ max: 2 ** 40 }),
      reset: fc.boolean(),
      fileBytes: fc.nat({ max: 2 ** 40 }),
      fileCrc: fc.nat({ max: 0xffffffff }),
    })
    .map(({ index, t, config, fileSeq, reset, fileBytes, fileCrc }) => ({
      kind: 'snapshot' as const,
      marker: {
        meta: { index: logIndex(index), term: term(t), config },
        fileSeq,
        reset,
        fileBytes,
        fileCrc,
      },
    })),
);

describe('WAL format', () => {
  it('a batch reads back as its records, at its length (property)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.array(recordArb, { maxLength: 6 }),
        (seq, records) => {
          const bytes = encodeBatch(seq, records);
          const padded = new Uint8Array(bytes.length + 16);
          padded.set(bytes, 3);
          const read = readBatch(padded, 3, padded.length);
          expect(read).toEqual({ kind: 'batch', seq, records, end: 3 + bytes.length });
        },
      ),
      { seed: 1301, numRuns: 300 },
    );
  });

  it('a batch with any one bit flipped, or cut short anywhere, is never read as a batch (property)', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.nat({ max: 7 }),
        (records, at, bit) => {
          const bytes = encodeBatch(7, records);
          const flipped = bytes.slice();
          flipped[at % bytes.length] = (flipped[at % bytes.length] as number) ^ (1 << bit);
          expect(readBatch(flipped, 0, flipped.length).kind).not.toBe('batch');
          const cut = bytes.slice(0, at % bytes.length);
          expect(readBatch(cut, 0, cut.length).kind).not.toBe('batch');
        },
      ),
      { seed: 1302, numRuns: 400 },
    );
  });

  it('zeros read as the clean end; a batch of another format version is foreign', () => {
    expect(readBatch(new Uint8Array(64), 0, 64)).toEqual({ kind: 'zero' });
    const bytes = encodeBatch(1, []);
    bytes[5] = 9; // the version byte, then fix the BEGIN record's CRC
    const crc = crc32c(bytes, 0, 22);
    bytes.set([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24], 22);
    expect(readBatch(bytes, 0, bytes.length)).toEqual({ kind: 'foreign', version: 9 });
    expect(BATCH_OVERHEAD_BYTES).toBe(bytes.length);
  });

  it('splits long runs of entries into records of at most ENTRIES_RECORD_BYTES_MAX', () => {
    const big = entries(1, 40, 1).map((e) => ({ ...e, data: new Uint8Array(100_000) }));
    const records = entriesRecords(big);
    expect(records.length).toBe(4); // 10 entries of 100,013 bytes per record
    expect(records.flatMap((r) => (r.kind === 'entries' ? r.entries : []))).toEqual(big);
    const huge = entriesRecords([
      { ...(big[0] as (typeof big)[number]), data: new Uint8Array(ENTRIES_RECORD_BYTES_MAX + 1) },
    ]);
    expect(huge.length).toBe(1);
  });

  it('names segments by sequence and first index, and snapshot files round-trip', () => {
    expect(segmentPath(2, logIndex(255))).toBe('raft/wal/0000000000000002-00000000000000ff.seg');
    expect(parseSegmentPath('raft/wal/0000000000000002-00000000000000ff.seg')).toEqual({
      seq: 2,
      firstIndex: 255,
    });
    expect(parseSegmentPath('raft/wal/00000000000002-00000000000000ff.seg')).toBeUndefined();
    expect(parseSegmentPath('raft/wal/ffffffffffffffff-0000000000000001.seg')).toBeUndefined();
    const meta = { index: logIndex(9), term: term(3), config: text('cfg') };
    const file = encodeSnapshotFile(meta, text('state'));
    expect(decodeSnapshotFile(file)).toEqual({ meta, data: text('state') });
    file[file.length - 6] = (file[file.length - 6] as number) ^ 1;
    expect(decodeSnapshotFile(file)).toBe('fails its CRC-32C');
  });

  it('validates segmentBytes at, below and above its limits', () => {
    expect(validateWalOptions({})).toEqual({ segmentBytes: 64 * 1024 * 1024 });
    expect(validateWalOptions({ segmentBytes: 4096 })).toEqual({ segmentBytes: 4096 });
    expect(() => validateWalOptions({ segmentBytes: 4095 })).toThrow(/segmentBytes \(4095\)/);
    expect(() => validateWalOptions({ segmentBytes: 2 ** 30 + 1 })).toThrow(/segmentBytes/);
  });
});

/** Runs batches through a WAL on `disk`, each acknowledged before the next; returns the model. */
function writeAll(disk: SimDisk, batches: readonly RaftRecord[][], model = emptyModel()): Model {
  const { log } = disk.open();
  let state = model;
  for (const batch of batches) {
    expect(appendNow(disk, log, batch)).toBeUndefined();
    state = applyBatch(state, batch);
  }
  log.close();
  return state;
}

const hs = (t: number, commit = 0, vote = VOTES[0]): RaftRecord => ({
  kind: 'hard-state',
  hardState: { term: term(t), vote, commit: logIndex(commit) },
});
const ents = (from: number, to: number, t: number, padBytes = 0): RaftRecord => ({
  kind: 'entries',
  entries: entries(from, to, t, padBytes),
});
const snap = (index: number, t: number, data = 'snapshot'): RaftRecord => ({
  kind: 'snapshot',
  meta: { index: logIndex(index), term: term(t), config: text('voters') },
  data: text(data),
});

describe('WAL on a simulated disk', () => {
  it('reads back what it wrote, across rotations and reopenings', () => {
    const disk = new SimDisk(1);
    const rng = new Rng(5);
    let model = emptyModel();
    for (let life = 0; life < 3; life++) {
      const batches: RaftRecord[][] = [];
      let next = model;
      for (let i = 0; i < 40; i++) {
        const batch = randomBatch(rng, next, { snapshots: false });
        batches.push(batch);
        next = applyBatch(next, batch);
      }
      model = writeAll(disk, batches, model);
      disk.crash(); // everything was acknowledged: nothing may be lost
      expect(disk.open().persisted).toEqual(persistedOf(model));
    }
    expect(disk.storage.list('raft/wal/').filter((p) => p.endsWith('.seg')).length).toBeGreaterThan(
      3,
    );
  });

  it('an entry at an existing index replaces that suffix (Raft §5.3)', () => {
    const disk = new SimDisk(2);
    writeAll(disk, [
      [hs(1), ents(1, 10, 1)],
      [hs(2), ents(6, 7, 2)],
    ]);
    const { persisted } = disk.open();
    expect(persisted.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
      [5, 1],
      [6, 2],
      [7, 2],
    ]);
    expect(persisted.hardState).toEqual({ term: 2, vote: VOTES[0], commit: 0 });
  });

  it('a snapshot keeps the newest file only and compacts the segments it covers (Raft §7)', () => {
    const disk = new SimDisk(3);
    const batches: RaftRecord[][] = [[hs(1)]];
    for (let i = 0; i < 30; i++) batches.push([ents(10 * i + 1, 10 * i + 10, 1, 100)]);
    const segmentsBefore = (): string[] =>
      disk.storage.list('raft/wal/').filter((p) => p.endsWith('.seg'));
    writeAll(disk, batches);
    const before = segmentsBefore().length;
    expect(before).toBeGreaterThan(4);
    writeAll(disk, [[snap(150, 1, 'first')], [snap(280, 1, 'second')], [ents(301, 305, 1)]]);
    expect(disk.storage.list('raft/snap/')).toHaveLength(1);
    expect(segmentsBefore().length).toBeLessThan(before);
    disk.crash();
    const { persisted, notes } = disk.open();
    expect(notes).toEqual([]);
    expect(persisted.snapshot?.meta.index).toBe(280);
    expect(new TextDecoder().decode(persisted.snapshot?.data)).toBe('second');
    expect(persisted.entries.map((e) => e.index)).toEqual(
      Array.from({ length: 25 }, (_, i) => 281 + i),
    );
  });

  it('a snapshot whose index holds another term, or none, discards the whole log (Raft §7)', () => {
    const disk = new SimDisk(4);
    writeAll(disk, [[hs(1), ents(1, 10, 1)], [snap(8, 2)], [ents(9, 9, 2)], [snap(20, 3)]]);
    const { persisted } = disk.open();
    expect(persisted.snapshot?.meta).toMatchObject({ index: 20, term: 3 });
    expect(persisted.entries).toEqual([]);
    const again = new SimDisk(5);
    writeAll(again, [[hs(1), ents(1, 10, 1)], [snap(8, 1)]]);
    expect(again.open().persisted.entries.map((e) => e.index)).toEqual([9, 10]);
  });

  it('refuses to take records that break the core contract (an entries gap)', () => {
    const disk = new SimDisk(6);
    const { log } = disk.open();
    expect(appendNow(disk, log, [ents(1, 3, 1)])).toBeUndefined();
    expect(() => log.append([ents(5, 6, 1)], () => undefined)).toThrow(
      /Raft log contract broken: entries start at 5, past the log's end at 3/,
    );
  });

  it('fails a batch whose sync fails, and every later append is a programmer error', () => {
    const disk = new SimDisk(7);
    const { log } = disk.open();
    expect(appendNow(disk, log, [hs(1)])).toBeUndefined();
    disk.storage.setFaults({ ...NO_DISK_FAULTS, eioPpm: 1_000_000 });
    expect(appendNow(disk, log, [hs(2)])).toBe('ERR_STORAGE_IO');
    expect(() => log.append([hs(3)], () => undefined)).toThrow(/after a failed write/);
    disk.crash();
    disk.storage.setFaults(NO_DISK_FAULTS);
    expect(disk.open().persisted.hardState.term).toBe(1);
  });

  it('drops a torn tail, counts it and says so; the log goes on from there', () => {
    const disk = new SimDisk(8, { tornWrites: false }); // the test tears the batch itself
    writeAll(disk, [[hs(1), ents(1, 5, 1)]]);
    const { log } = disk.open();
    log.append([ents(6, 40, 1)], () => undefined);
    disk.run(disk.clock.now()); // issued: in the page cache, not yet synced
    const path = disk.storage.list('raft/wal/').find((p) => p.endsWith('.seg')) as string;
    const live = disk.storage.read(path) as Uint8Array;
    disk.crash();
    // Keep a damaged copy of the unsynced batch, as a torn write would.
    const end = (disk.storage.read(path) as Uint8Array).findLastIndex((b) => b !== 0) + 1;
    disk.storage.writeAt(path, end, live.slice(end, end + 200));
    const opened = disk.open();
    expect(opened.persisted.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
    expect(opened.notes).toEqual([
      expect.stringMatching(/dropped a torn batch at byte \d+ \(200 bytes\): the last write/),
    ]);
    expect(opened.log.counters()).toMatchObject({ tornTails: 1, tornBytes: 200 });
    expect(appendNow(disk, opened.log, [ents(6, 6, 1)])).toBeUndefined();
    disk.crash();
    expect(disk.open().persisted.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses to start, naming the file and offset, when a damaged batch has valid ones after it', () => {
    const disk = new SimDisk(9);
    writeAll(disk, [[hs(1)], [ents(1, 3, 1)], [ents(4, 6, 1)]]);
    const path = disk.storage.list('raft/wal/').find((p) => p.endsWith('.seg')) as string;
    const bytes = disk.storage.read(path) as Uint8Array;
    const second = readBatch(bytes, 0, bytes.length);
    expect(second.kind).toBe('batch');
    const at = second.kind === 'batch' ? second.end : 0;
    disk.storage.writeAt(path, at + 30, new Uint8Array([(bytes[at + 30] as number) ^ 0x10]));
    expect(corruptMessage(() => disk.open())).toMatch(
      new RegExp(
        `^${path} at byte ${at}: a damaged batch .*; the node will not start on a damaged Raft log`,
      ),
    );
  });

  it('refuses damage in a segment that is not the newest, and a missing snapshot file', () => {
    const disk = new SimDisk(10);
    const batches: RaftRecord[][] = [[hs(1)]];
    for (let i = 0; i < 12; i++) batches.push([ents(10 * i + 1, 10 * i + 10, 1, 100)]);
    writeAll(disk, batches);
    const [oldest] = disk.storage.list('raft/wal/').filter((p) => p.endsWith('.seg'));
    const bytes = disk.storage.read(oldest as string) as Uint8Array;
    const end = bytes.findLastIndex((b) => b !== 0);
    disk.storage.writeAt(oldest as string, end, new Uint8Array([(bytes[end] as number) ^ 1]));
    expect(corruptMessage(() => disk.open())).toMatch(/^raft\/wal\/0000000000000000-/);

    const other = new SimDisk(11);
    writeAll(other, [[hs(1), ents(1, 5, 1)], [snap(3, 1)]]);
    other.storage.remove(other.storage.list('raft/snap/')[0] as string);
    expect(corruptMessage(() => other.open())).toMatch(
      /raft\/snap\/[0-9a-f]{16}\.snap: missing, but the log names it as its snapshot/,
    );
  });

  it('removes segments left over from an interrupted compaction, and stray temporary files', () => {
    const disk = new SimDisk(12);
    const batches: RaftRecord[][] = [[hs(1)]];
    for (let i = 0; i < 20; i++) batches.push([ents(10 * i + 1, 10 * i + 10, 1, 100)]);
    writeAll(disk, batches);
    const segments = (): string[] =>
      disk.storage.list('raft/wal/').filter((p) => p.endsWith('.seg'));
    const oldest = segments()[0] as string;
    const oldestBytes = disk.storage.read(oldest) as Uint8Array;
    const before = segments().length;
    writeAll(disk, [[snap(150, 1)]]);
    expect(before - segments().length).toBeGreaterThanOrEqual(2);
    // Bring back the oldest segment the compaction removed, as if its removal never became
    // durable while the next one's did: a gap in the sequence, then the live segments.
    disk.storage.writeFile(oldest, oldestBytes);
    disk.storage.writeFile('raft/snap/00000000000000aa.snap.tmp', new Uint8Array(3));
    const { persisted, notes, log } = disk.open();
    expect(persisted.snapshot?.meta.index).toBe(150);
    expect(persisted.entries.map((e) => e.index)).toEqual(
      Array.from({ length: 50 }, (_, i) => 151 + i),
    );
    expect(notes).toEqual([
      expect.stringMatching(/removed 1 segment\(s\) up to .*left over from a compaction/),
    ]);
    expect(log.counters()).toMatchObject({ leftoverSegmentsRemoved: 1 });
    expect(disk.storage.list('raft/snap/')).toHaveLength(1);
    expect(segments()).not.toContain(oldest);
  });
});
