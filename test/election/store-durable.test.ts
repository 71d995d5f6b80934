/**
 * The election term and vote stores (and the incarnation store, which shares the counter store)
 * believe only a durable name, like the Raft whole-file store (test/raft/wal-eio.test.ts): a
 * process killed between a replace's rename and its directory fsync reads the new file back at
 * its next boot, and a power loss after that boot would undo it. A node that campaigned or voted
 * on a term it then loses can vote twice in that term (Raft §5.2; raft-log.md, rule 9), and one
 * that signed an incarnation it then loses reuses it. The load fsyncs the directory first
 * (`readDurable`), so whatever a boot reads, a power loss right after it keeps.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/base/protocol.js';
import { Rng } from '../../src/base/rng.js';
import { durableReplaceSteps } from '../../src/base/storage.js';
import { incarnation, term } from '../../src/base/units.js';
import { RAFT_LITE_STORE } from '../../src/election/raft-lite/protocol.js';
import { STATIC_STORE } from '../../src/election/static/protocol.js';
import { SWIM_LEADER_STORE } from '../../src/election/swim/protocol.js';
import { MEMBERSHIP_STORE } from '../../src/membership/protocol.js';
import { SimStorage } from '../../src/sim/storage.js';
import { testId } from '../helpers/member-keys.js';

/** Runs a durable replace step by step; `syncDir: false` is a kill -9 before its directory fsync. */
function replace(storage: SimStorage, path: string, data: Uint8Array, syncDir: boolean): void {
  for (const step of durableReplaceSteps(path)) {
    if (step.op === 'write') storage.writeFile(step.path, data);
    else if (step.op === 'fsync') storage.fsync(step.path);
    else if (step.op === 'rename') storage.rename(step.from, step.to);
    else if (syncDir) storage.fsyncDir(step.dir);
  }
}

interface Case<P, R> {
  store: Store<P, R>;
  first: R;
  second: R;
}

function killedBeforeDirSync<P, R>(seed: number, { store, first, second }: Case<P, R>) {
  const storage = new SimStorage({ rng: new Rng(seed) });
  const written = (record: R) => store.write(record);
  replace(storage, written(first).path, written(first).data, true);
  replace(storage, written(second).path, written(second).data, false);
  const booted = store.load(storage);
  storage.crash(); // power loss right after the boot
  return { booted, afterPowerLoss: store.load(storage) };
}

describe('term, vote and incarnation stores believe only a durable name', () => {
  it('swim leader term: a replace killed before its directory fsync is made durable at load', () => {
    const { booted, afterPowerLoss } = killedBeforeDirSync(31, {
      store: SWIM_LEADER_STORE,
      first: { term: term(3), stableSize: 3 },
      second: { term: term(4), stableSize: 3 },
    });
    expect(booted.term).toBe(4);
    expect(afterPowerLoss).toEqual(booted);
  });

  it('raft-lite term and vote: the vote a boot read survives a power loss', () => {
    const { booted, afterPowerLoss } = killedBeforeDirSync(32, {
      store: RAFT_LITE_STORE,
      first: { term: term(5), votedFor: undefined },
      second: { term: term(6), votedFor: testId(2) },
    });
    expect(booted).toMatchObject({ term: 6, votedFor: testId(2) });
    expect(afterPowerLoss).toEqual(booted);
  });

  it('static term and membership incarnation (the counter store)', () => {
    const statics = killedBeforeDirSync(33, {
      store: STATIC_STORE,
      first: { term: term(7) },
      second: { term: term(8) },
    });
    expect(statics.booted).toBe(8);
    expect(statics.afterPowerLoss).toBe(8);
    const incarnations = killedBeforeDirSync(34, {
      store: MEMBERSHIP_STORE,
      first: { incarnation: incarnation(9) },
      second: { incarnation: incarnation(10) },
    });
    expect(incarnations.booted).toBe(10);
    expect(incarnations.afterPowerLoss).toBe(10);
  });

  it('a replace that completed stays as it was; no file is still no file', () => {
    const storage = new SimStorage({ rng: new Rng(35) });
    expect(SWIM_LEADER_STORE.load(storage)).toEqual({ term: 0, stableSize: 1 });
    const { path, data } = SWIM_LEADER_STORE.write({ term: term(2), stableSize: 2 });
    replace(storage, path, data, true);
    storage.crash();
    expect(SWIM_LEADER_STORE.load(storage)).toEqual({ term: 2, stableSize: 2 });
  });
});
