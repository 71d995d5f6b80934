/**
 * Gossip encryption (AES-256-GCM keyring, `keyring` option of createNode) on vs off in a whole
 * swim cluster, LAN profile, real sockets: after convergence, over one window, payload bytes per
 * UDP packet and per TCP frame (the transport counts the sealed bytes), packets per member per
 * second, and process CPU (process.cpuUsage) per packet handled (sent + received). The CPU
 * column includes timers and protocol work, so the overhead of encryption is the difference
 * between the two rows. bench/transport.ts isolates the per-packet crypto cost.
 *
 * `npx tsx bench/membership-encryption.ts [--n 20] [--window-s 10] [--runs 1]`
 */
import { generateKey } from '../src/transport/keyring.js';
import { Cluster, sumTraffic, waitConverged } from './lib-cluster.js';
import {
  machineNote,
  checkFlags,
  flagNumber,
  fmt,
  fmtRange,
  isMain,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';

const CONVERGE_TIMEOUT_MS = 60_000;
const SETTLE_MS = 5000;

interface Sample {
  bytesPerPacket: number;
  packetsPerMemberSec: number;
  cpuUsPerPacket: number;
  cpuCores: number;
}

async function measure(
  n: number,
  windowMs: number,
  keyring: string[] | undefined,
): Promise<Sample> {
  const cluster = new Cluster();
  try {
    const spec = keyring === undefined ? {} : { keyring };
    const seed = await cluster.add({ name: 'n0', seeds: [], ...spec });
    for (let i = 1; i < n; i++)
      await cluster.add({ name: `n${i}`, seeds: [seed.address], ...spec });
    if (!(await waitConverged(cluster.nodes, n, CONVERGE_TIMEOUT_MS)))
      throw new Error(`N=${n} did not converge`);
    await sleep(SETTLE_MS);
    const before = sumTraffic(cluster.nodes);
    const cpuBefore = process.cpuUsage();
    const fromMs = performance.now();
    await sleep(windowMs);
    const cpu = process.cpuUsage(cpuBefore);
    const seconds = (performance.now() - fromMs) / 1000;
    const after = sumTraffic(cluster.nodes);
    const packets = after.packetsSent - before.packetsSent;
    const handled = packets + (after.packetsReceived - before.packetsReceived);
    return {
      bytesPerPacket: (after.packetBytesSent - before.packetBytesSent) / Math.max(1, packets),
      packetsPerMemberSec: packets / n / seconds,
      cpuUsPerPacket: (cpu.user + cpu.system) / Math.max(1, handled),
      cpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
    };
  } finally {
    await cluster.close();
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'window-s', 'runs']);
  const n = flagNumber(flags, 'n', 20);
  const windowMs = flagNumber(flags, 'window-s', 10) * 1000;
  const runs = flagNumber(flags, 'runs', 1);
  const plain: Sample[] = [];
  const sealed: Sample[] = [];
  for (let r = 0; r < runs; r++) {
    plain.push(await measure(n, windowMs, undefined));
    sealed.push(await measure(n, windowMs, [generateKey()]));
  }
  const rowOf = (label: string, s: Sample[]): string[] => [
    label,
    fmtRange(
      s.map((x) => x.bytesPerPacket),
      1,
    ),
    fmtRange(
      s.map((x) => x.packetsPerMemberSec),
      2,
    ),
    fmtRange(
      s.map((x) => x.cpuUsPerPacket),
      1,
    ),
    fmtRange(
      s.map((x) => x.cpuCores),
      3,
    ),
  ];
  const avg = (s: Sample[], f: (x: Sample) => number): number =>
    s.reduce((sum, x) => sum + f(x), 0) / s.length;
  return [
    `Encryption off vs on, N=${n} in one process, LAN profile, ${windowMs / 1000} s window after convergence, ${runs} run(s) each. ${machineNote()}`,
    '',
    table(
      [
        'gossip',
        'UDP B/packet',
        'UDP pkts/s/member',
        'process CPU µs per packet sent+received',
        'process CPU cores',
      ],
      [rowOf('plain', plain), rowOf('AES-256-GCM', sealed)],
    ),
    '',
    `Overhead: +${fmt(avg(sealed, (x) => x.bytesPerPacket) - avg(plain, (x) => x.bytesPerPacket), 1)} B per packet, ` +
      `+${fmt(avg(sealed, (x) => x.cpuUsPerPacket) - avg(plain, (x) => x.cpuUsPerPacket), 1)} µs CPU per packet handled (difference of means).`,
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
