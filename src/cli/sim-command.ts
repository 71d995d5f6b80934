/**
 * `npm run sim -- --seed N ...`: runs one seed of a simulation scenario (src/sim/runner.ts).
 * Success prints a one-line summary and returns 0; a violation prints the report (violation,
 * seed, commit, Node version, replay command) and returns 1; a bad flag returns 2 with a message
 * naming the flag, the value and what is allowed. Returns the code instead of exiting so tests
 * can run it in-process.
 */
import { Command, CommanderError } from 'commander';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hasErrorCode } from '../base/errors.js';
import { FAULT_KINDS, parseFaults, type FaultKind } from '../sim/faults.js';
import {
  LIVENESS_DEADLINE_MS,
  SIM_EVENTS_MAX,
  SIM_NODES_MAX,
  formatFailure,
  formatSummary,
  runScenario,
  type RunOptions,
} from '../sim/runner.js';
import { DEFAULT_SCENARIO, SCENARIOS } from '../sim/scenarios/index.js';

export interface SimCliIo {
  out(text: string): void;
  err(text: string): void;
  /** The short commit hash for failure reports. */
  commit(): string;
}

/** Thrown for a bad flag value; becomes exit code 2. */
class UsageError extends Error {}

interface RawFlags {
  seed?: string;
  nodes: string;
  faults: string;
  scenario: string;
  durationMs: string;
  livenessDeadlineMs?: string;
  eventsMax?: string;
  trace?: string;
}

/** The short commit of the working tree, or 'unknown' outside a git checkout. */
export function gitCommit(): string {
  try {
    return (
      execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5_000,
      }).trim() || 'unknown'
    );
  } catch {
    return 'unknown';
  }
}

function intFlag(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `${flag} ${JSON.stringify(text)} is not allowed: expected an integer in ${min}..${max}`,
    );
  }
  return value;
}

function faultsFlag(text: string): ReadonlySet<FaultKind> {
  try {
    return parseFaults(text);
  } catch (err) {
    if (!hasErrorCode(err, 'ERR_INVALID_ARGUMENT')) throw err;
    throw new UsageError(
      `--faults ${JSON.stringify(text)} is not allowed: expected none, all, or a comma list of ${FAULT_KINDS.join(', ')}`,
    );
  }
}

function toOptions(raw: RawFlags, nodesMin: number): RunOptions {
  if (raw.seed === undefined)
    throw new UsageError('--seed is required: the seed to run (an integer >= 0), e.g. --seed 42');
  const options: RunOptions = {
    seed: intFlag('--seed', raw.seed, 0, Number.MAX_SAFE_INTEGER),
    nodes: intFlag('--nodes', raw.nodes, nodesMin, SIM_NODES_MAX),
    faults: faultsFlag(raw.faults),
    durationMs: intFlag('--duration-ms', raw.durationMs, 0, 1_000_000_000),
  };
  if (raw.livenessDeadlineMs !== undefined)
    options.livenessDeadlineMs = intFlag(
      '--liveness-deadline-ms',
      raw.livenessDeadlineMs,
      1,
      1_000_000_000,
    );
  if (raw.eventsMax !== undefined)
    options.eventsMax = intFlag('--events-max', raw.eventsMax, 1, Number.MAX_SAFE_INTEGER);
  return options;
}

function buildProgram(io: SimCliIo): Command {
  return new Command('sim')
    .description('Run one seed of a deterministic simulation scenario.')
    .option('--seed <n>', 'the seed (an integer >= 0); the same seed replays the same run')
    .option('--nodes <k>', 'number of simulated nodes', '5')
    .option('--faults <list>', `none, all, or a comma list of ${FAULT_KINDS.join(', ')}`, 'all')
    .option('--scenario <name>', `one of ${[...SCENARIOS.keys()].join(', ')}`, DEFAULT_SCENARIO)
    .option('--duration-ms <n>', 'virtual length of the safety phase', '10000')
    .option(
      '--liveness-deadline-ms <n>',
      `virtual time the liveness condition has after the heal (default ${LIVENESS_DEADLINE_MS})`,
    )
    .option('--events-max <n>', `most events in the run (default ${SIM_EVENTS_MAX})`)
    .option('--trace <file>', 'write the full trace to this file')
    .exitOverride()
    .configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(t) });
}

/** Runs the sim CLI on `argv` (process.argv shape); resolves the exit code. */
export function runSimCli(argv: readonly string[], io: SimCliIo): number {
  const program = buildProgram(io);
  try {
    program.parse(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' ? 0 : 2;
    throw err;
  }
  const raw = program.opts<RawFlags>();
  const scenario = SCENARIOS.get(raw.scenario);
  if (scenario === undefined) {
    io.err(
      `sim: --scenario ${JSON.stringify(raw.scenario)} is not allowed: expected one of ${[...SCENARIOS.keys()].join(', ')}\n`,
    );
    return 2;
  }
  let options: RunOptions;
  try {
    options = toOptions(raw, scenario.nodesMin);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`sim: ${err.message}\n`);
    return 2;
  }
  const result = runScenario(scenario, options);
  if (raw.trace !== undefined) writeFileSync(raw.trace, `${result.trace.join('\n')}\n`);
  if (result.violation === undefined) {
    io.out(`${formatSummary(result)}\n`);
    return 0;
  }
  io.err(`${formatFailure(result, { commit: io.commit(), nodeVersion: process.version })}\n`);
  return 1;
}
