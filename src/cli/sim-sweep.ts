/**
 * `npm run sim:sweep -- [flags]`: the long simulation sweep (STYLE.md section 8): seeds x fault
 * mixes x cluster sizes x scenarios, bounded by `--seeds` and `--time-budget-s` (wall time; the
 * sweep stops starting runs once it is spent, so a budget cut is reported, never a hang). Prints
 * a summary table and, for every failure, the report with its exact replay command. Exit code 1
 * when any run failed, 2 for a bad flag.
 */
import { Command, CommanderError } from 'commander';
import { performance } from 'node:perf_hooks';
import { parseFaults, formatFaults } from '../sim/faults.js';
import { formatFailure, runScenario, type RunOptions, type RunResult } from '../sim/runner.js';
import { SCENARIOS } from '../sim/scenarios/index.js';
import { gitCommit } from './sim-command.js';

interface Cell {
  scenario: string;
  nodes: number;
  faults: string;
  runs: number;
  failures: number;
  events: number;
  wallMs: number;
}

interface SweepFlags {
  seeds: string;
  seedStart: string;
  nodes: string;
  faults: string;
  scenarios: string;
  durationMs: string;
  timeBudgetS: string;
}

const list = (text: string, separator: string): string[] =>
  text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s !== '');

function positiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new Error(`${flag} ${JSON.stringify(text)} must be a non-negative integer`);
  return value;
}

function table(cells: readonly Cell[]): string {
  const rows = cells.map(
    (c) =>
      `| ${c.scenario} | ${c.nodes} | ${c.faults} | ${c.runs} | ${c.failures} | ${c.events} | ${Math.round(c.wallMs)} |`,
  );
  return [
    '| scenario | nodes | faults | runs | failures | events | wall ms |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

function parse(argv: readonly string[]): SweepFlags | undefined {
  const program = new Command('sim:sweep')
    .description(
      'Run many seeds of the simulation scenarios under fault mixes; report every failure with its replay command.',
    )
    .option('--seeds <n>', 'seeds per cell', '20')
    .option('--seed-start <n>', 'first seed', '1')
    .option('--nodes <list>', 'comma list of cluster sizes', '5,20')
    .option(
      '--faults <list>',
      'semicolon list of fault mixes (each none, all or a comma list)',
      'none;loss;dup,reorder,skew;crash;partition;pause;all',
    )
    .option('--scenarios <list>', 'comma list of scenarios', 'swim,swim-loss10')
    .option('--duration-ms <n>', 'virtual length of each safety phase', '20000')
    .option('--time-budget-s <n>', 'wall-time budget of the whole sweep', '600')
    .exitOverride();
  try {
    program.parse(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) return undefined;
    throw err;
  }
  return program.opts<SweepFlags>();
}

/**
 * Yields to the event loop between runs: what a run left for later (a halted node's `close`, a
 * promise chain) completes and is collected. A synchronous loop kept every halted node's world
 * alive until the sweep ended (a 10,000-run Raft sweep ran out of heap at 4 GB).
 */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs the sweep on `argv`; resolves to the exit code. */
export async function runSweep(
  argv: readonly string[],
  out: (text: string) => void,
): Promise<number> {
  const flags = parse(argv);
  if (flags === undefined) return 2;
  const seeds = positiveInt('--seeds', flags.seeds);
  const seedStart = positiveInt('--seed-start', flags.seedStart);
  const durationMs = positiveInt('--duration-ms', flags.durationMs);
  const deadline = performance.now() + positiveInt('--time-budget-s', flags.timeBudgetS) * 1000;
  const cells: Cell[] = [];
  const failures: RunResult[] = [];
  let cut = false;
  for (const name of list(flags.scenarios, ',')) {
    const scenario = SCENARIOS.get(name);
    if (scenario === undefined)
      throw new Error(
        `--scenarios: unknown scenario ${JSON.stringify(name)}; expected one of ${[...SCENARIOS.keys()].join(', ')}`,
      );
    for (const nodes of list(flags.nodes, ',').map((n) => positiveInt('--nodes', n))) {
      // A size the scenario cannot run (the join scenario needs founders and a joiner) is skipped.
      if (nodes < scenario.nodesMin) continue;
      for (const mix of list(flags.faults, ';')) {
        const faults = parseFaults(mix);
        const cell: Cell = {
          scenario: name,
          nodes,
          faults: formatFaults(faults),
          runs: 0,
          failures: 0,
          events: 0,
          wallMs: 0,
        };
        cells.push(cell);
        for (let seed = seedStart; seed < seedStart + seeds; seed++) {
          if (performance.now() > deadline) {
            cut = true;
            break;
          }
          const options: RunOptions = { seed, nodes, faults, durationMs, traceLinesMax: 20_000 };
          const started = performance.now();
          const result = runScenario(scenario, options);
          await nextTurn();
          cell.wallMs += performance.now() - started;
          cell.runs++;
          cell.events += result.events;
          if (result.violation !== undefined) {
            cell.failures++;
            failures.push(result);
          }
        }
      }
    }
  }
  out(`${table(cells)}\n`);
  if (cut) out(`time budget of ${flags.timeBudgetS} s spent: later runs were not started\n`);
  const env = { commit: gitCommit(), nodeVersion: process.version };
  for (const result of failures) out(`\n${formatFailure(result, env)}\n`);
  out(`\n${failures.length} failure(s) in ${cells.reduce((sum, c) => sum + c.runs, 0)} runs\n`);
  return failures.length > 0 ? 1 : 0;
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) process.exitCode = await runSweep(process.argv, (text) => process.stdout.write(text));
