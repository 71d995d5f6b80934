/**
 * Chain replication's steady-state cost and one append's spread (issue 16, "Bytes: per member
 * per second at steady state ... stays flat in N once digests agree"), in the simulator: N chain
 * services (src/node/data-chain.ts, the production replication with its real wire and Ed25519
 * checks) over one SimNetwork with LAN timings, each with a static view of the others
 * (src/sim/scenarios/chain-cluster.ts). `--writers` of them append `--entries` entries at
 * time 0; once every node holds every chain at its head the bench counts the chain frames' bytes
 * for `--window-s` (bytes sent per node per second, steady state: nothing changes), then one
 * writer appends `--appends` times, `--gap-ms` apart, timing each entry until every node holds
 * it (virtual ms: the machine's load does not change them).
 *
 * Usage: npx tsx bench/chain-steady.ts --n 10,100,1000 [--writers 10] [--entries 3]
 *        [--window-s 10] [--pull-ms 1000] [--appends 5] [--gap-ms 15000] [--seed 1]
 *        [--notify-fanout 3] (0: pulls alone, as before notifications)
 */
import type { ChainService } from '../src/node/data-chain.js';
import { simChainCluster } from '../src/sim/scenarios/chain-cluster.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const sizes = arg('n', '10,100,1000').split(',').map(Number);
const writersMax = Number(arg('writers', '10'));
const entries = Number(arg('entries', '3'));
const windowS = Number(arg('window-s', '10'));
const pullMs = Number(arg('pull-ms', '1000'));
const appends = Number(arg('appends', '5'));
const gapMs = Number(arg('gap-ms', '15000'));
const seed = Number(arg('seed', '1'));
const notifyFanout = Number(arg('notify-fanout', '3'));
const EVENTS_MAX = 50_000_000;

function run(n: number): void {
  const cluster = simChainCluster(n, seed, { pullIntervalMs: pullMs, notifyFanout });
  const { clock, services, heldEverywhere } = cluster;
  const writers = services.slice(0, Math.min(writersMax, n));
  for (const w of writers) for (let k = 0; k < entries; k++) w.append(new Uint8Array(64).fill(k));
  const converged = (): boolean => writers.every((w) => heldEverywhere(w.own.owner, w.own.headSeq));
  const started = performance.now();
  const deadline = clock.now() + 120_000;
  while (!converged() && clock.now() < deadline)
    clock.runUntil(clock.now() + pullMs / 4, { eventsMax: EVENTS_MAX });
  const convergedMs = clock.now();
  if (!converged()) throw new Error(`N = ${n}: not converged in 120 s of virtual time`);
  // Let the requests in flight finish, then count a quiet window.
  clock.runUntil(clock.now() + 2 * pullMs, { eventsMax: EVENTS_MAX });
  const sent = cluster.bytesSent;
  const frames = (): number =>
    services.reduce((sum, s) => sum + (s.stats().transport?.framesSent ?? 0), 0);
  const bytes0 = sent();
  const frames0 = frames();
  clock.runUntil(clock.now() + windowS * 1000, { eventsMax: EVENTS_MAX });
  const perNodeS = (sent() - bytes0) / n / windowS;
  const framesPerNodeS = (frames() - frames0) / n / windowS;
  // One append at a time from writer 0, each timed until every node holds it.
  const writer = services[0] as ChainService;
  const spread: number[] = [];
  const spreadHalf: number[] = [];
  const spread90: number[] = [];
  const bytesPerAppend: number[] = [];
  for (let a = 0; a < appends; a++) {
    const before = sent();
    const at = clock.now();
    const entry = writer.append(new TextEncoder().encode(`append ${a}`));
    let reached: number | undefined;
    let half: number | undefined;
    let ninety: number | undefined;
    const holding = (): number =>
      services.filter((s) => (s.chainOf(writer.own.owner)?.headSeq ?? 0) >= entry.seq).length;
    clock.runUntil(at + gapMs, {
      eventsMax: EVENTS_MAX,
      afterEvent: () => {
        if (reached !== undefined) return false;
        const held = holding();
        if (half === undefined && held >= n / 2) half = clock.now() - at;
        if (ninety === undefined && held >= 0.9 * n) ninety = clock.now() - at;
        if (held === n) reached = clock.now() - at;
        return false;
      },
    });
    if (reached === undefined)
      throw new Error(`N = ${n}: append ${a} not everywhere in ${gapMs} ms`);
    spread.push(reached);
    spreadHalf.push(half ?? reached);
    spread90.push(ninety ?? reached);
    bytesPerAppend.push(sent() - before);
  }
  const medianOf = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  spread.sort((a, b) => a - b);
  const median = medianOf(spread);
  const cpuS = (performance.now() - started) / 1000;
  console.log(
    `N = ${n}: converged at ${convergedMs} ms; steady state ${perNodeS.toFixed(1)} B/s per node ` +
      `(${framesPerNodeS.toFixed(2)} frames/s); one append held by half / 90% of the members: ` +
      `median ${medianOf(spreadHalf)} / ${medianOf(spread90)} ms; everywhere: median ${median} ms, ` +
      `max ${spread[spread.length - 1]} ms (${spread.join(', ')}); cluster bytes per ${gapMs} ms ` +
      `with one append: ${Math.round(bytesPerAppend.reduce((a, b) => a + b, 0) / bytesPerAppend.length)} ` +
      `(${cpuS.toFixed(1)} s wall)`,
  );
  cluster.halt();
}

for (const n of sizes) run(n);
