/**
 * How many swim nodes one Node.js process hosts on real timers and real sockets (LAN profile)
 * while using under half a core and declaring nobody suspect or dead. N steps up (250, 500,
 * 1000, ...) in one growing cluster. Growth is paced as a deployment would pace it: a batch of
 * `--batch` nodes starts (each joining through a random node already in, so no single seed takes
 * the whole storm), and the next batch starts only once every node holds every other one alive
 * (bounded by `--absorb-timeout-s`). After a settle, process CPU (process.cpuUsage) is measured
 * over a steady window.
 *
 * False positives (suspect or dead events about members that are running) are counted over the
 * whole run, growth included, and reported for growth and for the steady window separately. The
 * event-loop delay (perf_hooks.monitorEventLoopDelay, p99 and max) shows whether the one loop
 * stayed healthy; the process's open file descriptors show what the sockets cost.
 *
 * Stops at the first step that does not absorb a batch in time, has a false positive, uses more
 * than `--cpu-max` of one core in the window, or when `--time-limit-s` would be exceeded.
 *
 * `npx tsx bench/membership-scale.ts [--steps 250,500,1000] [--batch 25] [--absorb-timeout-s 60] [--window-s 10] [--cpu-max 0.5] [--time-limit-s 600]`
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { MemberEvent } from '../src/node/events.js';
import type { ShoalNode } from '../src/node/node.js';
import { Cluster, falsePositives, waitUntil, type LoggedEvent } from './lib-cluster.js';
import {
  machineNote,
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  isMain,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';

const SETTLE_MS = 5000;
const ABSORB_POLL_MS = 50;
/** The next batch waits for a one-second sample of event-loop delay with p99 under this. */
const LOOP_HEALTHY_P99_MS = 50;
const LOOP_SAMPLE_MS = 1000;

interface Settings {
  batch: number;
  absorbTimeoutMs: number;
  windowMs: number;
  cpuMax: number;
  deadlineMs: number;
}

interface Phase {
  ms: number;
  cpuCores: number;
  loopP99Ms: number;
  loopMaxMs: number;
  falseSuspect: number;
  falseDead: number;
}

interface Step {
  n: number;
  /** Undefined when a batch was not absorbed in time (the window was not measured). */
  grow: (Phase & { batches: number; slowestBatchMs: number }) | undefined;
  window: Phase | undefined;
  /** View entries missing at the window's end (strays not yet healed by push-pull). */
  missingEnd: number;
  fdsPeak: number;
  fdsEnd: number;
  rssMb: number;
}

/**
 * Each node's view, rebuilt from its member events so that "every view is complete" costs O(N)
 * to check instead of listing N members on each of N nodes (a million objects per poll at 1,000).
 */
class ViewTracker {
  private readonly views: Map<string, MemberEvent['type']>[] = [];
  private readonly aliveOthers: number[] = [];

  observe(e: LoggedEvent): void {
    const view = (this.views[e.observer] ??= new Map());
    const before = view.get(e.targetId);
    const after = e.type === 'joined' ? 'alive' : e.type === 'updated' ? before : e.type;
    if (after === undefined || after === before) return;
    view.set(e.targetId, after);
    const delta = (after === 'alive' ? 1 : 0) - (before === 'alive' ? 1 : 0);
    this.aliveOthers[e.observer] = (this.aliveOthers[e.observer] ?? 0) + delta;
  }

  /** View entries missing: over the first `n` nodes, others not held alive (0 when every view is complete). */
  missing(n: number): number {
    let missing = 0;
    for (let i = 0; i < n; i++) missing += n - 1 - (this.aliveOthers[i] ?? 0);
    return missing;
  }
}

/**
 * Missing view entries a batch may leave behind and still count as absorbed. Gossip misses a
 * node with probability about e^-retransmitLimit per update (12 to 16 sends at these sizes, so a
 * few in a million); such a stray is healed by the periodic push-pull within minutes, costs
 * nothing meanwhile, and waiting for it would stall the pacing, not protect the event loop.
 */
