/**
 * One Jepsen run (issue 14): a fresh network of namespaces, a fresh cluster of the system under
 * test inside it, the clients (workload.ts) and the nemesis (nemesis.ts) together for the run's
 * duration, then the cluster is stopped and the history checked by the linearizability checker
 * (src/sim/linearizability) with a wall-clock budget. The history and the nemesis log are saved
 * (`npm run lincheck -- FILE` re-checks a history). Whatever happens, every process is stopped
 * and every namespace deleted before the run returns or throws.
 *
 * A positive control run (`control`) reads with serializable gets: the checker must call its
 * history illegal, or the harness (or the checker) is not seeing what it should.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShoalError } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import { DEFAULT_CHECK_BUDGET, type Verdict } from '../../src/sim/linearizability/check.js';
import { formatHistoryFile } from '../../src/sim/linearizability/history-file.js';
import { resolveKvHistory } from '../../src/sim/linearizability/resolve.js';
import { checkKvHistory } from '../../src/sim/linearizability/kv-check.js';
import { HistoryRecorder } from '../../src/sim/linearizability/recorder.js';
import {
  planNemesis,
  recoveryMs,
  runNemesis,
  type NemesisEvent,
  type NemesisKind,
  type NemesisStep,
} from './nemesis.js';
import { NetnsNetwork, type CutMethod } from './netns.js';
import type { JepsenSystem } from './system.js';
import { runWorkload, type WorkloadOptions, type WorkloadStats } from './workload.js';

export interface RunOptions {
  /** Makes a fresh system object (one per run). */
  readonly system: () => JepsenSystem;
  readonly nemesis: NemesisKind;
  readonly seed: number;
  readonly durationMs: number;
  readonly members: number;
  readonly workload: WorkloadOptions;
  /** A positive control: serializable reads, expected to be flagged. */
  readonly control: boolean;
  readonly outDir: string;
  /** Wall-clock bound on the check, resolution included; past it the verdict is `unknown`. */
  readonly checkTimeoutMs: number;
  /**
   * Re-check the keys the check leaves unknown (narrowed, truncated, alone: resolve.ts) before
   * calling the run `unknown`. @defaultValue true
   */
  readonly resolve?: boolean;
  readonly log: (line: string) => void;
  /** Tests only: a network whose cuts do nothing. */
  readonly cutMethod?: CutMethod;
  /**
   * What happens to a planned fault that is due too late to heal before the run's recovery
   * window: `skip` it (the full matrix: runs keep their length), or `run` it and let the run
   * last longer (the short test in npm test, which must see every planned fault on a loaded
   * machine). @defaultValue 'skip'
   */
  readonly lateFaults?: 'skip' | 'run';
}

export interface RunResult {
  readonly system: string;
  readonly nemesis: NemesisKind;
  readonly seed: number;
  readonly control: boolean;
  readonly expected: 'ok' | 'illegal';
  readonly verdict: Verdict;
  /** Operations in the history (answered and open; calls refused before sending are dropped). */
  readonly operations: number;
  /** Operations the checker searched (open reads constrain nothing and are dropped). */
  readonly operationsChecked: number;
  readonly stats: WorkloadStats;
  readonly faults: readonly NemesisEvent[];
  /** Answered operations called after the last fault was undone: the cluster serves again. */
  readonly okAfterHeal: number;
  readonly checkMs: number;
  readonly steps: number;
  readonly historyFile: string;
  readonly nemesisFile: string;
  /** The checker's explanation (its first lines) when the verdict is not `ok`. */
  readonly explanation: string;
  /** Keys the first check left unknown and the resolution decided (empty without one). */
  readonly resolvedKeys: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nowMs = (): number => performance.now();
/** Explanation lines kept in a result (the history file has everything). */
const EXPLANATION_LINES_MAX = 30;

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9.]+/g, '-');
}

interface Recorded {
  readonly recorder: HistoryRecorder;
  readonly stats: WorkloadStats;
  readonly faults: NemesisEvent[];
  readonly plan: NemesisStep[];
}

/**
 * Clients keep going at least this long after the nemesis has undone its last fault, even past
 * the run's duration (a restart can end late), so every history ends with a healed cluster.
 */
export const POST_HEAL_MS = 3_000;

/**
 * Clients and nemesis together. The clients run until the duration has passed and the nemesis
 * has been done for POST_HEAL_MS; a nemesis failure ends them at once and is rethrown.
 */
