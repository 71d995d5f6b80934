/**
 * `npm run jepsen -- [flags]`: the Jepsen runner (issue 14). For each system, each nemesis kind
 * and each run, a fresh cluster in fresh namespaces, 5 clients for `--duration-s`, the nemesis,
 * the linearizability check; then the positive controls (serializable reads under a
 * partition, which must be flagged); then the summary table. Histories, nemesis logs and the
 * summary go to `--out`. Exit statuses: report.ts JEPSEN_EXIT (0 as expected, 1 unexpected
 * verdict or no progress after the last heal, 2 bad flag, 3 unknown, 4 unavailable, 5 run error).
 */
import { Command, CommanderError } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShoalError, hasErrorCode } from '../../src/base/errors.js';
import { etcdJepsenSystem } from './etcd-system.js';
import { FAULT_KINDS, NEMESIS_KINDS, type NemesisKind } from './nemesis.js';
import { netnsUnsupported } from './netns.js';
import { JEPSEN_EXIT, describeResult, exitStatus, summaryTable, type RunRecord } from './report.js';
import { runJepsen } from './run.js';
import { shoalJepsenSystem } from './shoal-system.js';
import type { JepsenSystem } from './system.js';
import { WORKLOAD_DEFAULTS } from './workload.js';

export const SYSTEMS: Record<string, () => JepsenSystem> = {
  etcd: () => etcdJepsenSystem(),
  shoal: () => shoalJepsenSystem('raft'),
};

/** `--nemesis all`: the six kinds. */
export const ALL_NEMESES: readonly NemesisKind[] = [...FAULT_KINDS, 'mixed'];

export interface JepsenPlan {
  readonly systems: readonly string[];
  readonly nemeses: readonly NemesisKind[];
  readonly runs: number;
  readonly controls: number;
  readonly controlNemesis: NemesisKind;
  readonly durationMs: number;
  readonly seed: number;
  readonly clients: number;
  readonly keys: number;
  readonly opTimeoutMs: number;
  readonly checkTimeoutMs: number;
  /** Re-check keys the check leaves unknown (`--no-resolve` turns it off). */
  readonly resolve: boolean;
  readonly outDir: string;
}

export interface JepsenIo {
  out(text: string): void;
  err(text: string): void;
}

function invalid(message: string): ShoalError {
  return new ShoalError('ERR_INVALID_ARGUMENT', message);
}

function int(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw invalid(
      `${flag} ${JSON.stringify(text)} is not allowed: expected an integer from ${min} to ${max}`,
    );
  return value;
}

function list<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').filter((s) => s !== '');
  const bad = items.find((s) => !(allowed as readonly string[]).includes(s));
  if (bad !== undefined || items.length === 0)
    throw invalid(
      `${flag} ${JSON.stringify(text)} is not allowed: expected a comma-separated list of ${allowed.join(', ')}`,
    );
  return items as T[];
}

interface RawFlags {
  system: string;
  runs: string;
  durationS: string;
  nemesis: string;
  seed: string;
  controls: string;
  controlNemesis: string;
  clients: string;
  keys: string;
  opTimeoutMs: string;
  checkTimeoutS: string;
  /** commander sets it false for `--no-resolve`. */
  resolve?: boolean;
  out?: string;
}

function buildProgram(io: JepsenIo): Command {
  return new Command('jepsen')
    .description(
      'Jepsen-style test on real processes: clients, a nemesis, the linearizability checker.',
    )
    .option('--system <list>', `systems: ${Object.keys(SYSTEMS).join(', ')}`, 'etcd')
    .option('--runs <n>', 'runs per system and nemesis kind', '1')
    .option('--duration-s <s>', 'seconds of load per run', '60')
    .option('--nemesis <list>', `kinds: ${NEMESIS_KINDS.join(', ')}, or all`, 'all')
    .option('--seed <n>', 'seed of run 1 (run r uses seed + r - 1)', '1')
    .option('--controls <n>', 'positive-control runs per system (serializable reads)', '1')
    .option('--control-nemesis <kind>', 'nemesis of the control runs', 'majority-minority')
    .option('--clients <n>', 'client processes', String(WORKLOAD_DEFAULTS.clients))
    .option('--keys <n>', 'keys', String(WORKLOAD_DEFAULTS.keys))
    .option('--op-timeout-ms <n>', 'deadline of one call', String(WORKLOAD_DEFAULTS.opTimeoutMs))
    .option(
      '--check-timeout-s <s>',
      'wall-clock bound on one check, re-checks included (unknown past it)',
      '300',
    )
    .option('--no-resolve', 'do not re-check the keys a check leaves unknown (narrowed, truncated)')
    .option('--out <dir>', 'where histories, nemesis logs and the summary go')
    .exitOverride()
    .configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(t) });
}

