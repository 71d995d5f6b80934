/**
 * The key-value replica's snapshots (src/node/raft-kv-machine.ts; docs/design/raft-kv.md,
 * "Snapshots"): taken over many clock turns (one chunk per turn, then the join in slices) while
 * entries go on applying, the bytes are those of the state at the requested index; a restore
 * during the taking drops it.
 */
import { describe, expect, it } from 'vitest';
import { logIndex, term, type LogIndex } from '../../src/base/units.js';
import { encodeCommand } from '../../src/kv/codec.js';
import { SNAPSHOT_DEFAULTS, kvConfig, watchConfig } from '../../src/kv/config.js';
import { KvMachine, SNAPSHOT_JOIN_SLICE_BYTES } from '../../src/node/raft-kv-machine.js';
import type { Entry } from '../../src/raft/log-types.js';
import { SimClock } from '../../src/sim/clock.js';

const config = kvConfig();
const VALUE_BYTES = 1024;

function put(index: number, key: string): Entry {
  const data = encodeCommand(
    {
      op: {
        kind: 'put',
        request: {
          key: new TextEncoder().encode(key),
          value: new Uint8Array(VALUE_BYTES).fill(index & 0xff),
        },
      },
    },
    config,
  );
  if (!(data instanceof Uint8Array)) throw new Error(`command refused: ${data.message}`);
  return { index: logIndex(index) as LogIndex, term: term(1), kind: 'normal', data };
}

function machine(clock: SimClock): KvMachine {
  return new KvMachine(config, watchConfig(), clock, {
    onResult: () => undefined,
    onWatchers: () => undefined,
    onLeaseChanges: () => undefined,
    onRestored: () => undefined,
    onOutcome: () => undefined,
  });
}

// Enough keys that the snapshot spans more than one join slice.
const KEYS = Math.ceil((1.5 * SNAPSHOT_JOIN_SLICE_BYTES) / VALUE_BYTES);

describe('KvMachine.takeSnapshot', () => {
  it('gives the state at its index, over many turns, while later entries apply', () => {
    const clock = new SimClock();
    const m = machine(clock);
    m.apply(Array.from({ length: KEYS }, (_, i) => put(i + 1, `k${i}`)));
    const expected = m.snapshot(logIndex(KEYS));
    let taken: Uint8Array | undefined;
    m.takeSnapshot(logIndex(KEYS), (data) => (taken = data));
    let turns = 0;
    let index = KEYS;
    // Overwrites and new keys between turns: none of them may show in the snapshot.
    for (; taken === undefined && turns < 10_000; turns++) {
      index++;
      m.apply([put(index, `k${index % (KEYS + 50)}`)]);
      clock.step();
    }
    expect(taken).toBeDefined();
    expect(turns).toBeGreaterThan(3); // chunks, then at least two join slices
    expect(Buffer.from(taken as Uint8Array).equals(Buffer.from(expected))).toBe(true);
    expect(m.counters.snapshotsTaken).toBe(1);
  });

  it('is dropped, its callback never called, when a restore replaces the store during the join', () => {
    const clock = new SimClock();
    const m = machine(clock);
    m.apply(Array.from({ length: KEYS }, (_, i) => put(i + 1, `k${i}`)));
    const bytes = m.snapshot(logIndex(KEYS));
    const other = machine(new SimClock());
    other.apply([put(1, 'other')]);
    let called = false;
    m.takeSnapshot(logIndex(KEYS), () => (called = true));
    // Run until the join has started (every chunk written) but not ended.
    const chunks = Math.ceil(bytes.length / SNAPSHOT_DEFAULTS.snapshotChunkBytes);
    for (let i = 0; i < chunks + 1; i++) clock.step();
    m.restore(
      { index: logIndex(1), term: term(1), config: new Uint8Array(0) },
      other.snapshot(logIndex(1)),
    );
    for (let i = 0; i < 1_000 && clock.step(); i++);
    expect(called).toBe(false);
    expect(m.counters.snapshotsTaken).toBe(0);
  });
});
