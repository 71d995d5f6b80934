/**
 * The key-value state machine's hot paths (docs/design/kv.md, "Measurements"):
 * - apply throughput of encoded log entries (applyEntry: decode, validate, apply), for puts of new
 *   keys, overwrites, CAS txns, a single-key range and a 100-key prefix range with limit, all
 *   through the log, and the same reads served directly (serializable);
 * - a snapshot of N keys (default 100,000, 256-byte values) taken in chunks while a put applies
 *   between every two chunks: total time, chunk count, bytes, and the longest single blocking
 *   slice (beginSnapshot or one chunk); then restore time;
 * - compaction of N overwritten keys: the logical step and the longest physical slice.
 *
 * `npx tsx bench/kv-store.ts [--keys 100000] [--value-bytes 256] [--chunk-bytes 262144] [--runs 1]`
 * prints a markdown table; `run()` returns it for bench/run.ts.
 */
import { logIndex } from '../src/base/units.js';
import { casPut, prefixRange } from '../src/kv/commands.js';
import { encodeCommand } from '../src/kv/codec.js';
import { SNAPSHOT_DEFAULTS, kvConfig } from '../src/kv/config.js';
import { beginSnapshot, nextSnapshotChunk } from '../src/kv/snapshot.js';
import {
  beginRestore,
  finishRestore,
  restoreChunk,
  restoreSnapshot,
} from '../src/kv/snapshot-restore.js';
import { applyEntry, createKvStore, range, type KvState } from '../src/kv/store.js';
import { revision, type KvCommand } from '../src/kv/types.js';
import {
  checkFlags,
  fmtRange,
  isMain,
  machineNote,
  median,
  parseFlags,
  table,
} from './lib-report.js';

const CONFIG = kvConfig();
const enc = new TextEncoder();

function entry(command: KvCommand): Uint8Array {
  const bytes = encodeCommand(command, CONFIG);
  if (!(bytes instanceof Uint8Array)) throw new Error(`bench command refused: ${bytes.message}`);
  return bytes;
}

function keyOf(i: number): Uint8Array {
  return enc.encode(`/registry/pods/ns-${i % 100}/pod-${i.toString().padStart(7, '0')}`);
}

/** A store holding `keys` keys with `valueBytes`-byte values, filled through applyEntry. */
function filled(keys: number, valueBytes: number): KvState {
  const state = createKvStore(CONFIG);
  const value = new Uint8Array(valueBytes).fill(0x76);
  for (let i = 0; i < keys; i++)
    applyEntry(
      state,
      entry({ op: { kind: 'put', request: { key: keyOf(i), value } } }),
      logIndex(i + 1),
    );
  return state;
}

/** Operations per second of `fn` over `count` calls, median of `runs`. */
function rate(runs: number, count: number, setup: () => (i: number) => unknown): number[] {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const fn = setup();
    const start = performance.now();
    for (let i = 0; i < count; i++) fn(i);
    rates.push(count / ((performance.now() - start) / 1000));
  }
  return rates;
}

interface Options {
  keys: number;
  valueBytes: number;
  chunkBytes: number;
  runs: number;
}