/** The run matrix from the flags; throws ERR_INVALID_ARGUMENT naming the flag. */
export function parsePlan(flags: RawFlags, nowIso: string): JepsenPlan {
  const nemeses =
    flags.nemesis === 'all' ? [...ALL_NEMESES] : list('--nemesis', flags.nemesis, NEMESIS_KINDS);
  return {
    systems: list('--system', flags.system, Object.keys(SYSTEMS)),
    nemeses,
    runs: int('--runs', flags.runs, 1, 1_000),
    controls: int('--controls', flags.controls, 0, 1_000),
    controlNemesis: list(
      '--control-nemesis',
      flags.controlNemesis,
      NEMESIS_KINDS,
    )[0] as NemesisKind,
    durationMs: int('--duration-s', flags.durationS, 5, 3_600) * 1000,
    seed: int('--seed', flags.seed, 0, 2 ** 32 - 1),
    clients: int('--clients', flags.clients, 1, 100),
    keys: int('--keys', flags.keys, 1, 1_000),
    opTimeoutMs: int('--op-timeout-ms', flags.opTimeoutMs, 100, 60_000),
    checkTimeoutMs: int('--check-timeout-s', flags.checkTimeoutS, 1, 86_400) * 1000,
    resolve: flags.resolve !== false,
    outDir: flags.out ?? `/tmp/shoal-jepsen-${nowIso.replace(/[:.]/g, '-')}`,
  };
}

/** Why the plan cannot run here (not root, no etcd, Shoal without raft mode), or undefined. */
export function planUnavailable(plan: JepsenPlan): string | undefined {
  const reasons = [
    netnsUnsupported(),
    ...plan.systems.map((s) => {
      const system = (SYSTEMS[s] as () => JepsenSystem)();
      const why = system.unavailable();
      return why === undefined ? undefined : `${system.name}: ${why}`;
    }),
  ].filter((r) => r !== undefined);
  return reasons.length === 0 ? undefined : reasons.join('\n');
}

/** Every run of the plan, in order: system × nemesis × run, then the system's controls. */
export function planRuns(
  plan: JepsenPlan,
): { system: string; nemesis: NemesisKind; seed: number; control: boolean }[] {
  return plan.systems.flatMap((system) => [
    ...plan.nemeses.flatMap((nemesis) =>
      Array.from({ length: plan.runs }, (_, r) => ({
        system,
        nemesis,
        seed: plan.seed + r,
        control: false,
      })),
    ),
    ...Array.from({ length: plan.controls }, (_, c) => ({
      system,
      nemesis: plan.controlNemesis,
      seed: plan.seed + c,
      control: true,
    })),
  ]);
}

/** The checker's verdict line and, for the first part that failed, why nothing fits (the history file has the rest). */
export function firstViolation(explanation: string): string {
  const lines = explanation.split('\n');
  const start = lines.findIndex((l) => /^\s*Then nothing fits/.test(l));
  const picked = start === -1 ? [] : lines.slice(start, start + 2);
  return [lines[0] ?? '', ...picked].map((l) => `    ${l.trim()}`).join('\n');
}

async function runPlan(plan: JepsenPlan, io: JepsenIo): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (const run of planRuns(plan)) {
    const make = SYSTEMS[run.system] as () => JepsenSystem;
    try {
      const result = await runJepsen({
        system: make,
        nemesis: run.nemesis,
        seed: run.seed,
        durationMs: plan.durationMs,
        members: 3,
        workload: {
          clients: plan.clients,
          keys: plan.keys,
          reads: run.control ? 'serializable' : 'linearizable',
          opTimeoutMs: plan.opTimeoutMs,
        },
        control: run.control,
        outDir: plan.outDir,
        checkTimeoutMs: plan.checkTimeoutMs,
        resolve: plan.resolve,
        log: (line) => io.out(`${line}\n`),
      });
      io.out(`${describeResult(result)}\n`);
      if (result.explanation !== '') io.out(`${firstViolation(result.explanation)}\n`);
      records.push({ ...run, system: result.system, result });
    } catch (err) {
      if (hasErrorCode(err, 'ERR_JEPSEN_UNAVAILABLE')) throw err;
      const message = err instanceof Error ? err.message : String(err);
      io.err(`  run error: ${message}\n`);
      records.push({ ...run, system: make().name, error: message });
    }
  }
  return records;
}

/** Runs the CLI; resolves to the exit status (JEPSEN_EXIT). */
export async function main(argv: readonly string[], io: JepsenIo): Promise<number> {
  let plan: JepsenPlan;
  try {
    const program = buildProgram(io);
    program.parse([...argv], { from: 'user' });
    plan = parsePlan(program.opts<RawFlags>(), new Date().toISOString());
  } catch (err) {
    if (err instanceof CommanderError)
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help'
        ? JEPSEN_EXIT.ok
        : JEPSEN_EXIT.usage;
    io.err(`jepsen: ${(err as Error).message}\n`);
    return JEPSEN_EXIT.usage;
  }
  const unavailable = planUnavailable(plan);
  if (unavailable !== undefined) {
    io.err(`jepsen: cannot run (ERR_JEPSEN_UNAVAILABLE):\n${unavailable}\n`);
    return JEPSEN_EXIT.unavailable;
  }
  mkdirSync(plan.outDir, { recursive: true });
  let records: RunRecord[];
  try {
    records = await runPlan(plan, io);
  } catch (err) {
    io.err(`jepsen: ${(err as Error).message}\n`);
    return JEPSEN_EXIT.unavailable;
  }
  const summary = `${summaryTable(records)}\n\n${plan.durationMs / 1000} s per run, ${plan.clients} clients, ${plan.keys} keys, seeds from ${plan.seed}; files in ${plan.outDir}\n`;
  writeFileSync(join(plan.outDir, 'summary.md'), summary);
  writeFileSync(join(plan.outDir, 'summary.json'), JSON.stringify({ plan, records }, null, 1));
  io.out(`\n${summary}`);
  return exitStatus(records);
}
