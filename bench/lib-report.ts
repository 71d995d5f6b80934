/**
 * Shared helpers for the membership benchmarks: summaries (median [min–max], percentiles),
 * markdown tables, the `--flag value` parser every bench uses, and the hashicorp/memberlist
 * baselines measured on this machine (/work/shared/peers/RESULTS.md, DefaultLANConfig, medians),
 * so each table can show memberlist's figure and our ratio next to our own number.
 */
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';

/** Nearest-rank percentile of `values` (0 < p <= 100); undefined for an empty list. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] as number;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] as number) + hi) / 2;
}

export function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value.toFixed(digits);
}

/** `median [min–max]` of the values, or `—` when there are none. */
export function fmtRange(values: readonly number[], digits = 0): string {
  if (values.length === 0) return '—';
  return `${fmt(median(values), digits)} [${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}]`;
}

/** ours ÷ theirs as `0.52×` (below 1 means ours is smaller: faster or less traffic). */
export function fmtRatio(ours: number | undefined, theirs: number | undefined): string {
  if (ours === undefined || theirs === undefined || theirs === 0 || !Number.isFinite(ours))
    return '—';
  return `${(ours / theirs).toFixed(2)}×`;
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** `--name value` and bare `--name` (true) pairs; unknown flags are reported by the caller's `flagNumbers`. */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--'))
      throw new Error(`unexpected argument ${JSON.stringify(arg)}; flags look like --n 10,50`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) flags.set(arg.slice(2), 'true');
    else {
      flags.set(arg.slice(2), next);
      i++;
    }
  }
  return flags;
}

/** A comma-separated list of numbers from `--name`, or `fallback`; rejects anything that is not a number. */
export function flagNumbers(
  flags: Map<string, string>,
  name: string,
  fallback: readonly number[],
): number[] {
  const text = flags.get(name);
  if (text === undefined) return [...fallback];
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isFinite(v) || v < 0))
    throw new Error(`--${name} ${text}: expected comma-separated non-negative numbers`);
  return values;
}

export function flagNumber(flags: Map<string, string>, name: string, fallback: number): number {
  return flagNumbers(flags, name, [fallback])[0] ?? fallback;
}

/** Throws on a flag the bench does not know, so a typo is not silently ignored. */
export function checkFlags(flags: Map<string, string>, known: readonly string[]): void {
  for (const key of flags.keys()) {
    if (!known.includes(key))
      throw new Error(`unknown flag --${key}; known: ${known.map((k) => `--${k}`).join(' ')}`);
  }
}

/** True when the module at `moduleUrl` is the script tsx was asked to run. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** Wall-clock milliseconds comparable across processes (performance.now() has a per-process origin). */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * memberlist v0.2.2 DefaultLANConfig, medians from /work/shared/peers/RESULTS.md (2 vCPU, same
 * machine, N nodes in one Go process). Keyed by N.
 */
export const MEMBERLIST_LAN = {
  /** B.1, parallel joins: ms until every node sees all N members, and until the median node does. */
  joinAllMs: { 10: 402, 50: 1192, 100: 2227, 200: 5779 } as Record<number, number>,
  joinMedianNodeMs: { 10: 204, 50: 617, 100: 1067, 200: 2622 } as Record<number, number>,
  /** B.2: ms from Shutdown() until the first / median / last of the N-1 others marks it dead. */
  detectFirstMs: { 10: 6337, 50: 8504, 100: 10223, 200: 11617 } as Record<number, number>,
  detectMedianMs: { 10: 6343, 50: 8532, 100: 10421, 200: 11901 } as Record<number, number>,
  detectAllMs: { 10: 6443, 50: 8739, 100: 10718, 200: 12204 } as Record<number, number>,
  /** B.3: steady-state payload sent per node per second. */
  udpPacketsPerSec: 2.0,
  udpBytesPerSec: 91,
  tcpBytesPerSecDerived: { 10: 24.4, 50: 28.3, 100: 25.3, 200: 26.8 } as Record<number, number>,
  totalBytesPerSec: { 10: 115, 50: 119, 100: 116, 200: 118 } as Record<number, number>,
} as const;

/** The 1-minute load average when the bench process started, before it made any load itself. */
const LOAD_AT_START = loadavg()[0] ?? 0;

/**
 * The footer line every table ends with: how busy the machine was when the bench started, so a
 * reader can tell a quiet measurement from one that shared the CPUs with other work.
 */
export function machineNote(): string {
  const cores = cpus().length;
  const quiet = LOAD_AT_START < 0.5;
  return `Machine: ${cores} vCPU, 1-min load average ${LOAD_AT_START.toFixed(2)} when the bench started (${quiet ? 'quiet' : 'shared with other work: times and CPU are noisy'}).`;
}