function applyRows(o: Options): string[][] {
  const value = new Uint8Array(o.valueBytes).fill(0x61);
  const count = Math.min(o.keys, 50_000);
  const rows: string[][] = [];
  const add = (name: string, rates: number[]): void => {
    rows.push([
      name,
      fmtRange(
        rates.map((r) => r / 1000),
        1,
      ),
    ]);
  };
  const puts = Array.from({ length: count }, (_, i) =>
    entry({ op: { kind: 'put', request: { key: keyOf(i), value } } }),
  );
  add(
    'put, new key (applyEntry)',
    rate(o.runs, count, () => {
      const state = createKvStore(CONFIG);
      return (i) => applyEntry(state, puts[i] as Uint8Array, logIndex(i + 1));
    }),
  );
  const base = filled(count, o.valueBytes);
  let index = base.appliedIndex;
  add(
    'put, overwrite (applyEntry)',
    rate(o.runs, count, () => (i) => applyEntry(base, puts[i] as Uint8Array, logIndex(++index))),
  );
  add(
    'txn, CAS put on modRevision (applyEntry)',
    rate(o.runs, count, () => (i) => {
      const current = range(base, { key: keyOf(i) });
      const mod = current.kind === 'range' ? (current.kvs[0]?.modRevision ?? 0) : 0;
      return applyEntry(
        base,
        entry({ op: casPut(keyOf(i), value, mod === 0 ? 0 : revision(mod)) }),
        logIndex(++index),
      );
    }),
  );
  const get = Array.from({ length: 1000 }, (_, i) =>
    entry({ op: { kind: 'range', request: { key: keyOf(i) } } }),
  );
  add(
    'range, one key (applyEntry)',
    rate(
      o.runs,
      count,
      () => (i) => applyEntry(base, get[i % 1000] as Uint8Array, logIndex(++index)),
    ),
  );
  const prefix = entry({
    op: { kind: 'range', request: { ...prefixRange('/registry/pods/ns-7/'), limit: 100 } },
  });
  add(
    'range, prefix, limit 100 (applyEntry)',
    rate(o.runs, Math.min(count, 2_000), () => () => applyEntry(base, prefix, logIndex(++index))),
  );
  add(
    'range, one key (serializable, no log)',
    rate(o.runs, count, () => (i) => range(base, { key: keyOf(i % 1000) })),
  );
  return rows;
}

/** Wall and CPU time of one call: on a shared machine wall time includes waiting for a core. */
function timed<T>(fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = fn();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { value, wallMs, cpuMs: (used.user + used.system) / 1000 };
}

/** The longest of a series of slices, by wall and by CPU time. */
class Longest {
  wallMs = 0;
  cpuMs = 0;

  of<T>(fn: () => T): T {
    const t = timed(fn);
    this.wallMs = Math.max(this.wallMs, t.wallMs);
    this.cpuMs = Math.max(this.cpuMs, t.cpuMs);
    return t.value;
  }
}

interface SnapshotRun {
  total: { wallMs: number; cpuMs: number };
  slice: Longest;
  chunks: number;
  bytes: number;
  restore: { wallMs: number; cpuMs: number };
  /** Chunked restore: the longest restoreChunk, and finishRestore (the revision log's sort). */
  restoreSlice: Longest;
  finish: { wallMs: number; cpuMs: number };
}

/** A snapshot taken in chunks with one put applied between every two chunks, then restored. */
function snapshotRun(state: KvState, o: Options): SnapshotRun {
  const value = new Uint8Array(o.valueBytes).fill(0x77);
  const slice = new Longest();
  const chunks: Uint8Array[] = [];
  const total = timed(() => {
    const writer = slice.of(() => beginSnapshot(state, { snapshotChunkBytes: o.chunkBytes }));
    for (;;) {
      const chunk = slice.of(() => nextSnapshotChunk(writer));
      if (chunk === undefined) break;
      chunks.push(chunk);
      // Applies go on between slices.
      const put = { key: keyOf(chunks.length), value };
      applyEntry(
        state,
        entry({ op: { kind: 'put', request: put } }),
        logIndex(state.appliedIndex + 1),
      );
    }
  });
  const bytes = Buffer.concat(chunks);
  const restore = timed(() => restoreSnapshot(bytes, CONFIG));
  if ('kind' in restore.value) throw new Error(restore.value.message);
  // The same bytes restored chunk by chunk, as a follower receives them.
  const restorer = beginRestore(CONFIG);
  const restoreSlice = new Longest();
  for (const chunk of chunks) restoreSlice.of(() => restoreChunk(restorer, chunk));
  const finish = timed(() => finishRestore(restorer));
  if ('kind' in finish.value) throw new Error('chunked restore refused');
  return {
    total,
    slice,
    chunks: chunks.length,
    bytes: bytes.length,
    restore,
    restoreSlice,
    finish,
  };
}

