/**
 * The Raft WAL on the real disk (src/raft/wal/, FsStorage in a temporary directory):
 *
 * 1. Fixed batches: one writer appends batches of B entries of 256 bytes, the next one as soon
 *    as the last is durable, for B = 1, 16, 64, 256: batches/s, entries/s, entries per fsync
 *    (from the WAL's own counters: it must be B) and the append-to-durable latency (p50, p99).
 * 2. Group commit through the generic driver: C clients each propose one entry and propose
 *    again when it is durable; the driver merges the steps that arrive during a sync into the
 *    next batch, so entries per fsync grows with load without a timer.
 *
 * Each with fsyncDelayMs 0, 1 and 10 (FsStorage's benchmark knob: this machine's fdatasync costs
 * about 0.1 ms; a cloud volume's 1-10 ms). `npx tsx bench/raft-wal.ts [--duration-ms 1500]
 * [--delays 0,1,10] [--batches 1,16,64,256] [--clients 1,16,64,256] [--segment-bytes N]
 * [--dir PATH]` runs it alone.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Core, Protocol, Ready } from '../src/base/protocol.js';
import { Rng } from '../src/base/rng.js';
import { SystemClock } from '../src/base/system-clock.js';
import type { Millis } from '../src/base/time.js';
import { logIndex, term } from '../src/base/units.js';
import { ProtocolDriver } from '../src/node/driver.js';
import { FsStorage } from '../src/node/fs-storage.js';
import type { Entry, RaftPersisted, RaftRecord } from '../src/raft/log-types.js';
import { walStore } from '../src/raft/wal/wal.js';
import {
  checkFlags,
  fmt,
  flagNumber,
  flagNumbers,
  isMain,
  machineNote,
  parseFlags,
  percentile,
  sleep,
  table,
} from './lib-report.js';

const ENTRY_BYTES = 256;

interface Cell {
  delayMs: number;
  /** Entries per append (fixed batches) or clients (group commit). */
  load: number;
  seconds: number;
  batches: number;
  entries: number;
  syncs: number;
  latenciesMs: number[];
}

function entryBatch(first: number, count: number): RaftRecord {
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++)
    entries.push({
      index: logIndex(first + i),
      term: term(1),
      kind: 'normal',
      data: new Uint8Array(ENTRY_BYTES).fill(i & 0xff),
    });
  return { kind: 'entries', entries };
}

interface Setup {
  dir: string;
  segmentBytes: number;
  durationMs: number;
}

/**
 * Waits (bounded) until the WAL has preallocated its next segment in the background: the first
 * batch opened a segment and started preparing the next one, whose zeros would otherwise share
 * the disk with the measured syncs. Steady state is a prepared segment and a rotation per
 * segmentBytes of log.
 */
async function prepared(setup: Setup): Promise<void> {
  const path = join(setup.dir, 'raft/wal/next.tmp');
  for (let waitedMs = 0; waitedMs < 30_000; waitedMs += 20) {
    try {
      if (statSync(path).size === setup.segmentBytes) return;
    } catch {
      // not created yet
    }
    await sleep(20);
  }
  throw new Error(`the next segment was not preallocated within 30 s (${path})`);
}

/** One writer, batches of `batch` entries back to back. */
async function fixedBatches(setup: Setup, delayMs: number, batch: number): Promise<Cell> {
  const storage = new FsStorage(setup.dir, { fsyncDelayMs: delayMs });
  const { log } = walStore({ segmentBytes: setup.segmentBytes }).open(storage);
  let next = 1;
  const append = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      log.append([entryBatch(next, batch)], (error) =>
        error === undefined ? resolve(performance.now() - started) : reject(error),
      );
      next += batch;
    });
  await append(); // the first batch creates the first segment: not measured
  await prepared(setup);
  const before = log.counters();
  const latenciesMs: number[] = [];
  const startMs = performance.now();
  while (performance.now() - startMs < setup.durationMs) latenciesMs.push(await append());
  const seconds = (performance.now() - startMs) / 1000;
  const after = log.counters();
  log.close();
  return {
    delayMs,
    load: batch,
    seconds,
    batches: (after.batches ?? 0) - (before.batches ?? 0),
    entries: (after.entries ?? 0) - (before.entries ?? 0),
    syncs: (after.syncs ?? 0) - (before.syncs ?? 0),
    latenciesMs,
  };
}

/** A core whose clients propose one entry each and hear back once it is durable. */
interface ProposeTypes {
  config: undefined;
  persisted: RaftPersisted;
  state: { next: number };
  input: { kind: 'propose'; now: Millis; client: number };
  effect: { kind: 'durable'; client: number };
  record: RaftRecord;
  snapshot: undefined;
  message: never;
}

const proposeCore: Core<ProposeTypes> = {
  name: 'bench-propose',
  inputKinds: ['tick', 'persisted', 'propose'],
  effectKinds: ['durable'],
  init: (_config, persisted) => ({ next: (persisted.entries.at(-1)?.index ?? 0) + 1 }),
  step(state, input): Ready<ProposeTypes['state'], ProposeTypes['effect'], RaftRecord> {
    const out: Ready<ProposeTypes['state'], ProposeTypes['effect'], RaftRecord> = {
      state,
      effects: [],
      persist: [],
      afterPersist: [],
    };
    if (input.kind !== 'propose') return out;
    out.persist.push(entryBatch(state.next, 1));
    out.afterPersist.push({ kind: 'durable', client: input.client });
    state.next++;
    return out;
  },
  nextDeadline: () => undefined,
  describeInput: (input) => input.kind,
  describeEffect: (effect) => effect.kind,
  describeRecord: (record) => record.kind,
  checkInvariants: () => [],
  snapshot: () => undefined,
  checkTransition: () => [],
};

