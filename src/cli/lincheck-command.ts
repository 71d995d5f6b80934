/**
 * `npm run lincheck -- FILE [--steps-max N] [--timeout-ms N] [--json] [--resolve
 * [--resolve-steps-max N]]`: checks a JSON history file (src/sim/linearizability/history-file.ts)
 * for linearizability against the kv model and prints the verdict with its explanation. With
 * `--resolve`, the keys the check leaves unknown are re-checked on their own, narrowed and
 * truncated, with budgets growing up to `--resolve-steps-max` (resolve.ts). Exit codes: 0
 * linearizable, 1 not linearizable, 2 a bad flag or a bad file (the message names the field), 3
 * unknown (a budget ran out first; with `--resolve`, the keys still undecided are listed).
 * Returns the code instead of exiting so tests can run it in-process.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { hasErrorCode } from '../base/errors.js';
import {
  DEFAULT_CHECK_BUDGET,
  DEFAULT_RESOLVE_OPTIONS,
  HISTORY_FILE_BYTES_MAX,
  checkKvHistory,
  parseHistoryFile,
  resolveKvHistory,
  type CheckBudget,
  type KvHistory,
} from '../sim/linearizability/index.js';

export interface LincheckCliIo {
  out(text: string): void;
  err(text: string): void;
  /** Milliseconds from a monotonic clock, for --timeout-ms. */
  nowMs(): number;
}

interface RawFlags {
  stepsMax: string;
  timeoutMs?: string;
  json?: boolean;
  resolve?: boolean;
  resolveStepsMax: string;
}

const EXIT = { ok: 0, illegal: 1, usage: 2, unknown: 3 } as const;

function intFlag(flag: string, text: string): number | string {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1)
    return `${flag} ${JSON.stringify(text)} is not allowed: expected an integer >= 1`;
  return value;
}

function buildProgram(io: LincheckCliIo): Command {
  return new Command('lincheck')
    .description('Check a JSON key-value history for linearizability (Porcupine-style search).')
    .argument('<file>', 'the history file (format shoal-history, version 1)')
    .option(
      '--steps-max <n>',
      'search steps before giving up as unknown',
      String(DEFAULT_CHECK_BUDGET.stepsMax),
    )
    .option('--timeout-ms <n>', 'wall-clock bound on the search (unknown when reached)')
    .option('--json', 'print the result as JSON instead of text')
    .option(
      '--resolve',
      're-check the keys left unknown on their own: narrowed (open writes moved later), truncated, with growing budgets',
    )
    .option(
      '--resolve-steps-max <n>',
      'largest step budget of one re-check of one key (with --resolve)',
      String(DEFAULT_RESOLVE_OPTIONS.stepsMax),
    )
    .exitOverride()
    .configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(t) });
}

function readHistory(file: string): KvHistory {
  const size = statSync(file).size;
  if (size > HISTORY_FILE_BYTES_MAX)
    throw new Error(
      `${file} is ${size} bytes, over HISTORY_FILE_BYTES_MAX (${HISTORY_FILE_BYTES_MAX})`,
    );
  return parseHistoryFile(readFileSync(file, 'utf8'));
}

/** Runs the lincheck CLI on `argv` (process.argv shape); returns the exit code. */
export function runLincheckCli(argv: readonly string[], io: LincheckCliIo): number {
  const program = buildProgram(io);
  try {
    program.parse(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError)
      return err.code === 'commander.helpDisplayed' ? 0 : EXIT.usage;
    throw err;
  }
  const raw = program.opts<RawFlags>();
  const file = program.args[0] as string;
  const stepsMax = intFlag('--steps-max', raw.stepsMax);
  const timeoutMs =
    raw.timeoutMs === undefined ? undefined : intFlag('--timeout-ms', raw.timeoutMs);
  const resolveStepsMax = intFlag('--resolve-steps-max', raw.resolveStepsMax);
  for (const flag of [stepsMax, timeoutMs, resolveStepsMax])
    if (typeof flag === 'string') {
      io.err(`lincheck: ${flag}\n`);
      return EXIT.usage;
    }
  let history: KvHistory;
  try {
    history = readHistory(file);
  } catch (err) {
    const code = hasErrorCode(err, 'ERR_HISTORY_INVALID') ? 'ERR_HISTORY_INVALID: ' : '';
    io.err(`lincheck: ${file}: ${code}${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.usage;
  }
  const budget: CheckBudget = {
    ...DEFAULT_CHECK_BUDGET,
    stepsMax: stepsMax as number,
    ...(timeoutMs === undefined
      ? {}
      : { deadline: { nowMs: io.nowMs, atMs: io.nowMs() + (timeoutMs as number) } }),
  };
  const checked =
    raw.resolve === true
      ? resolveKvHistory(history.operations, budget, { stepsMax: resolveStepsMax as number })
      : checkKvHistory(history.operations, budget);
  const { result, text } = checked;
  const resolution = 'keys' in checked ? { resolved: checked.keys } : {};
  if (raw.json === true)
    io.out(
      `${JSON.stringify({ file, source: history.source, ...result, ...resolution }, null, 2)}\n`,
    );
  else io.out(`${history.source === undefined ? '' : `source: ${history.source}\n`}${text}\n`);
  return EXIT[result.verdict];
}
