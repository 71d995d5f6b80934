/**
 * How many swim nodes one Node.js process hosts on real timers and real sockets (LAN profile)
 * while using under half a core and declaring nobody suspect or dead. N steps up (100, 250, 500,
 * 1000, ...) in one growing cluster: each step adds nodes (each joins through a random node
 * already in, so no single seed takes the whole storm), waits for every view to be complete,
 * settles, then measures process CPU (process.cpuUsage) over a window and counts suspect/dead
 * events about live members. Stops at the first step over `--cpu-max` of one core, with a false
 * positive, that does not converge, or when `--time-limit-s` would be exceeded.
 *
 * `npx tsx bench/membership-scale.ts [--steps 100,250,500,1000] [--window-s 10] [--cpu-max 0.5] [--time-limit-s 300]`
 */
import type { ShoalNode } from '../src/node/node.js';
import { Cluster, falsePositives, waitConverged } from './lib-cluster.js';
import { LOADED_MACHINE_NOTE, checkFlags, flagNumber, flagNumbers, fmt, isMain, parseFlags, sleep, table } from './lib-report.js';

const SETTLE_MS = 5000;
/** Nodes created concurrently while growing (createNode does key generation and disk I/O). */
const START_BATCH = 25;

interface Step {
  n: number;
  growMs: number;
  convergeMs: number | undefined;
  cpuCores: number;
  falseSuspect: number;
  falseDead: number;
  rssMb: number;
}

async function grow(cluster: Cluster, target: number): Promise<void> {
  if (cluster.nodes.length === 0) await cluster.add({ name: 'n0', seeds: [] });
  while (cluster.nodes.length < target) {
    const batch: Promise<ShoalNode>[] = [];
    const existing = cluster.nodes.length;
    for (let i = existing; i < Math.min(target, existing + START_BATCH); i++) {
      const via = cluster.nodes[Math.floor(Math.random() * existing)];
      if (via !== undefined) batch.push(cluster.add({ name: `n${i}`, seeds: [via.address] }));
    }
    await Promise.all(batch);
  }
}

async function measureStep(cluster: Cluster, n: number, windowMs: number, convergeTimeoutMs: number): Promise<Step> {
  const growStart = performance.now();
  await grow(cluster, n);
  const growMs = performance.now() - growStart;
  const converged = await waitConverged(cluster.nodes, n, convergeTimeoutMs);
  const convergeMs = converged ? performance.now() - growStart : undefined;
  if (converged) await sleep(SETTLE_MS);
  const fromMs = performance.now();
  const cpuBefore = process.cpuUsage();
  await sleep(windowMs);
  const cpu = process.cpuUsage(cpuBefore);
  const wallUs = (performance.now() - fromMs) * 1000;
  const fp = falsePositives(cluster.events, new Set(cluster.nodes.map((node) => node.id)), fromMs);
  return {
    n, growMs, convergeMs, cpuCores: (cpu.user + cpu.system) / wallUs,
    falseSuspect: fp.suspect, falseDead: fp.dead, rssMb: process.memoryUsage().rss / 1024 / 1024,
  };
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['steps', 'window-s', 'cpu-max', 'time-limit-s']);
  const steps = flagNumbers(flags, 'steps', [100, 250, 500, 1000]);
  const windowMs = flagNumber(flags, 'window-s', 10) * 1000;
  const cpuMax = flagNumber(flags, 'cpu-max', 0.5);
  const deadlineMs = performance.now() + flagNumber(flags, 'time-limit-s', 300) * 1000;
  const cluster = new Cluster();
  const results: Step[] = [];
  let verdict = 'all steps passed';
  try {
    for (const n of steps) {
      const remainingMs = deadlineMs - performance.now() - windowMs - SETTLE_MS;
      if (remainingMs < 10_000) {
        verdict = `time limit reached before N=${n}`;
        break;
      }
      const step = await measureStep(cluster, n, windowMs, remainingMs);
      results.push(step);
      if (step.convergeMs === undefined) verdict = `N=${n} did not converge in the time left`;
      else if (step.falseSuspect + step.falseDead > 0) verdict = `N=${n} had false positives`;
      else if (step.cpuCores > cpuMax) verdict = `N=${n} used ${fmt(step.cpuCores, 2)} cores > ${cpuMax}`;
      else continue;
      break;
    }
  } finally {
    await cluster.close();
  }
  const passing = results.filter((s) => s.convergeMs !== undefined && s.falseSuspect + s.falseDead === 0 && s.cpuCores <= cpuMax);
  const rows = results.map((s) => [
    String(s.n), fmt(s.growMs), fmt(s.convergeMs), fmt(s.cpuCores, 3), fmt((s.cpuCores * 1e6) / s.n, 0), `${s.falseSuspect} / ${s.falseDead}`, fmt(s.rssMb),
  ]);
  return [
    `Nodes per process, LAN profile, real timers and sockets; CPU = process.cpuUsage over a ${windowMs / 1000} s window after convergence + ${SETTLE_MS / 1000} s settle, in cores. ` +
      `Largest passing N: **${passing.at(-1)?.n ?? 'none'}** (${verdict}). ${LOADED_MACHINE_NOTE}`,
    '',
    table(['N', 'start ms', 'converged after ms', 'CPU cores', 'CPU µs/s per node', 'false suspect / dead', 'RSS MB'], rows),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