/** `clients` proposers through the driver, each waiting for its entry before the next. */
async function groupCommit(setup: Setup, delayMs: number, clients: number): Promise<Cell> {
  const clock = new SystemClock();
  const storage = new FsStorage(setup.dir, { fsyncDelayMs: delayMs });
  const protocol: Protocol<ProposeTypes> = {
    core: proposeCore,
    store: walStore({ segmentBytes: setup.segmentBytes }),
  };
  const proposedAt = new Array<number>(clients).fill(0);
  const latenciesMs: number[] = [];
  let measuring = false;
  let stopAt = Number.POSITIVE_INFINITY;
  let finish: () => void = () => undefined;
  let open = 0;
  let failure: Error | undefined;
  const driver: ProtocolDriver<ProposeTypes> = new ProtocolDriver<ProposeTypes>({
    protocol,
    config: undefined,
    clock,
    storage,
    rng: new Rng(1),
    onOutput: (effect) => {
      if (measuring) latenciesMs.push(performance.now() - (proposedAt[effect.client] as number));
      open--;
      if (performance.now() < stopAt) propose(effect.client);
      else if (open === 0) finish();
    },
    onFatal: (error) => {
      failure = error;
      finish();
    },
  });
  const propose = (client: number): void => {
    proposedAt[client] = performance.now();
    open++;
    driver.input({ kind: 'propose', now: clock.now(), client });
  };
  // Warm up (the first segment is created), then measure.
  await new Promise<void>((resolve) => {
    stopAt = 0;
    finish = resolve;
    propose(0);
  });
  await prepared(setup);
  const before = driver.stats();
  const finished = new Promise<void>((resolve) => (finish = resolve));
  measuring = true;
  const startMs = performance.now();
  stopAt = startMs + setup.durationMs;
  for (let c = 0; c < clients; c++) propose(c);
  await finished;
  if (failure !== undefined) throw failure;
  const seconds = (performance.now() - startMs) / 1000;
  const after = driver.stats();
  driver.stop();
  return {
    delayMs,
    load: clients,
    seconds,
    batches: after.writes - before.writes,
    entries: after.persistedRecords - before.persistedRecords,
    syncs: (after.log?.syncs ?? 0) - (before.log?.syncs ?? 0),
    latenciesMs,
  };
}

function rows(cells: readonly Cell[]): string[][] {
  return cells.map((c) => [
    String(c.delayMs),
    String(c.load),
    fmt(c.batches / c.seconds),
    fmt(c.entries / c.seconds),
    fmt(c.entries / Math.max(1, c.syncs), 1),
    fmt(percentile(c.latenciesMs, 50), 2),
    fmt(percentile(c.latenciesMs, 99), 2),
  ]);
}

async function inFreshDir(base: string, run: (dir: string) => Promise<Cell>): Promise<Cell> {
  const dir = mkdtempSync(join(base, 'shoal-bench-wal-'));
  try {
    return await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['duration-ms', 'delays', 'batches', 'clients', 'segment-bytes', 'dir']);
  const durationMs = flagNumber(flags, 'duration-ms', 1500);
  const segmentBytes = flagNumber(flags, 'segment-bytes', 16 * 1024 * 1024);
  const base = flags.get('dir') ?? tmpdir();
  const delays = flagNumbers(flags, 'delays', [0, 1, 10]);
  const fixed: Cell[] = [];
  const grouped: Cell[] = [];
  for (const delayMs of delays) {
    for (const batch of flagNumbers(flags, 'batches', [1, 16, 64, 256]))
      fixed.push(
        await inFreshDir(base, (dir) =>
          fixedBatches({ dir, segmentBytes, durationMs }, delayMs, batch),
        ),
      );
    for (const clients of flagNumbers(flags, 'clients', [1, 16, 64, 256]))
      grouped.push(
        await inFreshDir(base, (dir) =>
          groupCommit({ dir, segmentBytes, durationMs }, delayMs, clients),
        ),
      );
  }
  const headers = (load: string): string[] => [
    'fsyncDelayMs',
    load,
    'batches/s',
    'entries/s',
    'entries/fsync',
    'p50 ms',
    'p99 ms',
  ];
  return [
    `Fixed batches of ${ENTRY_BYTES}-byte entries, one writer, ${durationMs} ms per row (latency: append to durable, per batch):`,
    '',
    table(headers('entries/batch'), rows(fixed)),
    '',
    'Group commit through the driver: each client proposes one entry and proposes again once it is durable (latency: propose to durable, per entry):',
    '',
    table(headers('clients'), rows(grouped)),
    '',
    `Segments of ${segmentBytes} bytes in ${base} (FsStorage: positional write + fdatasync per batch on a cached descriptor). fsyncDelayMs holds back each sync's completion to model a slower disk.`,
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
