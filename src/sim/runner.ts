/**
 * The seed runner (TigerBeetle's VOPR): builds a world from one seed (clock, network, nodes with
 * forked Rng streams, disks), lets a scenario set up its nodes and checkers, then runs
 *
 * 1. the safety phase: `durationMs` of virtual time under the enabled faults, checkers after
 *    every event;
 * 2. the liveness phase: every fault healed, and the scenario's liveness condition must hold
 *    within `livenessDeadlineMs`.
 *
 * A run is a pure function of (scenario, options): the result's trace is identical byte for
 * byte for the same inputs. A thrown assertion is caught and reported as a violation, so a bug
 * shows its seed instead of a stack trace without context.
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { Rng } from '../base/rng.js';
import { firstViolation, type Checker, type Violation } from './checkers.js';
import { SimClock, type NodeClock } from './clock.js';
import {
  Nemesis,
  diskFaultsFor,
  formatFaults,
  linkConfigFor,
  skewFor,
  type FaultKind,
  type FaultTargets,
} from './faults.js';
import { SimNetwork, type NetworkStats } from './network.js';
import { NO_DISK_FAULTS, SimStorage } from './storage.js';
import { Trace, simAddress } from './trace.js';

/** Most simulated nodes in one run. */
export const SIM_NODES_MAX = 10_000;
/** Default bound on events in one run (both phases). */
export const SIM_EVENTS_MAX = 5_000_000;
/** Default time the liveness condition has after the heal. */
export const LIVENESS_DEADLINE_MS = 10_000;

export interface SimNode {
  readonly name: string;
  readonly address: Address;
  /** This node's skewed clock: timers belong to the node (pause parks them, crash kills them). */
  readonly clock: NodeClock;
  /** This node's own stream (`rng.fork('node/<name>')`). */
  readonly rng: Rng;
  readonly storage: SimStorage;
  /** How many times it lost its data dir (amnesia): each loss is a new identity. */
  identity: number;
}

export interface SimWorld {
  readonly seed: number;
  readonly clock: SimClock;
  readonly network: SimNetwork;
  readonly trace: Trace;
  readonly nodes: readonly SimNode[];
  readonly faults: ReadonlySet<FaultKind>;
  /** The scenario's own stream (inputs, choices not tied to one node). */
  readonly rng: Rng;
  /**
   * A booted node stopped itself (a fatal error, such as a failed durable write): the nemesis
   * takes it down and restarts it later, as a supervisor would. Scenarios call it from the
   * node's `error` event (bootSimNode does).
   */
  halted(node: SimNode): void;
}

/** One run of a scenario: its view for the checkers and its reactions to node faults and phases. */
export interface ScenarioRun<View> {
  readonly view: View;
  readonly checkers: readonly Checker<View>[];
  /** The node crashed: the network and disk already lost their part; drop in-memory state. */
  crashNode(node: SimNode): void;
  /** Boot the node again from its disk and attach it to the network. */
  restartNode(node: SimNode): void;
  /**
   * Amnesia: `node` (down) lost its data dir; its next boot has a new identity (simNodeId) and
   * an empty disk. Only scenarios whose checkers follow identities implement it.
   */
  forgetNode?(node: SimNode): void;
  /** Whether the protocol claims to survive `node` losing its data dir now (default: yes). */
  mayForgetNode?(node: SimNode): boolean;
  /** Faults are healed; from now on the liveness condition is measured. */
  startLiveness(): void;
  /** Whom the nemesis's targeted faults aim at (the leader, the last voter), when known. */
  faultTargets?(): FaultTargets;
  livenessReached(): boolean;
  /** Why the liveness condition does not hold (what is missing). */
  describeLivenessFailure(): string;
  /**
   * How long the liveness condition may take after the heal when the run's options do not say:
   * the protocol's own bound for this config and size (a LAN-timed cluster needs a reconnect
   * interval, not the SIM_MIN-sized default). @defaultValue LIVENESS_DEADLINE_MS
   */
  livenessDeadlineMs?(): number;
}

export interface Scenario<View> {
  readonly name: string;
  readonly description: string;
  readonly nodesMin: number;
  setup(world: SimWorld): ScenarioRun<View>;
}

export interface RunOptions {
  seed: number;
  nodes: number;
  faults: ReadonlySet<FaultKind>;
  /** Length of the safety phase, virtual ms. */
  durationMs: number;
  livenessDeadlineMs?: number;
  eventsMax?: number;
  traceLinesMax?: number;
}

