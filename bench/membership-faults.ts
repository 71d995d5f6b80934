/**
 * False positives under faults (SWIM §4.2 suspicion, Lifeguard §IV): no member really fails, so
 * every `dead` is false.
 *
 * 1. Packet loss 5/10/20% in both directions on every path, in VIRTUAL time: the SWIM core on
 *    the generic driver over the simulator's SimNetwork (seeded loss; streams stay
 *    reliable, as TCP is), LAN timings (lib-sim-cluster.ts). This is how member-hours are had in
 *    seconds; real sockets could only give minutes. Reports false dead per member-hour.
 * 2. Event-loop stalls of one node for 0.5/2/5 s, on REAL sockets: N-1 nodes here, the stalled
 *    one in a child process that busy-loops on command (lib-child-node.ts). Counts survivors'
 *    suspect/dead about it and its own false suspect/dead about others after it wakes.
 * Goal: zero false dead at 10% loss and for stalls shorter than the minimum suspicion time.
 *
 * `npx tsx bench/membership-faults.ts [--n 20] [--hours 1] [--loss 5,10,20] [--stall-s 0.5,2,5] [--stall-n 10] [--seed 1]`
 */
import { PROFILES } from '../src/membership/config.js';
import { suspicionTimeoutMinMs } from '../src/membership/suspicion.js';
import { spawnChildNode } from './lib-child-node.js';
import { Cluster, falsePositives, waitConverged } from './lib-cluster.js';
import {
  machineNote,
  checkFlags,
  epochNowMs,
  flagNumber,
  flagNumbers,
  fmt,
  isMain,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';
import { SimCluster } from './lib-sim-cluster.js';

const CONVERGE_VIRTUAL_MS = 60_000;
const CONVERGE_TIMEOUT_MS = 60_000;
/** Real time after a stall ends before counting: long enough for a refute to spread. */
const AFTER_STALL_MS = 10_000;
const MS_PER_HOUR = 3_600_000;

function lossRow(n: number, hours: number, lossPercent: number, seed: number): string[] {
  const started = performance.now();
  const cluster = new SimCluster({ n, seed });
  cluster.runFor(5000);
  for (let t = 5000; !cluster.converged() && t < CONVERGE_VIRTUAL_MS; t += 1000)
    cluster.runFor(1000);
  if (!cluster.converged()) return [`${lossPercent}%`, String(n), '—', 'did not converge'];
  const fromMs = cluster.clock.now();
  const declaredBefore = cluster.counter('membersDeclaredDead');
  const refutesBefore = cluster.counter('refutes');
  cluster.network.setDefaultLink({ lossPpm: lossPercent * 10_000 });
  cluster.runFor(hours * MS_PER_HOUR);
  const after = cluster.events.filter((e) => e.atMs >= fromMs);
  const declared = cluster.counter('membersDeclaredDead') - declaredBefore;
  const memberHours = n * hours;
  cluster.stop();
  return [
    `${lossPercent}%`,
    String(n),
    fmt(memberHours),
    String(declared),
    fmt(declared / memberHours, 3),
    String(after.filter((e) => e.type === 'dead').length),
    String(after.filter((e) => e.type === 'suspect').length),
    String(cluster.counter('refutes') - refutesBefore),
    fmt((performance.now() - started) / 1000, 1),
  ];
}

async function stallRows(n: number, stallsSec: readonly number[]): Promise<string[][]> {
  const cluster = new Cluster();
  const seed = await cluster.add({ name: 'n0', seeds: [] });
  const child = await spawnChildNode({ name: 'stalled', seeds: [seed.address] }).catch(
    async (err: unknown) => {
      await cluster.close();
      throw err;
    },
  );
  try {
    for (let i = 2; i < n; i++) await cluster.add({ name: `n${i}`, seeds: [seed.address] });
    if (!(await waitConverged(cluster.nodes, n, CONVERGE_TIMEOUT_MS)))
      return [['—', 'did not converge']];
    await sleep(3000);
    const others = new Set<string>(cluster.nodes.map((node) => node.id));
    const minMs = suspicionTimeoutMinMs(
      PROFILES.LAN.suspicionMult,
      n,
      PROFILES.LAN.probeIntervalMs,
    );
    const rows: string[][] = [];
    for (const stallSec of stallsSec) {
      const fromMs = performance.now();
      const fromEpochMs = epochNowMs();
      await child.stall(stallSec * 1000);
      await sleep(AFTER_STALL_MS);
      const aboutChild = falsePositives(cluster.events, new Set([child.id]), fromMs);
      const byChild = child.events.filter((e) => e.atMs >= fromEpochMs && others.has(e.targetId));
      rows.push([
        fmt(stallSec, 1),
        String(n),
        fmt(minMs),
        String(aboutChild.suspect),
        String(aboutChild.dead),
        String(byChild.filter((e) => e.type === 'suspect').length),
        String(byChild.filter((e) => e.type === 'dead').length),
        String(falsePositives(cluster.events, others, fromMs).dead),
      ]);
    }
    return rows;
  } finally {
    await child.close();
    await cluster.close();
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'hours', 'loss', 'stall-s', 'stall-n', 'seed']);
  const n = flagNumber(flags, 'n', 20);
  const hours = flagNumber(flags, 'hours', 1);
  const seed = flagNumber(flags, 'seed', 1);
  const lossRows = flagNumbers(flags, 'loss', [5, 10, 20]).map((loss) =>
    lossRow(n, hours, loss, seed),
  );
  const stalls = await stallRows(
    flagNumber(flags, 'stall-n', 10),
    flagNumbers(flags, 'stall-s', [0.5, 2, 5]),
  );
  return [
    `False dead under packet loss, virtual time (simulator + the membership core on the generic driver, LAN timings, seed ${seed}, ${hours} virtual h after convergence). ` +
      '"declared" = suspicion timeouts that fired (membersDeclaredDead); dead/suspect events = observer×member pairs.',
    '',
    table(
      [
        'loss',
        'N',
        'member-hours',
        'false dead declared',
        'per member-hour',
        'dead events',
        'suspect events',
        'refutes',
        'wall s',
      ],
      lossRows,
    ),
    '',
    `Event-loop stalls of one node (child process busy-looping), real sockets, LAN profile; counted until ${AFTER_STALL_MS / 1000} s after the stall. ${machineNote()}`,
    '',
    table(
      [
        'stall s',
        'N',
        'min suspicion ms',
        'suspect of stalled (events)',
        'dead of stalled (events)',
        "stalled node's false suspect",
        "stalled node's false dead",
        'other false dead',
      ],
      stalls,
    ),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