function compactionRun(o: Options): { logical: Longest; slice: Longest; slices: number } {
  const state = filled(o.keys, 16);
  const small = new Uint8Array(16);
  for (let i = 0; i < o.keys; i++) {
    const put = entry({ op: { kind: 'put', request: { key: keyOf(i), value: small } } });
    applyEntry(state, put, logIndex(state.appliedIndex + 1));
  }
  const compact = entry({ op: { kind: 'compact', revision: state.mvcc.revision } });
  const logical = new Longest();
  logical.of(() => applyEntry(state, compact, logIndex(state.appliedIndex + 1)));
  const slice = new Longest();
  let slices = 0;
  const noop = entry({ op: { kind: 'range', request: { key: keyOf(0) } } });
  while (state.mvcc.compactCursor !== undefined) {
    slice.of(() => applyEntry(state, noop, logIndex(state.appliedIndex + 1)));
    slices++;
  }
  return { logical, slice, slices };
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['keys', 'value-bytes', 'chunk-bytes', 'runs']);
  const o: Options = {
    keys: Number(flags.get('keys') ?? 100_000),
    valueBytes: Number(flags.get('value-bytes') ?? 256),
    chunkBytes: Number(flags.get('chunk-bytes') ?? SNAPSHOT_DEFAULTS.snapshotChunkBytes),
    runs: Number(flags.get('runs') ?? 1),
  };
  const out: string[] = [];
  out.push(`### Apply throughput (thousand operations/s, median [min–max] of ${o.runs} runs)\n`);
  out.push(table(['operation', 'kops/s'], applyRows(o)));
  const runs: SnapshotRun[] = [];
  for (let r = 0; r < o.runs; r++) runs.push(snapshotRun(filled(o.keys, o.valueBytes), o));
  out.push(
    `\n### Snapshot of ${o.keys.toLocaleString('en-US')} keys, ${o.valueBytes}-byte values, ${o.chunkBytes.toLocaleString('en-US')}-byte chunks, a put applied between chunks\n`,
  );
  const ms = (values: number[], digits = 0): string => fmtRange(values, digits);
  out.push(
    table(
      ['measure', 'wall ms', 'CPU ms'],
      [
        [
          'snapshot, total',
          ms(runs.map((r) => r.total.wallMs)),
          ms(runs.map((r) => r.total.cpuMs)),
        ],
        [
          'snapshot, longest blocking slice',
          ms(
            runs.map((r) => r.slice.wallMs),
            1,
          ),
          ms(
            runs.map((r) => r.slice.cpuMs),
            1,
          ),
        ],
        [
          'restore, one call',
          ms(runs.map((r) => r.restore.wallMs)),
          ms(runs.map((r) => r.restore.cpuMs)),
        ],
        [
          'restore by chunks, longest chunk',
          ms(
            runs.map((r) => r.restoreSlice.wallMs),
            1,
          ),
          ms(
            runs.map((r) => r.restoreSlice.cpuMs),
            1,
          ),
        ],
        [
          'restore by chunks, finishRestore',
          ms(
            runs.map((r) => r.finish.wallMs),
            1,
          ),
          ms(
            runs.map((r) => r.finish.cpuMs),
            1,
          ),
        ],
      ],
    ),
  );
  out.push(
    `\n${median(runs.map((r) => r.chunks))} chunks, ${((median(runs.map((r) => r.bytes)) ?? 0) / 1e6).toFixed(1)} MB.`,
  );
  const c = compactionRun(o);
  out.push(`\n### Compaction of ${o.keys.toLocaleString('en-US')} keys overwritten once\n`);
  out.push(
    table(
      ['measure', 'wall ms', 'CPU ms'],
      [
        ['compact entry (logical)', c.logical.wallMs.toFixed(1), c.logical.cpuMs.toFixed(1)],
        [
          `longest apply carrying a physical slice (${c.slices} slices)`,
          c.slice.wallMs.toFixed(1),
          c.slice.cpuMs.toFixed(1),
        ],
      ],
    ),
  );
  out.push(`\n${machineNote()}`);
  return out.join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