export interface RunResult {
  readonly scenario: string;
  readonly options: Readonly<RunOptions>;
  readonly violation: Violation | undefined;
  readonly trace: readonly string[];
  readonly traceTruncated: number;
  readonly events: number;
  readonly virtualTimeMs: number;
  readonly network: NetworkStats;
}

function checkOptions(scenario: Scenario<unknown>, options: RunOptions): void {
  const rules: [string, number, number, number][] = [
    ['seed', options.seed, 0, Number.MAX_SAFE_INTEGER],
    ['nodes', options.nodes, scenario.nodesMin, SIM_NODES_MAX],
    ['durationMs', options.durationMs, 0, 1_000_000_000],
    ['livenessDeadlineMs', options.livenessDeadlineMs ?? LIVENESS_DEADLINE_MS, 1, 1_000_000_000],
    ['eventsMax', options.eventsMax ?? SIM_EVENTS_MAX, 1, Number.MAX_SAFE_INTEGER],
  ];
  for (const [field, value, min, max] of rules) {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `${field} (${value}) must be an integer in ${min}..${max} for scenario ${scenario.name}`,
      );
    }
  }
}

function buildWorld(options: RunOptions, onHalt: (node: SimNode) => void): SimWorld {
  const rng = new Rng(options.seed);
  const clock = new SimClock();
  const trace = new Trace(clock, options.traceLinesMax);
  const network = new SimNetwork({
    clock,
    rng: rng.fork('network'),
    trace,
    link: linkConfigFor(options.faults),
  });
  const nodes: SimNode[] = [];
  for (let i = 1; i <= options.nodes; i++) {
    const name = `n${i}`;
    const address = simAddress(name);
    const nodeRng = rng.fork(`node/${name}`);
    const nodeClock = clock.nodeClock(address, skewFor(options.faults, nodeRng.fork('skew')));
    const storage = new SimStorage({
      rng: nodeRng.fork('storage'),
      tornWrites: options.faults.has('crash') || options.faults.has('power'),
      clock: nodeClock,
    });
    storage.setFaults(diskFaultsFor(options.faults));
    nodes.push({ name, address, clock: nodeClock, rng: nodeRng, storage, identity: 0 });
  }
  return {
    seed: options.seed,
    clock,
    network,
    trace,
    nodes,
    faults: options.faults,
    rng: rng.fork('scenario'),
    halted: onHalt,
  };
}

/** Runs one seed of `scenario`; never throws for a bug in the system under test (it becomes the violation). */
export function runScenario<View>(scenario: Scenario<View>, options: RunOptions): RunResult {
  checkOptions(scenario, options);
  let halted = (_node: SimNode): void => undefined;
  const world = buildWorld(options, (node) => halted(node));
  const violation = runPhases(scenario, world, options, (handler) => (halted = handler));
  return {
    scenario: scenario.name,
    options,
    violation,
    trace: world.trace.lines,
    traceTruncated: world.trace.truncated,
    events: world.clock.eventsRun,
    virtualTimeMs: world.clock.now(),
    network: world.network.stats(),
  };
}

function runPhases<View>(
  scenario: Scenario<View>,
  world: SimWorld,
  options: RunOptions,
  onHalt: (handler: (node: SimNode) => void) => void,
): Violation | undefined {
  const { clock } = world;
  const eventsMax = options.eventsMax ?? SIM_EVENTS_MAX;
  let violation: Violation | undefined;
  const caught = (err: unknown): Violation => ({
    checker: 'assertion',
    timeMs: clock.now(),
    message: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
  });
  try {
    const run = scenario.setup(world);
    const byAddress = new Map(world.nodes.map((n) => [n.address as string, n]));
    const nodeOf = (address: Address): SimNode => byAddress.get(address) as SimNode;
    const nemesis = new Nemesis({
      clock,
      rng: world.rng.fork('nemesis'),
      network: world.network,
      trace: world.trace,
      faults: world.faults,
      nodes: world.nodes.map((n) => n.address),
      nodeClocks: new Map(world.nodes.map((n) => [n.address, n.clock])),
      hooks: {
        crash: (address) => {
          nodeOf(address).storage.crash();
          run.crashNode(nodeOf(address));
        },
        halt: (address) => run.crashNode(nodeOf(address)),
        restart: (address) => run.restartNode(nodeOf(address)),
        ...(run.forgetNode === undefined
          ? {}
          : {
              mayForget: (address: Address) => run.mayForgetNode?.(nodeOf(address)) ?? true,
              forget: (address: Address) => {
                const node = nodeOf(address);
                node.storage.wipe();
                node.identity++;
                run.forgetNode?.(node);
              },
            }),
        targets: () => run.faultTargets?.() ?? {},
      },
    });
    // Out of the node's own call stack: the halting driver is still unwinding.
    onHalt((node) => clock.at(clock.now(), () => nemesis.halted(node.address)));
    const check = (): boolean =>
      (violation = firstViolation(run.checkers, run.view, clock.now())) !== undefined;
    nemesis.start();
    world.trace.add('phase safety');
    const safety = clock.runUntil(options.durationMs, { eventsMax, afterEvent: check });
    if (violation !== undefined) return violation;
    if (safety.stop === 'events_max') return eventsExhausted(eventsMax, clock.now());
    world.trace.add('phase liveness');
    nemesis.healAll();
    for (const node of world.nodes) node.storage.setFaults(NO_DISK_FAULTS);
    run.startLiveness();
    if (check()) return violation;
    return runLiveness(run, world, options, eventsMax - safety.events, () =>
      check() ? violation : undefined,
    );
  } catch (err) {
    return violation ?? caught(err);
  }
}

