/**
 * The WAL under random crashes (property, fast-check over seeds): a simulated disk with torn
 * writes (per sector, old or new), lost unsynced writes, names that need their directory fsync,
 * fsync errors that drop pages and slow fsyncs; batches of random records a Raft core could
 * emit (entries replacing suffixes, hard states, local and installed snapshots); a crash at a
 * random moment (or a halt: the process stops, the page cache stays), a reboot, more batches,
 * another crash.
 *
 * After every reboot the log must read back as the state after some batch k with
 * acknowledged <= k <= issued: a prefix of what was written (nothing invented, no batch half
 * applied), never less than what was acknowledged, and never less than what the previous boot
 * read (a boot after a halt believes only what it made durable). Crashes alone never make it
 * refuse to start.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/base/hex.js';
import { Rng } from '../../src/base/rng.js';
import type { RaftPersisted } from '../../src/raft/log-types.js';
import { NO_DISK_FAULTS } from '../../src/sim/storage.js';
import {
  SimDisk,
  applyBatch,
  emptyModel,
  persistedOf,
  randomBatch,
  type Model,
} from './wal-helpers.js';

/** One canonical line per state, to compare a recovered log with the model's candidates. */
function fingerprint(p: RaftPersisted): string {
  const snapshot =
    p.snapshot === undefined
      ? '-'
      : `${p.snapshot.meta.index}/${p.snapshot.meta.term}/${toHex(p.snapshot.meta.config)}/${toHex(p.snapshot.data)}`;
  const entries = p.entries.map((e) => `${e.index}:${e.term}:${e.kind}:${toHex(e.data)}`);
  return JSON.stringify([
    p.hardState.term,
    p.hardState.vote ?? null,
    p.hardState.commit,
    snapshot,
    entries,
  ]);
}

interface Life {
  /** The state after each batch issued in this life (index 0: the state it booted with). */
  models: Model[];
  acked: number;
}

const BATCHES_PER_LIFE_MAX = 60;

/** What the runs did, summed, so the test can show it reached its cases. */
const reached: Record<string, number> = {};

function count(counters: Readonly<Record<string, number>>): void {
  for (const [name, value] of Object.entries(counters))
    reached[name] = (reached[name] ?? 0) + value;
}

/** Boots the WAL, checks what it read against the last life, runs batches until a crash. */
function live(disk: SimDisk, rng: Rng, previous: Life): Life {
  const { persisted, log } = disk.open();
  const got = fingerprint(persisted);
  const candidates = previous.models.map((m) => fingerprint(persistedOf(m)));
  const k = candidates.findIndex((c, i) => i >= previous.acked && c === got);
  expect(
    k,
    `recovered a state that is not the state after batch acked (${previous.acked}) .. issued (${previous.models.length - 1})`,
  ).toBeGreaterThanOrEqual(previous.acked);
  const start = previous.models[k] as Model;
  const models: Model[] = [start];
  let acked = 0;
  let failed = false;
  const issue = (): void => {
    if (failed || models.length > BATCHES_PER_LIFE_MAX) return;
    const batch = randomBatch(rng, models[models.length - 1] as Model);
    models.push(applyBatch(models[models.length - 1] as Model, batch));
    const n = models.length - 1;
    log.append(batch, (error) => {
      if (error !== undefined) {
        failed = true; // fail-stop: a supervisor restarts the node (after the crash below)
        reached['failedBatches'] = (reached['failedBatches'] ?? 0) + 1;
        return;
      }
      expect(n, 'batches are acknowledged in order').toBe(acked + 1);
      acked = n;
      issue();
    });
  };
  if (rng.chance(1, 4))
    disk.storage.setFaults({ eioPpm: 30_000, fullPpm: 30_000, slowPpm: 100_000, slowMs: 30 });
  issue();
  if (rng.chance(1, 3)) issue(); // a second batch queued behind the first
  disk.run(disk.clock.now() + rng.int(120));
  count(log.counters());
  // A process restart without a power loss (after a failed write, or kill -9) keeps the page
  // cache: the next boot may read bytes the disk does not hold, and must make them durable.
  if (rng.chance(1, 3)) {
    reached['halts'] = (reached['halts'] ?? 0) + 1;
    disk.halt();
  } else disk.crash();
  disk.storage.setFaults(NO_DISK_FAULTS);
  return { models, acked };
}

describe('WAL crash recovery (property)', () => {
  it('recovers the state after some batch between the last acknowledged and the last issued', () => {
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const halts = reached['halts'] ?? 0;
        const disk = new SimDisk(seed, { tornWrites: true });
        const rng = new Rng(seed).fork('batches');
        let life: Life = { models: [emptyModel()], acked: 0 };
        for (let i = 0; i < 6; i++) life = live(disk, rng, life);
        live(disk, rng, life);
        const lives = disk.storage.counters.crashes + (reached['halts'] ?? 0) - halts;
        expect(lives).toBe(7);
      }),
      { seed: 1303, numRuns: 40 },
    );
    // The runs reached the cases the property is about: torn tails dropped, segments rotated
    // and compacted away after snapshots, batches failed by the disk.
    expect(reached['tornTails']).toBeGreaterThan(10);
    expect(reached['rotations']).toBeGreaterThan(40);
    expect(reached['snapshotsWritten']).toBeGreaterThan(20);
    expect(reached['segmentsRemoved']).toBeGreaterThan(5);
    expect(reached['failedBatches']).toBeGreaterThan(2);
    expect(reached['halts']).toBeGreaterThan(40);
  });
});