async function record(
  options: RunOptions,
  system: JepsenSystem,
  network: NetnsNetwork,
): Promise<Recorded> {
  const rng = new Rng(options.seed);
  const plan = planNemesis(
    options.nemesis,
    options.durationMs,
    options.members,
    rng.fork('nemesis'),
  );
  const recorder = new HistoryRecorder(nowMs);
  const startMs = nowMs();
  const endMs = startMs + options.durationMs;
  const stop = { atMs: Infinity };
  const workload = runWorkload(
    {
      endpoints: system.endpoints(),
      options: options.workload,
      rng: rng.fork('clients'),
      recorder,
      nowMs,
      sleep,
    },
    () => stop.atMs,
  );
  const faults: NemesisEvent[] = [];
  const ctx = { system, network, members: options.members, rng: rng.fork('targets'), nowMs, sleep };
  const lastEndMs = endMs - recoveryMs(options.durationMs);
  const latestEndMs = options.lateFaults === 'run' ? Infinity : lastEndMs;
  const nemesis = runNemesis(ctx, plan, startMs, latestEndMs, (event) => {
    faults.push(event);
    options.log(`  fault ${describeFault(event, startMs)}`);
  }).then(
    () => {
      stop.atMs = Math.max(endMs, nowMs() + POST_HEAL_MS);
    },
    (err: unknown) => {
      stop.atMs = nowMs();
      throw err;
    },
  );
  const [stats] = await Promise.all([workload, nemesis]);
  return { recorder, stats, faults, plan };
}

export function describeFault(event: NemesisEvent, originMs: number): string {
  const at = ((event.startMs - originMs) / 1000).toFixed(1);
  const held = event.endMs === undefined ? '?' : ((event.endMs - event.startMs) / 1000).toFixed(1);
  const links =
    event.links.length === 0 ? '' : ` cut ${event.links.map(([a, b]) => `${a}-${b}`).join(' ')}`;
  return `${event.kind} members [${event.members.join(',')}]${links} at ${at} s for ${held} s${event.note === undefined ? '' : ` (${event.note})`}`;
}

/** Runs one history end to end; see the module comment. */
export async function runJepsen(options: RunOptions): Promise<RunResult> {
  const system = options.system();
  const reason = system.unavailable();
  if (reason !== undefined)
    throw new ShoalError('ERR_JEPSEN_UNAVAILABLE', `${system.name}: ${reason}`);
  const label = `${system.name}, ${options.nemesis}${options.control ? ' (control)' : ''}, seed ${options.seed}`;
  options.log(`run: ${label}, ${options.durationMs / 1000} s`);
  const network = await NetnsNetwork.create(options.members, options.cutMethod);
  let recorded: Recorded;
  try {
    await system.start(network);
    await network.verify(system.peerPort);
    recorded = await record(options, system, network);
  } finally {
    await system.stop();
    await network.destroy();
  }
  return check(options, system.name, recorded);
}

function check(options: RunOptions, systemName: string, recorded: Recorded): RunResult {
  const { recorder, stats, faults, plan } = recorded;
  const operations = recorder.operations();
  const started = nowMs();
  const budget = {
    ...DEFAULT_CHECK_BUDGET,
    deadline: { nowMs, atMs: started + options.checkTimeoutMs },
  };
  const checked =
    options.resolve === false
      ? { ...checkKvHistory(operations, budget), keys: [] }
      : resolveKvHistory(operations, budget);
  const { result, text } = checked;
  const checkMs = nowMs() - started;
  mkdirSync(options.outDir, { recursive: true });
  const stem = join(
    options.outDir,
    `${slug(systemName)}-${options.nemesis}${options.control ? '-control' : ''}-seed${options.seed}`,
  );
  const source = `jepsen: ${systemName}, ${options.members} members, nemesis ${options.nemesis}, seed ${options.seed}, ${options.workload.clients} clients, ${options.workload.keys} keys, ${options.workload.reads} reads, ${options.durationMs} ms`;
  writeFileSync(`${stem}.history.json`, formatHistoryFile(recorder.toHistory(source)));
  writeFileSync(`${stem}.nemesis.json`, JSON.stringify({ source, plan, faults }, null, 1));
  const lastHealMs = Math.max(0, ...faults.map((f) => f.endMs ?? Infinity));
  const okAfterHeal = operations.filter(
    (op) => op.returnMs !== undefined && op.callMs >= lastHealMs,
  ).length;
  return {
    system: systemName,
    nemesis: options.nemesis,
    seed: options.seed,
    control: options.control,
    expected: options.control ? 'illegal' : 'ok',
    verdict: result.verdict,
    operations: operations.length,
    operationsChecked: result.parts.reduce((n, p) => n + p.operations, 0),
    stats,
    faults,
    okAfterHeal,
    checkMs,
    steps: result.steps,
    historyFile: `${stem}.history.json`,
    nemesisFile: `${stem}.nemesis.json`,
    explanation:
      result.verdict === 'ok' ? '' : text.split('\n').slice(0, EXPLANATION_LINES_MAX).join('\n'),
    resolvedKeys: checked.keys.filter((k) => k.verdict !== 'unknown').map((k) => k.key),
  };
}
