/**
 * How long a snapshot stops writes (docs/design/raft.md, "Snapshots and compaction"), in the
 * two places it can: (1) the core's step for `snapshot-taken` and for the snapshot record turning
 * durable (which compacts the in-memory log), with 10,000 entries in the log; (2) the WAL batch
 * that carries the snapshot on a real disk (FsStorage in a temp dir): its snapshot file is written
 * by durable replace before the batch, so entries proposed meanwhile wait that long. Compared with
 * a batch of 100 entries of 256 B alone; (3) the whole pipeline with the key-value store (`--keys`,
 * default 100,000 keys of 256 B, about 28 MB): the replica takes its snapshot (one chunk per clock
 * turn, the join in slices) and the WAL writes it (snapshot-file.ts: in slices, the CRC per slice),
 * with the event loop's longest block measured throughout (`monitorEventLoopDelay`, 1 ms
 * resolution): the longest a put arriving meanwhile would wait. Beside it the same steps as they
 * were before the slicing, emulated in this file (the join in one step, the file encoded whole and
 * written by durable replace). Run alone: `npx tsx bench/raft-snapshot.ts [--keys 100000]
 * [--rounds 3]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Rng } from '../src/base/rng.js';
import { SystemClock } from '../src/base/system-clock.js';
import { ms } from '../src/base/time.js';
import { logIndex, term } from '../src/base/units.js';
import { encodeCommand } from '../src/kv/codec.js';
import { kvConfig, watchConfig } from '../src/kv/config.js';
import { beginSnapshot, nextSnapshotChunk } from '../src/kv/snapshot.js';
import { FsStorage } from '../src/node/fs-storage.js';
import { KvMachine } from '../src/node/raft-kv-machine.js';
import { raftConfig } from '../src/raft/config.js';
import { bootstrapConfiguration, encodeConfiguration } from '../src/raft/configuration.js';
import type { Entry, RaftRecord } from '../src/raft/log-types.js';
import { initRaft, step } from '../src/raft/step.js';
import { encodeSnapshotFile, snapshotPath } from '../src/raft/wal/format.js';
import { walStore } from '../src/raft/wal/wal.js';
import type { NodeId } from '../src/identity/node-id.js';
import type { Address } from '../src/base/address.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  median,
  parseFlags,
  table,
} from './lib-report.js';

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

// ---- (3) the pipeline with the key-value store ----

const KV_CONFIG = kvConfig();
const VALUE_BYTES = 256;

/** A replica holding `keys` keys of VALUE_BYTES, applied through its RaftApplication face. */
function filledMachine(keys: number): KvMachine {
  const machine = new KvMachine(KV_CONFIG, watchConfig(), new SystemClock(), {
    onResult: () => undefined,
    onWatchers: () => undefined,
    onLeaseChanges: () => undefined,
    onRestored: () => undefined,
    onOutcome: () => undefined,
  });
  const value = new Uint8Array(VALUE_BYTES).fill(0x76);
  const enc = new TextEncoder();
  for (let from = 1; from <= keys; from += 1_000) {
    const batch: Entry[] = [];
    for (let i = from; i < Math.min(keys + 1, from + 1_000); i++) {
      const data = encodeCommand(
        { op: { kind: 'put', request: { key: enc.encode(`key-${i}`), value } } },
        KV_CONFIG,
      );
      if (!(data instanceof Uint8Array)) throw new Error(data.message);
      batch.push({ index: logIndex(i), term: term(1), kind: 'normal', data });
    }
    machine.apply(batch);
  }
  return machine;
}

/** The snapshot as it was taken before the slicing: one chunk per turn, then joined at once. */
function takeWhole(machine: KvMachine): Promise<Uint8Array> {
  const writer = beginSnapshot(machine.state);
  const chunks: Uint8Array[] = [];
  return new Promise((resolve) => {
    const next = (): void => {
      const chunk = nextSnapshotChunk(writer);
      if (chunk !== undefined) {
        chunks.push(chunk);
        setTimeout(next, 0);
        return;
      }
      const out = new Uint8Array(writer.bytes);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      resolve(out);
    };
    next();
  });
}

