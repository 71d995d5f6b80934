/**
 * The WAL under the generic driver (src/node/driver.ts), on the simulator's clock and disk: a
 * burst of proposals becomes few batches (group commit), each proposal's acknowledgement leaves
 * only once its entry is durable (persist-before-send), a crash loses nothing acknowledged, and
 * the next boot hands the core what the WAL read back, with recovery's notes.
 */
import { describe, expect, it } from 'vitest';
import type { Core, Ready } from '../../src/base/protocol.js';
import { Rng } from '../../src/base/rng.js';
import type { Millis } from '../../src/base/time.js';
import { ProtocolDriver } from '../../src/node/driver.js';
import type { RaftPersisted, RaftRecord } from '../../src/raft/log-types.js';
import { walStore } from '../../src/raft/wal/wal.js';
import { SimDisk, entries } from './wal-helpers.js';

interface Types {
  config: undefined;
  persisted: RaftPersisted;
  state: { next: number; booted: RaftPersisted; durable: number };
  input: { kind: 'propose'; now: Millis };
  effect: { kind: 'ack'; index: number };
  record: RaftRecord;
  snapshot: undefined;
  message: never;
}

/** Each proposal appends one entry; its ack waits for the disk. */
const core: Core<Types> = {
  name: 'wal-toy',
  inputKinds: ['tick', 'persisted', 'propose'],
  effectKinds: ['ack'],
  init: (_c, persisted) => ({
    next: (persisted.entries.at(-1)?.index ?? 0) + 1,
    booted: persisted,
    durable: 0,
  }),
  step(state, input): Ready<Types['state'], Types['effect'], RaftRecord> {
    const out: Ready<Types['state'], Types['effect'], RaftRecord> = {
      state,
      effects: [],
      persist: [],
      afterPersist: [],
    };
    if (input.kind === 'persisted') state.durable += input.records.length;
    if (input.kind !== 'propose') return out;
    out.persist.push({ kind: 'entries', entries: entries(state.next, state.next, 1) });
    out.afterPersist.push({ kind: 'ack', index: state.next });
    state.next++;
    return out;
  },
  nextDeadline: () => undefined,
  describeInput: (input) => input.kind,
  describeEffect: (effect) => `ack ${effect.index}`,
  describeRecord: (record) => record.kind,
  checkInvariants: () => [],
  snapshot: () => undefined,
  checkTransition: () => [],
};

function boot(disk: SimDisk, acks: number[], notices: string[] = []): ProtocolDriver<Types> {
  return new ProtocolDriver<Types>({
    protocol: { core, store: walStore({ segmentBytes: disk.segmentBytes }) },
    config: undefined,
    clock: disk.clock.nodeClock('n1'),
    storage: disk.storage,
    rng: new Rng(1),
    onOutput: (effect) => acks.push(effect.index),
    onNotice: (line) => notices.push(line),
  });
}

describe('the WAL under the driver', () => {
  it('merges a burst of proposals into few batches, acks each once durable, loses nothing acked', () => {
    const disk = new SimDisk(21, { tornWrites: true, delayMaxMs: 5 });
    const acks: number[] = [];
    const driver = boot(disk, acks);
    for (let i = 0; i < 200; i++) driver.input({ kind: 'propose', now: disk.clock.now() });
    disk.run(disk.clock.now() + 4);
    for (let i = 0; i < 100; i++) driver.input({ kind: 'propose', now: disk.clock.now() });
    disk.settle();
    const stats = driver.stats();
    expect(acks).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    // The first proposal's job, then everything that arrived meanwhile: one fdatasync each.
    expect(stats.writes).toBe(2);
    expect(stats.log).toMatchObject({ syncs: 2, entries: 300 });
    expect(driver.state.durable).toBe(300);
    for (let i = 0; i < 100; i++) driver.input({ kind: 'propose', now: disk.clock.now() });
    disk.run(disk.clock.now() + 3);
    driver.stop();
    disk.crash();
    const notices: string[] = [];
    const again = boot(disk, [], notices);
    const recovered = again.state.booted.entries.map((e) => e.index);
    expect(recovered.length).toBeGreaterThanOrEqual(acks.length);
    expect(recovered).toEqual(Array.from({ length: recovered.length }, (_, i) => i + 1));
    expect(notices.every((n) => /dropped a torn batch/.test(n))).toBe(true);
    again.stop();
  });
});
