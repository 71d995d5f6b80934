/**
 * Property tests (fast-check, seeded) of the state machine against the reference model
 * (model.ts), and of snapshots: random command sequences with colliding keys, leases, sessions,
 * nested txns and compactions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logIndex } from '../../src/base/units.js';
import { prefixRange } from '../../src/kv/commands.js';
import { kvConfig } from '../../src/kv/config.js';
import { checkKvInvariants } from '../../src/kv/invariants.js';
import { beginSnapshot, nextSnapshotChunk, takeSnapshot } from '../../src/kv/snapshot.js';
import {
  beginRestore,
  finishRestore,
  restoreChunk,
  restoreSnapshot,
} from '../../src/kv/snapshot-restore.js';
import { apply, createKvStore, range, type KvState } from '../../src/kv/store.js';
import { revision, type KvCommand, type KvResult } from '../../src/kv/types.js';
import { command } from './arbitraries.js';
import { Model } from './model.js';

const CONFIG = kvConfig({
  sessionsMax: 2,
  leasesMax: 2,
  leaseTtlMsMin: 1000,
  compactionSliceKeys: 2,
});
const RUNS = 250;

/** Errors compare by code and compacted revision; their messages are for people. */
function normalize(result: KvResult): unknown {
  return result.kind === 'error'
    ? { kind: 'error', code: result.code, compactRevision: result.compactRevision }
    : result;
}

function applyAll(state: KvState, commands: readonly KvCommand[]): void {
  for (const c of commands) apply(state, c, logIndex(state.appliedIndex + 1));
}

const everything = prefixRange('');

describe('the store against the model', () => {
  it('gives the model’s results, events and reads at every revision, and keeps its invariants', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        const state = createKvStore(CONFIG);
        const model = new Model(CONFIG);
        commands.forEach((c, i) => {
          const out = apply(state, c, logIndex(i + 1));
          const want = model.apply(c);
          expect(normalize(out.result)).toEqual(normalize(want.result));
          expect(out.events).toEqual(want.events);
          expect(checkKvInvariants(state)).toEqual([]);
          expect(state.mvcc.revision).toBe(model.revision);
        });
        for (let r = Math.max(1, model.compactRevision); r <= model.revision; r++) {
          const q = { ...everything, revision: revision(r) };
          expect(range(state, q)).toEqual(
            model.range(q, model.current(), model.revision, model.revision),
          );
        }
      }),
      { seed: 1301, numRuns: RUNS },
    );
  });
});

describe('snapshots', () => {
  it('restore(snapshot(s)) snapshots to the same bytes, reads the same and goes on the same', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 30 }),
        fc.array(command, { maxLength: 15 }),
        (first, then) => {
          const original = createKvStore(CONFIG);
          applyAll(original, first);
          const bytes = takeSnapshot(original);
          const restored = restoreSnapshot(bytes, CONFIG) as KvState;
          expect(restored.appliedIndex).toBe(original.appliedIndex);
          expect(checkKvInvariants(restored)).toEqual([]);
          expect(takeSnapshot(restored)).toEqual(bytes);
          expect(range(restored, everything)).toEqual(range(original, everything));
          for (const c of then) {
            const index = logIndex(original.appliedIndex + 1);
            expect(apply(restored, c, index)).toEqual(apply(original, c, index));
          }
          expect(takeSnapshot(restored)).toEqual(takeSnapshot(original));
        },
      ),
      { seed: 1302, numRuns: RUNS },
    );
  });

  it('restores the same state from any split into chunks, and refuses any cut or trailing byte', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.nat(),
        (commands, cuts, trim) => {
          const original = createKvStore(CONFIG);
          applyAll(original, commands);
          const bytes = takeSnapshot(original);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort(
            (a, b) => a - b,
          );
          const r = beginRestore(CONFIG);
          let from = 0;
          for (const at of [...points, bytes.length]) {
            restoreChunk(r, bytes.subarray(from, at));
            from = at;
          }
          const restored = finishRestore(r) as KvState;
          expect(takeSnapshot(restored)).toEqual(bytes);
          const cut = trim % bytes.length;
          expect(restoreSnapshot(bytes.subarray(0, cut), CONFIG)).toMatchObject({
            code: 'ERR_SNAPSHOT_CORRUPT',
          });
          const longer = Uint8Array.from([...bytes, trim % 256]);
          expect(restoreSnapshot(longer, CONFIG)).toMatchObject({ code: 'ERR_SNAPSHOT_CORRUPT' });
        },
      ),
      { seed: 1305, numRuns: RUNS },
    );
  });

  it('is deterministic: a replica restored midway and one that applied everything end in the same bytes', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), fc.nat(), (commands, cut) => {
        const at = commands.length === 0 ? 0 : cut % commands.length;
        const whole = createKvStore(CONFIG);
        applyAll(whole, commands);
        const half = createKvStore(CONFIG);
        applyAll(half, commands.slice(0, at));
        const replica = restoreSnapshot(takeSnapshot(half), CONFIG) as KvState;
        applyAll(replica, commands.slice(at));
        expect(takeSnapshot(replica)).toEqual(takeSnapshot(whole));
      }),
      { seed: 1303, numRuns: RUNS },
    );
  });

  it('taken in small chunks while commands apply, equals the snapshot of the store at its start', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 30 }),
        fc.array(command, { maxLength: 30 }),
        fc.integer({ min: 1, max: 64 }),
        (before, during, chunkBytes) => {
          const live = createKvStore(CONFIG);
          applyAll(live, before);
          const frozen = createKvStore(CONFIG);
          applyAll(frozen, before);
          const writer = beginSnapshot(live, { snapshotChunkBytes: chunkBytes });
          const chunks: Uint8Array[] = [];
          let i = 0;
          for (let chunk = nextSnapshotChunk(writer); chunk; chunk = nextSnapshotChunk(writer)) {
            chunks.push(chunk);
            const c = during[i++];
            if (c !== undefined) applyAll(live, [c]);
          }
          applyAll(live, during.slice(i));
          expect(live.mvcc.snapshotsOpen).toBe(0);
          expect(Buffer.concat(chunks)).toEqual(Buffer.from(takeSnapshot(frozen)));
          expect(checkKvInvariants(live)).toEqual([]);
        },
      ),
      { seed: 1304, numRuns: RUNS },
    );
  });
});
