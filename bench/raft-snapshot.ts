/**
 * How long a snapshot stops writes (docs/design/raft.md, "Snapshots and compaction"), in the
 * two places it can: (1) the core's step for `snapshot-taken` and for the snapshot record turning
 * durable (which compacts the in-memory log), with 10,000 entries in the log; (2) the WAL batch
 * that carries the snapshot on a real disk (FsStorage in a temp dir): its snapshot file is written
 * by durable replace before the batch, so entries proposed meanwhile wait that long. Compared with
 * a batch of 100 entries of 256 B alone. The state machine's own serialization (the key-value
 * store's) comes on top and is that store's to report. Run alone: `npx tsx bench/raft-snapshot.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Rng } from '../src/base/rng.js';
import { ms } from '../src/base/time.js';
import { logIndex, term } from '../src/base/units.js';
import { FsStorage } from '../src/node/fs-storage.js';
import { raftConfig } from '../src/raft/config.js';
import { bootstrapConfiguration, encodeConfiguration } from '../src/raft/configuration.js';
import type { Entry, RaftRecord } from '../src/raft/log-types.js';
import { initRaft, step } from '../src/raft/step.js';
import { walStore } from '../src/raft/wal/wal.js';
import type { NodeId } from '../src/identity/node-id.js';
import type { Address } from '../src/base/address.js';
import { fmt, isMain, median, table } from './lib-report.js';

const ENTRIES = 10_000;
const self = '1'.repeat(32) as NodeId;
const address = '10.0.0.1:7946' as Address;
const entry = (i: number): Entry => ({
  index: logIndex(i),
  term: term(1),
  kind: 'normal',
  data: new Uint8Array(256),
});

function coreStepMs(): { takenMs: number; durableMs: number } {
  const entries = Array.from({ length: ENTRIES }, (_, i) => entry(i + 1));
  const state = initRaft(
    {
      config: raftConfig({ snapshotEntries: ENTRIES }, 'LAN'),
      selfId: self,
      selfAddress: address,
      peers: [address],
    },
    {
      hardState: { term: term(1), vote: self, commit: logIndex(ENTRIES) },
      snapshot: undefined,
      entries,
    },
    ms(0),
    new Rng(1),
  );
  step(state, { kind: 'tick', now: ms(1) }, { rng: new Rng(2) }); // applies, asks for a snapshot
  const data = new Uint8Array(1024 * 1024);
  let t = performance.now();
  const ready = step(
    state,
    { kind: 'snapshot-taken', now: ms(2), index: state.appliedIndex, data },
    { rng: new Rng(3) },
  );
  const takenMs = performance.now() - t;
  t = performance.now();
  step(state, { kind: 'persisted', now: ms(3), records: ready.persist }, { rng: new Rng(4) });
  return { takenMs, durableMs: performance.now() - t };
}

function appendOnce(
  log: { append(records: readonly RaftRecord[], done: (e: unknown) => void): void },
  records: RaftRecord[],
): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) =>
    log.append(records, (error) =>
      error === undefined ? resolve(performance.now() - t) : reject(error),
    ),
  );
}

async function walBatchMs(snapshotBytes: number, rounds: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-raft-snapshot-'));
  try {
    const { log } = walStore().open(new FsStorage(dir));
    let next = 1;
    const batch = (): RaftRecord => ({
      kind: 'entries',
      entries: Array.from({ length: 100 }, () => entry(next++)),
    });
    await appendOnce(log, [
      { kind: 'hard-state', hardState: { term: term(1), vote: self, commit: logIndex(0) } },
      batch(),
    ]);
    const out: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const records: RaftRecord[] = [batch()];
      if (snapshotBytes > 0)
        records.unshift({
          kind: 'snapshot',
          meta: {
            index: logIndex(next - 1),
            term: term(1),
            config: encodeConfiguration(bootstrapConfiguration([address])),
          },
          data: new Uint8Array(snapshotBytes),
        });
      out.push(await appendOnce(log, records));
    }
    log.close();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<string> {
  const core = coreStepMs();
  const rows: string[][] = [
    ['core: snapshot-taken step (1 MiB snapshot, 10,000 entries)', fmt(core.takenMs, 2)],
    ['core: snapshot durable, log compacted', fmt(core.durableMs, 2)],
  ];
  for (const bytes of [0, 1024 * 1024, 16 * 1024 * 1024]) {
    const label =
      bytes === 0
        ? 'WAL batch of 100 x 256 B entries'
        : `... with a ${bytes / 1024 / 1024} MiB snapshot`;
    rows.push([label, fmt(median(await walBatchMs(bytes, bytes === 0 ? 20 : 5)), 1)]);
  }
  return `${table(['what', 'median ms'], rows)}\n\nFsStorage on this machine's temp dir; the snapshot file is fsynced, renamed and its directory fsynced before the batch.`;
}

if (isMain(import.meta.url)) process.stdout.write(`${await run()}\n`);
