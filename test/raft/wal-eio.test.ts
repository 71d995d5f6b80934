/**
 * The WAL after a restart without a power loss (docs/design/raft-log.md, "Recovery rules" rule
 * 9): a failed fdatasync (EIO) leaves the batch in the page cache, marked clean, never on the
 * disk (Linux, "fsyncgate"); a process that halts and is restarted reads it back. Recovery must
 * believe only what is durable: whatever a boot reads, a power loss right after the boot keeps.
 * Before the fix a node restarted after an EIO trusted the lost batch, sent messages in its term,
 * and a later crash took the term away (`term-never-below-sent` in the Raft sweep).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { durableReplaceSteps } from '../../src/base/storage.js';
import { logIndex, term } from '../../src/base/units.js';
import { RAFT_STATE_FILE, raftFileStore } from '../../src/raft/file-store.js';
import type { RaftRecord } from '../../src/raft/log-types.js';
import { NO_DISK_FAULTS, SimStorage } from '../../src/sim/storage.js';
import {
  SimDisk,
  VOTES,
  appendNow,
  applyBatch,
  emptyModel,
  entries,
  persistedOf,
} from './wal-helpers.js';

const EIO_ALWAYS = { ...NO_DISK_FAULTS, eioPpm: 1_000_000 };

const hs = (t: number, commit = 0): RaftRecord => ({
  kind: 'hard-state',
  hardState: { term: term(t), vote: VOTES[0], commit: logIndex(commit) },
});
const snap = (index: number, t: number, data: string): RaftRecord => ({
  kind: 'snapshot',
  meta: { index: logIndex(index), term: term(t), config: new TextEncoder().encode('voters') },
  data: new TextEncoder().encode(data),
});
const ents = (from: number, to: number, t: number, padBytes = 0): RaftRecord => ({
  kind: 'entries',
  entries: entries(from, to, t, padBytes),
});

const segments = (disk: SimDisk): string[] =>
  disk.storage.list('raft/wal/').filter((p) => p.endsWith('.seg'));

describe('WAL after a failed fsync and a restart without power loss', () => {
  it('a batch whose fdatasync failed is made durable at boot before it is believed', () => {
    const disk = new SimDisk(21, { tornWrites: false });
    const { log } = disk.open();
    expect(appendNow(disk, log, [hs(1), ents(1, 3, 1)])).toBeUndefined();
    disk.storage.setFaults(EIO_ALWAYS);
    expect(appendNow(disk, log, [hs(2), ents(4, 5, 2)])).toBe('ERR_STORAGE_IO');
    expect(disk.storage.counters.eio).toBe(1);
    disk.halt(); // fail-stop; the supervisor restarts the process, the page cache stays
    disk.storage.setFaults(NO_DISK_FAULTS);
    const booted = disk.open().persisted;
    // The page cache still holds the failed batch; the restarted node may read it (it was
    // written, never acknowledged: Raft allows either), but then it must be on the disk.
    expect(booted.hardState.term).toBe(2);
    disk.crash();
    expect(disk.open().persisted).toEqual(booted);
  });

  it('a torn-looking batch after an EIO is dropped, and what the boot read survives a crash', () => {
    const disk = new SimDisk(22, { tornWrites: true });
    const model = applyBatch(emptyModel(), [hs(1), ents(1, 2, 1)]);
    const { log } = disk.open();
    expect(appendNow(disk, log, [hs(1), ents(1, 2, 1)])).toBeUndefined();
    disk.storage.setFaults(EIO_ALWAYS);
    expect(appendNow(disk, log, [ents(3, 30, 1, 100)])).toBe('ERR_STORAGE_IO');
    disk.halt();
    disk.storage.setFaults(NO_DISK_FAULTS);
    // Damage the failed batch in the page cache (pages evicted and read back from the disk).
    const path = segments(disk)[0] as string;
    const live = disk.storage.read(path) as Uint8Array;
    const end = live.findLastIndex((b) => b !== 0) + 1;
    disk.storage.writeAt(path, end - 10, new Uint8Array(10).fill(0xee));
    const opened = disk.open();
    expect(opened.persisted).toEqual(persistedOf(model));
    expect(opened.notes).toEqual([expect.stringMatching(/dropped a torn batch/)]);
    disk.crash();
    expect(disk.open().persisted).toEqual(persistedOf(model));
  });

  it('a segment whose creation failed (its name never synced) is not written into after a restart', () => {
    // Over seeds: the crash comes right after the first batch of the restarted node is
    // acknowledged, before or after the background preparation of the next segment has synced
    // the directory (which would make the name durable by chance).
    for (let seed = 0; seed < 12; seed++) {
      const disk = new SimDisk(seed, { tornWrites: true });
      const { log } = disk.open();
      expect(appendNow(disk, log, [hs(1), ents(1, 2, 1)])).toBeUndefined();
      disk.storage.setFaults(EIO_ALWAYS);
      // Larger than a segment: the WAL creates a segment of its own size for it, and that fails.
      expect(appendNow(disk, log, [ents(3, 40, 1, 300)])).toBe('ERR_STORAGE_IO');
      expect(segments(disk)).toHaveLength(2);
      disk.halt();
      disk.storage.setFaults(NO_DISK_FAULTS);
      const again = disk.open();
      expect(again.persisted.entries.map((e) => e.index)).toEqual([1, 2]);
      let acked = false;
      again.log.append([ents(3, 4, 1)], (error) => (acked = error === undefined));
      for (let i = 0; i < 100 && !acked; i++) disk.run(disk.clock.now() + 1);
      expect(acked).toBe(true);
      disk.crash();
      // The acknowledged batch survives the power loss: it did not go into a file whose name
      // only the page cache knew.
      const model = applyBatch(emptyModel(), [hs(1), ents(1, 4, 1)]);
      expect(disk.open().persisted, `seed ${seed}`).toEqual(persistedOf(model));
    }
  });

  it('a process killed while its batch was being synced: the boot makes the batch durable', () => {
    const disk = new SimDisk(24, { tornWrites: false });
    const { log } = disk.open();
    expect(appendNow(disk, log, [hs(1), ents(1, 2, 1)])).toBeUndefined();
    log.append([hs(3), ents(3, 3, 3)], () => undefined);
    disk.run(disk.clock.now()); // issued: in the page cache, its sync not yet done
    disk.halt(); // kill -9: the sync never runs, the page cache stays
    const booted = disk.open().persisted;
    expect(booted.hardState.term).toBe(3);
    disk.crash();
    expect(disk.open().persisted).toEqual(booted);
  });
});

describe('the snapshot files and the whole-file store after a restart without power loss', () => {
  it('a batch naming a new snapshot file, killed before its sync: the boot keeps the file it names', () => {
    const disk = new SimDisk(25, { tornWrites: false });
    const { log } = disk.open();
    expect(appendNow(disk, log, [hs(1), ents(1, 10, 1), snap(5, 1, 'five')])).toBeUndefined();
    log.append([ents(11, 12, 1), snap(11, 1, 'eleven')], () => undefined);
    // Until the new snapshot file is in place (renamed over its name) and its batch issued (the
    // next log operation, issued once the rename is durable).
    const newSnapshot = (): boolean =>
      disk.storage.list('raft/snap/').filter((p) => p.endsWith('.snap')).length === 2;
    for (let i = 0; i < 100 && !newSnapshot(); i++) disk.run(disk.clock.now() + 1);
    expect(newSnapshot()).toBe(true);
    const opsAtRename = disk.storage.counters.logOps;
    for (let i = 0; i < 100 && disk.storage.counters.logOps === opsAtRename; i++)
      disk.run(disk.clock.now() + 1);
    expect(disk.storage.counters.logOps).toBeGreaterThan(opsAtRename);
    disk.halt();
    const booted = disk.open().persisted; // removes the older snapshot file, durably
    expect(booted.snapshot?.meta.index).toBe(11);
    disk.crash();
    expect(disk.open().persisted).toEqual(booted);
  });

  it('whole-file store: a replace killed between its rename and its directory fsync is made durable at load', () => {
    const storage = new SimStorage({ rng: new Rng(26) });
    const store = raftFileStore();
    store.load(storage);
    const replace = (data: Uint8Array, syncDir: boolean): void => {
      for (const step of durableReplaceSteps(RAFT_STATE_FILE)) {
        if (step.op === 'write') storage.writeFile(step.path, data);
        else if (step.op === 'fsync') storage.fsync(step.path);
        else if (step.op === 'rename') storage.rename(step.from, step.to);
        else if (syncDir) storage.fsyncDir(step.dir);
      }
    };
    replace(store.write(hs(1)).data, true);
    replace(store.write(hs(2)).data, false); // kill -9 before the directory fsync
    const booted = raftFileStore().load(storage);
    expect(booted.hardState.term).toBe(2);
    storage.crash();
    expect(raftFileStore().load(storage)).toEqual(booted);
  });

  it('whole-file store: an fsync that failed with EIO leaves the older file in force', () => {
    const disk = new SimDisk(27, { tornWrites: true });
    const store = raftFileStore();
    store.load(disk.storage);
    const write = (record: RaftRecord): string | undefined => {
      let code: string | undefined = 'pending';
      const { path, data } = store.write(record);
      disk.storage.writeDurable(path, data, (error) => (code = error?.code));
      disk.settle();
      return code;
    };
    expect(write(hs(1))).toBeUndefined();
    disk.storage.setFaults(EIO_ALWAYS);
    expect(write(hs(2))).toBe('ERR_STORAGE_IO');
    disk.halt();
    disk.storage.setFaults(NO_DISK_FAULTS);
    const booted = raftFileStore().load(disk.storage);
    expect(booted.hardState.term).toBe(1);
    disk.crash();
    expect(raftFileStore().load(disk.storage)).toEqual(booted);
  });
});
