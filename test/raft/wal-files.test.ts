/**
 * The WAL on real files (FsStorage in a temporary directory): a log written through the real
 * asynchronous file operations, then damaged the way disks and operators damage files (one bit
 * flipped at a random offset of a random segment or snapshot file; a segment truncated at a
 * random offset). Every damaged copy must either recover to the state after some batch that was
 * written (a prefix: nothing invented, nothing reordered) or refuse to start with
 * ERR_STORAGE_CORRUPT naming the file; it never diverges.
 */
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/base/hex.js';
import { hasErrorCode, type ShoalError } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import { FsStorage } from '../../src/node/fs-storage.js';
import type { RaftPersisted, RaftRecord } from '../../src/raft/log-types.js';
import { walStore } from '../../src/raft/wal/wal.js';
import { waitFor } from '../helpers/wait.js';
import { applyBatch, emptyModel, persistedOf, randomBatch, type Model } from './wal-helpers.js';

const SEGMENT_BYTES = 4096;
const BATCHES = 80;

function fingerprint(p: RaftPersisted): string {
  const snapshot =
    p.snapshot === undefined ? '-' : `${p.snapshot.meta.index}/${toHex(p.snapshot.data)}`;
  const entries = p.entries.map((e) => `${e.index}:${e.term}:${toHex(e.data)}`);
  return JSON.stringify([p.hardState, snapshot, entries]);
}

let root: string;
let written: string;
/** The state after each batch written (index 0: the empty log). */
const models: Model[] = [emptyModel()];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'shoal-wal-files-'));
  written = join(root, 'written');
  const storage = new FsStorage(written);
  const { log } = walStore({ segmentBytes: SEGMENT_BYTES }).open(storage);
  const rng = new Rng(1304);
  for (let i = 0; i < BATCHES; i++) {
    const batch: RaftRecord[] = randomBatch(rng, models[models.length - 1] as Model, {
      entryBytesMax: 120,
    });
    await new Promise<void>((resolve, reject) =>
      log.append(batch, (error: ShoalError | undefined) =>
        error === undefined ? resolve() : reject(error),
      ),
    );
    models.push(applyBatch(models[models.length - 1] as Model, batch));
  }
  // The next segment is preallocated in the background: let it finish before copying.
  await waitFor(
    () => {
      try {
        return statSync(join(written, 'raft/wal/next.tmp')).size === SEGMENT_BYTES;
      } catch {
        return false;
      }
    },
    10_000,
    'the next segment is preallocated',
  );
  log.close();
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function files(dir: string, sub: string): string[] {
  return readdirSync(join(dir, sub))
    .filter((name) => !name.endsWith('.tmp'))
    .map((name) => `${sub}/${name}`);
}

type Outcome = { kind: 'recovered'; batch: number } | { kind: 'refused'; message: string };

/** Copies the written log, damages the copy, opens it. */
function openDamaged(trial: number, damage: (dir: string) => void): Outcome {
  const dir = join(root, `trial-${trial}`);
  cpSync(written, dir, { recursive: true });
  try {
    damage(dir);
    const { persisted } = walStore({ segmentBytes: SEGMENT_BYTES }).open(new FsStorage(dir));
    const got = fingerprint(persisted);
    const batch = models.findLastIndex((m) => fingerprint(persistedOf(m)) === got);
    expect(batch, 'recovered the state after a batch that was written').toBeGreaterThanOrEqual(0);
    return { kind: 'recovered', batch };
  } catch (err) {
    if (!hasErrorCode(err, 'ERR_STORAGE_CORRUPT')) throw err;
    const message = (err as Error).message;
    expect(message).toMatch(/^raft\/(wal|snap)\/[0-9a-f-]+\.(seg|snap)(: | at byte \d+: )/);
    expect(message).not.toContain('\n');
    return { kind: 'refused', message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('WAL on real files, damaged', () => {
  it('wrote several segments and a snapshot', () => {
    expect(files(written, 'raft/wal').length).toBeGreaterThan(2);
    expect(files(written, 'raft/snap')).toHaveLength(1);
    expect(openDamaged(0, () => undefined)).toEqual({ kind: 'recovered', batch: BATCHES });
  });

  it('a bit flipped at a random offset: recovers a prefix or refuses, never diverges', () => {
    const rng = new Rng(1305);
    const outcomes = { recovered: 0, refused: 0 };
    for (let trial = 1; trial <= 60; trial++) {
      const outcome = openDamaged(trial, (dir) => {
        const all = [...files(dir, 'raft/wal'), ...files(dir, 'raft/snap')];
        const file = join(dir, all[rng.int(all.length)] as string);
        const bytes = readFileSync(file);
        const at = rng.int(bytes.length);
        bytes[at] = (bytes[at] as number) ^ (1 << rng.int(8));
        writeFileSync(file, bytes);
      });
      outcomes[outcome.kind]++;
      // A flip can cost the last batch only (read as a torn tail); anywhere else it is refused.
      if (outcome.kind === 'recovered') expect(outcome.batch).toBeGreaterThanOrEqual(BATCHES - 1);
    }
    // Most flips land in preallocated zeros (harmless) or in acknowledged batches (refused).
    expect(outcomes.recovered).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });

  it('a segment truncated at a random offset: recovers a prefix or refuses, never diverges', () => {
    const rng = new Rng(1306);
    const seen = new Set<string>();
    for (let trial = 100; trial < 130; trial++) {
      const outcome = openDamaged(trial, (dir) => {
        const segments = files(dir, 'raft/wal');
        const newest = rng.chance(1, 2);
        const file = join(
          dir,
          (newest ? segments[segments.length - 1] : segments[rng.int(segments.length)]) as string,
        );
        truncateSync(file, rng.int(statSync(file).size));
      });
      seen.add(outcome.kind);
    }
    expect(seen).toEqual(new Set(['recovered', 'refused']));
  });
});