function strayEntriesMax(n: number): number {
  return Math.max(1, Math.floor(n / 100));
}

/** Which nodes' views (read from the nodes themselves, once) miss whom: diagnostics for a stall. */
function describeGaps(cluster: Cluster): string {
  const gaps: string[] = [];
  for (const node of cluster.nodes) {
    const states = new Map(node.members().map((m) => [m.name, m.state]));
    const missing = cluster.nodes
      .filter((other) => states.get(other.name) !== 'alive')
      .map((other) => `${other.name}:${states.get(other.name) ?? 'unknown'}`);
    if (missing.length > 0) gaps.push(`${node.name} lacks ${missing.slice(0, 5).join(' ')}`);
  }
  if (gaps.length === 0) return 'every view is complete when read directly';
  const lacked = cluster.nodes.find((node) => gaps[0]?.includes(` ${node.name}:`));
  const stats =
    lacked === undefined
      ? ''
      : ` | ${lacked.name}: ${JSON.stringify(lacked.stats())} self ${JSON.stringify(lacked.members().find((m) => m.id === lacked.id))}`;
  return gaps.slice(0, 3).join('; ') + stats;
}

/** Open file descriptors of this process (Linux /proc); active handles elsewhere, as a proxy. */
function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return process.getActiveResourcesInfo().length;
  }
}

/** Measures CPU, loop delay and false positives from now until `end()` is called. */
function startPhase(cluster: Cluster, loop: IntervalHistogram): { end: () => Phase } {
  const fromMs = performance.now();
  const cpuBefore = process.cpuUsage();
  loop.reset();
  return {
    end: () => {
      const cpu = process.cpuUsage(cpuBefore);
      const ms = performance.now() - fromMs;
      const fp = falsePositives(
        cluster.events,
        new Set(cluster.nodes.map((node) => node.id)),
        fromMs,
      );
      return {
        ms,
        cpuCores: (cpu.user + cpu.system) / (ms * 1000),
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
        falseSuspect: fp.suspect,
        falseDead: fp.dead,
      };
    },
  };
}

/** Starts up to `count` nodes at once, each joining through a random node already running. */
async function addBatch(cluster: Cluster, count: number): Promise<void> {
  if (cluster.nodes.length === 0) {
    await cluster.add({ name: 'n0', seeds: [] });
    count--;
  }
  const existing = cluster.nodes.length;
  const batch: Promise<ShoalNode>[] = [];
  for (let i = existing; i < existing + count; i++) {
    const via = cluster.nodes[Math.floor(Math.random() * existing)] as ShoalNode;
    batch.push(cluster.add({ name: `n${i}`, seeds: [via.address] }));
  }
  await Promise.all(batch);
}

/** Waits (up to `boundMs`) for a sample of event-loop delay whose p99 is healthy; false if none came. */
async function waitLoopHealthy(gate: IntervalHistogram, boundMs: number): Promise<boolean> {
  const deadlineMs = performance.now() + boundMs;
  do {
    gate.reset();
    await sleep(LOOP_SAMPLE_MS);
    if (gate.percentile(99) / 1e6 < LOOP_HEALTHY_P99_MS) return true;
  } while (performance.now() < deadlineMs);
  return false;
}

/** What every step works on: the cluster, its views, and the loop-delay histograms. */
interface Run {
  cluster: Cluster;
  tracker: ViewTracker;
  /** Per phase (reset at each phase's start). */
  loop: IntervalHistogram;
  /** For the pacing gate (reset per sample). */
  gate: IntervalHistogram;
  s: Settings;
}

/** Waits until the views hold the latest batch but for strays; samples the fd count about once a second. */
async function absorb(run: Run, boundMs: number): Promise<{ absorbed: boolean; fdsPeak: number }> {
  let fdsPeak = 0;
  let polls = 0;
  const absorbed = await waitUntil(
    () => {
      if (polls++ % 20 === 0) fdsPeak = Math.max(fdsPeak, openFds());
      const n = run.cluster.nodes.length;
      return run.tracker.missing(n) <= strayEntriesMax(n);
    },
    boundMs,
    ABSORB_POLL_MS,
  );
  return { absorbed, fdsPeak };
}

