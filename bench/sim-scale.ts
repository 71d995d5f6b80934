/**
 * Simulator scale bench (membership issue goal: 10,000 members for 10 minutes of protocol time
 * in under 10 minutes of wall time). Runs the membership core on the generic driver per node
 * (lib-sim-membership.ts) over MemoryTransport on one SimNetwork with LAN timings, no faults,
 * and reports wall time per protocol minute.
 *
 * Members start converged, as a cluster that has been running a while (`simMembershipCluster`,
 * lib-sim-dataplane.ts): each state is started alone, then merges one push-pull carrying every
 * member's record (the core's own join path, `mergeRemoteState`), its broadcast queue is emptied
 * (everyone already knows everything), and its next push-pull is put at a random point of the
 * scaled push-pull period (a running cluster's push-pulls are spread out; a fresh start would
 * have all N at once).
 * Memory is O(N^2): every node holds every member (about 61 bytes per record in the member
 * table, see docs/design/simulator.md "Scale").
 *
 * The process re-executes itself with a large heap and young generation (CHILD_NODE_FLAGS)
 * unless it already runs with them.
 *
 *   npx tsx bench/sim-scale.ts --nodes 1000 --minutes 10      (or `run()` from bench/run.ts)
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { simMembershipCluster } from './lib-sim-dataplane.js';

/**
 * Node flags for the measured process: a heap large enough for 10,000 x 10,000 records, and a
 * large young generation (semi-space, MB): the simulation allocates short-lived messages at a
 * high rate, and a bigger nursery means fewer scavenges and fewer objects promoted by accident.
 * `--expose-gc`: the heap is measured after a full collection, so it counts live data only.
 */
const CHILD_NODE_FLAGS = ['--max-old-space-size=19000', '--max-semi-space-size=64', '--expose-gc'];
const CHILD_ENV = 'SHOAL_SIM_SCALE_CHILD';

interface ScaleResult {
  nodes: number;
  minutes: number;
  setupMs: number;
  runMs: number;
  events: number;
  suspicions: number;
  deaths: number;
  heapMb: number;
  /** Typed-array backing stores (the member tables' numeric columns) live outside the JS heap. */
  arrayBuffersMb: number;
  rssMaxMb: number;
}

export function measure(nodes: number, minutes: number, seed = 1): ScaleResult {
  const started = performance.now();
  let suspicions = 0;
  let deaths = 0;
  const { clock } = simMembershipCluster(nodes, seed, (_, event) => {
    if (event.type === 'suspect') suspicions++;
    else if (event.type === 'dead') deaths++;
  });
  const setupMs = performance.now() - started;
  const outcome = clock.runUntil(minutes * 60_000, { eventsMax: Number.MAX_SAFE_INTEGER });
  const runMs = performance.now() - started - setupMs;
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  return {
    nodes,
    minutes,
    setupMs,
    runMs,
    events: outcome.events,
    suspicions,
    deaths,
    heapMb: memory.heapUsed / 2 ** 20,
    arrayBuffersMb: memory.arrayBuffers / 2 ** 20,
    rssMaxMb: process.resourceUsage().maxRSS / 1024,
  };
}

function table(results: readonly ScaleResult[]): string {
  const s = (msValue: number): string => (msValue / 1000).toFixed(1);
  const rows = results.map(
    (r) =>
      `| ${r.nodes} | ${r.minutes} | ${s(r.setupMs)} | ${s(r.runMs)} | ${(r.runMs / 1000 / r.minutes).toFixed(2)} | ${r.events} | ${Math.round(r.events / (r.runMs / 1000))} | ${r.suspicions} | ${r.deaths} | ${Math.round(r.heapMb)} | ${Math.round(r.arrayBuffersMb)} | ${Math.round(r.rssMaxMb)} |`,
  );
  return [
    '| nodes | protocol min | setup s | run s | wall s per protocol min | events | events/s | suspicions | deaths | heap MB (end, after GC) | array buffers MB | max RSS MB |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

/** The bench entry for bench/run.ts: a small cluster, so `npm run bench` stays quick. */
export function run(): Promise<string> {
  return Promise.resolve(
    `### sim-scale (LAN timings, converged start, no faults)\n\n${table([measure(200, 1)])}\n`,
  );
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer`);
  return value;
}

/** Runs this file again under CHILD_NODE_FLAGS; returns the child's exit code. */
function reexec(): number {
  const file = fileURLToPath(import.meta.url);
  const child = spawnSync(
    process.execPath,
    [...CHILD_NODE_FLAGS, '--import', 'tsx', file, ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      env: { ...process.env, [CHILD_ENV]: '1' },
    },
  );
  return child.status ?? 1;
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  if (process.env[CHILD_ENV] === undefined) process.exitCode = reexec();
  else process.stdout.write(`${table([measure(flag('--nodes', 1000), flag('--minutes', 10))])}\n`);
}
