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
 * `npx tsx bench/kv-store.ts [--keys 100000] [--value-bytes 256] [--chunk-bytes 262144] [--runs 3]`
 * prints a markdown table; `run()` returns it for bench/run.ts.
 */
import { logIndex } from '../src/base/units.js';
import { casPut, prefixRange } from '../src/kv/commands.js';
import { encodeCommand } from '../src/kv/codec.js';
import { SNAPSHOT_DEFAULTS, kvConfig } from '../src/kv/config.js';
import { beginSnapshot, nextSnapshotChunk, restoreSnapshot } from '../src/kv/snapshot.js';
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

interface SnapshotRun {
  totalMs: number;
  longestSliceMs: number;
  chunks: number;
  bytes: number;
  restoreMs: number;
}

/** A snapshot taken in chunks with one put applied between every two chunks, then restored. */
function snapshotRun(state: KvState, o: Options): SnapshotRun {
  const value = new Uint8Array(o.valueBytes).fill(0x77);
  let longest = 0;
  let slices = 0;
  const start = performance.now();
  let t = performance.now();
  const writer = beginSnapshot(state, { snapshotChunkBytes: o.chunkBytes });
  longest = Math.max(longest, performance.now() - t);
  const chunks: Uint8Array[] = [];
  for (;;) {
    t = performance.now();
    const chunk = nextSnapshotChunk(writer);
    longest = Math.max(longest, performance.now() - t);
    if (chunk === undefined) break;
    chunks.push(chunk);
    slices++;
    // Applies go on between slices.
    applyEntry(
      state,
      entry({ op: { kind: 'put', request: { key: keyOf(slices), value } } }),
      logIndex(state.appliedIndex + 1),
    );
  }
  const totalMs = performance.now() - start;
  const bytes = Buffer.concat(chunks);
  t = performance.now();
  const restored = restoreSnapshot(bytes, CONFIG);
  const restoreMs = performance.now() - t;
  if ('kind' in restored) throw new Error(restored.message);
  return {
    totalMs,
    longestSliceMs: longest,
    chunks: chunks.length,
    bytes: bytes.length,
    restoreMs,
  };
}

function compactionRun(o: Options): { logicalMs: number; longestSliceMs: number; slices: number } {
  const state = filled(o.keys, 16);
  const small = new Uint8Array(16);
  for (let i = 0; i < o.keys; i++)
    applyEntry(
      state,
      entry({ op: { kind: 'put', request: { key: keyOf(i), value: small } } }),
      logIndex(state.appliedIndex + 1),
    );
  const compact = entry({ op: { kind: 'compact', revision: state.mvcc.revision } });
  let t = performance.now();
  applyEntry(state, compact, logIndex(state.appliedIndex + 1));
  const logicalMs = performance.now() - t;
  let longest = 0;
  let slices = 0;
  const noop = entry({ op: { kind: 'range', request: { key: keyOf(0) } } });
  while (state.mvcc.compactCursor !== undefined) {
    t = performance.now();
    applyEntry(state, noop, logIndex(state.appliedIndex + 1));
    longest = Math.max(longest, performance.now() - t);
    slices++;
  }
  return { logicalMs, longestSliceMs: longest, slices };
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['keys', 'value-bytes', 'chunk-bytes', 'runs']);
  const o: Options = {
    keys: Number(flags.get('keys') ?? 100_000),
    valueBytes: Number(flags.get('value-bytes') ?? 256),
    chunkBytes: Number(flags.get('chunk-bytes') ?? SNAPSHOT_DEFAULTS.snapshotChunkBytes),
    runs: Number(flags.get('runs') ?? 3),
  };
  const out: string[] = [];
  out.push(`### Apply throughput (thousand operations/s, median [min–max] of ${o.runs} runs)\n`);
  out.push(table(['operation', 'kops/s'], applyRows(o)));
  const runs: SnapshotRun[] = [];
  for (let r = 0; r < o.runs; r++) runs.push(snapshotRun(filled(o.keys, o.valueBytes), o));
  out.push(
    `\n### Snapshot of ${o.keys.toLocaleString('en-US')} keys, ${o.valueBytes}-byte values, ${o.chunkBytes.toLocaleString('en-US')}-byte chunks, a put applied between chunks\n`,
  );
  out.push(
    table(
      ['total ms', 'longest blocking slice ms', 'chunks', 'MB', 'restore ms'],
      [
        [
          fmtRange(runs.map((r) => r.totalMs)),
          fmtRange(
            runs.map((r) => r.longestSliceMs),
            1,
          ),
          String(median(runs.map((r) => r.chunks))),
          ((median(runs.map((r) => r.bytes)) ?? 0) / 1e6).toFixed(1),
          fmtRange(runs.map((r) => r.restoreMs)),
        ],
      ],
    ),
  );
  const c = compactionRun(o);
  out.push(`\n### Compaction of ${o.keys.toLocaleString('en-US')} keys overwritten once\n`);
  out.push(
    table(
      ['compact entry ms (logical)', 'longest apply with a physical slice ms', 'slices'],
      [[c.logicalMs.toFixed(1), c.longestSliceMs.toFixed(1), String(c.slices)]],
    ),
  );
  out.push(`\n${machineNote()}`);
  return out.join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