/**
 * Grows to `target` one batch at a time: a batch, then its absorption (views complete but for
 * strays), then a healthy event loop, before the next. Undefined when a batch is not absorbed.
 */
async function growPaced(
  run: Run,
  target: number,
): Promise<{ batches: number; slowestBatchMs: number; fdsPeak: number } | undefined> {
  const { cluster, s } = run;
  let batches = 0;
  let slowestBatchMs = 0;
  let fdsPeak = openFds();
  while (cluster.nodes.length < target) {
    const startMs = performance.now();
    await addBatch(cluster, Math.min(s.batch, target - cluster.nodes.length));
    const absorbed = await absorb(
      run,
      Math.min(s.absorbTimeoutMs, s.deadlineMs - performance.now()),
    );
    fdsPeak = Math.max(fdsPeak, absorbed.fdsPeak);
    if (!absorbed.absorbed) {
      process.stderr.write(
        `N=${cluster.nodes.length} not absorbed: ${run.tracker.missing(cluster.nodes.length)} view entries missing; ${describeGaps(cluster)}\n`,
      );
      return undefined;
    }
    const batchMs = performance.now() - startMs;
    const healthy = await waitLoopHealthy(
      run.gate,
      Math.min(s.absorbTimeoutMs, s.deadlineMs - performance.now()),
    );
    batches++;
    slowestBatchMs = Math.max(slowestBatchMs, batchMs);
    // Progress on stderr (the table goes to stdout): a long run shows where it is.
    process.stderr.write(
      `N=${cluster.nodes.length} absorbed in ${fmt(batchMs)} ms, loop ${healthy ? 'healthy' : 'still late'} after ${fmt(performance.now() - startMs)} ms, fds ${openFds()}\n`,
    );
  }
  return { batches, slowestBatchMs, fdsPeak };
}

async function measureStep(run: Run, n: number): Promise<Step> {
  const { cluster, tracker, loop, s } = run;
  const growing = startPhase(cluster, loop);
  const grown = await growPaced(run, n);
  if (grown !== undefined) await sleep(SETTLE_MS);
  const growPhase = growing.end();
  let window: Phase | undefined;
  if (grown !== undefined) {
    const measuring = startPhase(cluster, loop);
    await sleep(s.windowMs);
    window = measuring.end();
  }
  return {
    n,
    grow:
      grown === undefined
        ? undefined
        : { ...growPhase, batches: grown.batches, slowestBatchMs: grown.slowestBatchMs },
    window,
    missingEnd: tracker.missing(n),
    fdsPeak: Math.max(grown?.fdsPeak ?? 0, openFds()),
    fdsEnd: openFds(),
    rssMb: process.memoryUsage().rss / 1024 / 1024,
  };
}

/** Why `step` fails the goal, or undefined when it passes. */
function failure(step: Step, s: Settings): string | undefined {
  if (step.grow === undefined || step.window === undefined)
    return `N=${step.n}: a batch was not absorbed within ${s.absorbTimeoutMs / 1000} s`;
  if (step.grow.falseSuspect + step.grow.falseDead > 0)
    return `N=${step.n} had false positives while growing`;
  if (step.window.falseSuspect + step.window.falseDead > 0)
    return `N=${step.n} had false positives in the window`;
  if (step.missingEnd > strayEntriesMax(step.n))
    return `N=${step.n} ended the window with ${step.missingEnd} view entries missing`;
  if (step.window.cpuCores > s.cpuMax)
    return `N=${step.n} used ${fmt(step.window.cpuCores, 2)} cores > ${s.cpuMax}`;
  return undefined;
}