function eventsExhausted(eventsMax: number, timeMs: number): Violation {
  return {
    checker: 'runner',
    timeMs,
    message: `eventsMax (${eventsMax}) reached: raise --events-max or look for a timer that reschedules itself at the same time`,
  };
}

function runLiveness<View>(
  run: ScenarioRun<View>,
  world: SimWorld,
  options: RunOptions,
  eventsMax: number,
  check: () => Violation | undefined,
): Violation | undefined {
  const { clock } = world;
  const healedAtMs = clock.now();
  const deadlineMs =
    healedAtMs + (options.livenessDeadlineMs ?? run.livenessDeadlineMs?.() ?? LIVENESS_DEADLINE_MS);
  let violation: Violation | undefined;
  const outcome = clock.runUntil(deadlineMs, {
    eventsMax,
    afterEvent: () => (violation = check()) !== undefined || run.livenessReached(),
  });
  if (violation !== undefined) return violation;
  if (outcome.stop === 'events_max')
    return eventsExhausted(options.eventsMax ?? SIM_EVENTS_MAX, clock.now());
  if (run.livenessReached()) {
    world.trace.add('phase done: liveness reached');
    return undefined;
  }
  return {
    checker: 'liveness',
    timeMs: clock.now(),
    message: `not reached within ${deadlineMs - healedAtMs} ms of the heal at t=${healedAtMs}ms: ${run.describeLivenessFailure()}`,
  };
}

/** The exact command that replays a run. */
export function replayCommand(scenario: string, options: RunOptions): string {
  const parts = [
    'npm run sim --',
    `--seed ${options.seed}`,
    `--scenario ${scenario}`,
    `--nodes ${options.nodes}`,
    `--faults ${formatFaults(options.faults)}`,
    `--duration-ms ${options.durationMs}`,
  ];
  if (options.livenessDeadlineMs !== undefined)
    parts.push(`--liveness-deadline-ms ${options.livenessDeadlineMs}`);
  if (options.eventsMax !== undefined) parts.push(`--events-max ${options.eventsMax}`);
  return parts.join(' ');
}

/** Where a run happened, for the failure report. */
export interface RunEnvironment {
  commit: string;
  nodeVersion: string;
}

/** The failure report: the violation, the seed, the commit, the Node version and the replay command. */
export function formatFailure(result: RunResult, env: RunEnvironment): string {
  const v = result.violation;
  const lastLines = result.trace.slice(-10).map((line) => `    ${line}`);
  return [
    `FAIL ${result.scenario} seed=${result.options.seed}: ${v === undefined ? 'no violation' : `[${v.checker}] at t=${v.timeMs}ms: ${v.message}`}`,
    `  commit: ${env.commit}   node: ${env.nodeVersion}   events: ${result.events}   virtual time: ${result.virtualTimeMs} ms`,
    '  last trace lines:',
    ...lastLines,
    `  replay: ${replayCommand(result.scenario, result.options)}`,
  ].join('\n');
}

/** The one-line success summary. */
export function formatSummary(result: RunResult): string {
  const n = result.network;
  const dropped = Object.entries(n.dropped)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return (
    `ok ${result.scenario} seed=${result.options.seed} nodes=${result.options.nodes} faults=${formatFaults(result.options.faults)}: ` +
    `${result.events} events, ${result.virtualTimeMs} ms virtual, delivered packet=${n.delivered.packet} stream=${n.delivered.stream}, ` +
    `duplicated=${n.duplicated}, dropped ${dropped === '' ? 'none' : dropped}`
  );
}