interface PipelineRun {
  bytes: number;
  takeMs: number;
  writeMs: number;
  /** The event loop's longest block over the whole pipeline. */
  blockMs: number;
}

async function pipelineRun(machine: KvMachine, sliced: boolean): Promise<PipelineRun> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-raft-snapshot-'));
  const storage = new FsStorage(dir);
  const { log } = walStore().open(storage);
  const index = machine.state.appliedIndex;
  const records = (from: number, to: number): RaftRecord => ({
    kind: 'entries',
    entries: Array.from({ length: to - from + 1 }, (_, i) => entry(from + i)),
  });
  try {
    await appendOnce(log, [
      { kind: 'hard-state', hardState: { term: term(1), vote: self, commit: logIndex(0) } },
      records(1, index),
    ]);
    const meta = {
      index,
      term: term(1),
      config: encodeConfiguration(bootstrapConfiguration([address])),
    };
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    // SystemClock's timers are unref'd (the agent's sockets keep it alive): this keeps the bench.
    const keepAlive = setInterval(() => undefined, 1_000);
    let t = performance.now();
    const data = sliced
      ? await new Promise<Uint8Array>((resolve) => machine.takeSnapshot(index, resolve))
      : await takeWhole(machine);
    const takeMs = performance.now() - t;
    t = performance.now();
    if (!sliced) {
      // Before: the file encoded whole (a copy and a CRC-32C of all of it), durably replaced.
      const file = encodeSnapshotFile(meta, data);
      await new Promise<void>((resolve, reject) =>
        storage.writeDurable(snapshotPath(1_000), file, (e) => (e ? reject(e) : resolve())),
      );
      await appendOnce(log, [records(index + 1, index + 100)]);
    } else
      await appendOnce(log, [{ kind: 'snapshot', meta, data }, records(index + 1, index + 100)]);
    const writeMs = performance.now() - t;
    loop.disable();
    clearInterval(keepAlive);
    return { bytes: data.length, takeMs, writeMs, blockMs: loop.max / 1e6 };
  } finally {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pipelineRows(keys: number, rounds: number): Promise<string[][]> {
  const machine = filledMachine(keys);
  const runs: Record<'before' | 'after', PipelineRun[]> = { before: [], after: [] };
  // Alternating, so both see the same load.
  for (let r = 0; r < rounds; r++) {
    runs.before.push(await pipelineRun(machine, false));
    runs.after.push(await pipelineRun(machine, true));
  }
  const span = (xs: number[]): string =>
    `${fmt(median(xs), 0)} (${fmt(Math.min(...xs), 0)}-${fmt(Math.max(...xs), 0)})`;
  return (['before', 'after'] as const).map((k) => {
    const rs = runs[k];
    return [
      k === 'before' ? 'before: join at once, file encoded whole (emulated)' : 'after: sliced',
      fmt((rs[0]?.bytes ?? 0) / 1e6, 1),
      span(rs.map((x) => x.takeMs)),
      span(rs.map((x) => x.writeMs)),
      span(rs.map((x) => x.blockMs)),
    ];
  });
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['keys', 'rounds']);
  const keys = flagNumber(flags, 'keys', 100_000);
  const rounds = flagNumber(flags, 'rounds', 3);
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
  const pipeline = await pipelineRows(keys, rounds);
  return [
    table(['what', 'median ms'], rows),
    '',
    "FsStorage on this machine's temp dir; the snapshot file is written (in slices), fsynced, renamed and its directory fsynced before the batch.",
    '',
    table(
      [
        `snapshot of ${keys} keys of ${VALUE_BYTES} B`,
        'MB',
        'take ms',
        'WAL write ms',
        'longest event-loop block ms',
      ],
      pipeline,
    ),
    '',
    `Median (min-max) of ${rounds} alternating rounds; "take": the replica's snapshot from ask to bytes; "WAL write": the file and the batch naming it durable; the block: monitorEventLoopDelay's max over both (the longest a put arriving meanwhile waits for the process).`,
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