function settingsFrom(argv: readonly string[]): { steps: number[]; settings: Settings } {
  const flags = parseFlags(argv);
  checkFlags(flags, ['steps', 'batch', 'absorb-timeout-s', 'window-s', 'cpu-max', 'time-limit-s']);
  const settings: Settings = {
    batch: Math.max(1, flagNumber(flags, 'batch', 25)),
    absorbTimeoutMs: flagNumber(flags, 'absorb-timeout-s', 60) * 1000,
    windowMs: flagNumber(flags, 'window-s', 10) * 1000,
    cpuMax: flagNumber(flags, 'cpu-max', 0.5),
    deadlineMs: performance.now() + flagNumber(flags, 'time-limit-s', 600) * 1000,
  };
  return { steps: flagNumbers(flags, 'steps', [250, 500, 1000]), settings };
}

async function runSteps(
  steps: readonly number[],
  s: Settings,
): Promise<{ results: Step[]; verdict: string }> {
  const cluster = new Cluster({ loggedTypes: ['suspect', 'dead'] });
  const tracker = new ViewTracker();
  // A node's events about itself (joining → alive at start) are not part of its view of others.
  cluster.onEvent = (e) => {
    if (e.targetId !== cluster.nodes[e.observer]?.id) tracker.observe(e);
  };
  const run: Run = {
    cluster,
    tracker,
    loop: monitorEventLoopDelay({ resolution: 10 }),
    gate: monitorEventLoopDelay({ resolution: 10 }),
    s,
  };
  run.loop.enable();
  run.gate.enable();
  const results: Step[] = [];
  try {
    for (const n of steps) {
      if (s.deadlineMs - performance.now() < s.windowMs + SETTLE_MS + 10_000)
        return { results, verdict: `time limit reached before N=${n}` };
      const step = await measureStep(run, n);
      results.push(step);
      const failed = failure(step, s);
      if (failed !== undefined) return { results, verdict: failed };
    }
    return { results, verdict: 'all steps passed' };
  } finally {
    run.loop.disable();
    run.gate.disable();
    await cluster.close();
  }
}

function row(s: Step): string[] {
  const fp = (p: Phase | undefined): string =>
    p === undefined ? '—' : `${p.falseSuspect} / ${p.falseDead}`;
  const loopMs = (p: Phase | undefined): string =>
    p === undefined ? '—' : `${fmt(p.loopP99Ms)} (${fmt(p.loopMaxMs)})`;
  return [
    String(s.n),
    s.grow === undefined ? 'not absorbed' : `${fmt(s.grow.ms / 1000)} (${s.grow.batches})`,
    fmt(s.grow === undefined ? undefined : s.grow.slowestBatchMs / 1000, 1),
    fmt(s.grow?.cpuCores, 2),
    loopMs(s.grow),
    fp(s.grow),
    fmt(s.window?.cpuCores, 3),
    fmt(s.window === undefined ? undefined : (s.window.cpuCores * 1e6) / s.n, 0),
    loopMs(s.window),
    fp(s.window),
    String(s.missingEnd),
    `${s.fdsPeak} / ${s.fdsEnd}`,
    fmt(s.rssMb),
  ];
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const { steps, settings } = settingsFrom(argv);
  const { results, verdict } = await runSteps(steps, settings);
  const passing = results.filter((step) => failure(step, settings) === undefined);
  return [
    `Nodes per process, LAN profile, real timers and sockets. Growth: batches of ${settings.batch}, each absorbed (every view complete but for ` +
      `at most N/100 stray entries, which push-pull heals) before the next; missing view entries are counted again at the window's end. ` +
      `"grow" spans growth + ${SETTLE_MS / 1000} s settle. Window: ${settings.windowMs / 1000} s of steady state; CPU = process.cpuUsage, in cores. ` +
      `Loop delay = event-loop delay p99 (max), ms. fds = open descriptors, peak while growing / at window end. ` +
      `Largest passing N: **${passing.at(-1)?.n ?? 'none'}** (${verdict}). ${machineNote()}`,
    '',
    table(
      [
        'N',
        'grow s (batches)',
        'slowest batch s',
        'grow CPU cores',
        'grow loop delay ms',
        'grow false suspect / dead',
        'window CPU cores',
        'CPU µs/s per node',
        'window loop delay ms',
        'window false suspect / dead',
        'missing view entries',
        'fds',
        'RSS MB',
      ],
      results.map(row),
    ),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
