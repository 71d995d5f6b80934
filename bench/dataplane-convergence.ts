/**
 * The data plane over real sockets (issue 16): N `swim` nodes in this process on 127.0.0.1 (LAN
 * profiles for membership and the registry, signed rows checked), each running the registry
 * beside membership on its one port. Measured per N:
 *
 * - start: ms from membership converged until every member holds every member's (empty)
 *   partition (a new node's first delta reaches nobody: push-pull spreads it);
 * - idle: the data plane's payload bytes sent per member per second once converged (digest-only
 *   push-pull), beside membership's own (the port's total minus the data plane's view);
 * - burst: every member advertises K services at once (N × K advertisements); ms until the
 *   first, the median and the last member list all of them, and the bytes each member sent;
 * - one write: a member advertises one new service; ms until every member lists it (median of
 *   `--writes` trials, one at a time);
 * - churn: every member rewrites one of its services once a second (a weight change) for
 *   `--window-s`: bytes per member per second, and whether every member still converges;
 * - newcomer: ms from `createNode` of a new member (joining the seed) until it lists every row;
 * - lookups: `node.placement.owners(key, { replicas: 3 })` per second on one member (ring).
 *
 * Payload bytes, as memberlist's harness counts them (no IP/UDP/TCP headers). Compared with
 * memberlist's gossip bytes from /work/shared/peers/RESULTS.md (its membership only: memberlist
 * has no data plane); Consul's catalog and Akka Distributed Data are not installed here.
 *
 * `npx tsx bench/dataplane-convergence.ts [--n 10,30] [--k 10] [--window-s 10] [--writes 5]`
 */
import type { ShoalNode } from '../src/node/node.js';
import { Cluster, waitConverged, waitUntil } from './lib-cluster.js';
import {
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  isMain,
  machineNote,
  median,
  MEMBERLIST_LAN,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';
import { opsPerSec } from './placement-lookup.js';

const CONVERGE_TIMEOUT_MS = 120_000;
const SETTLE_MS = 3_000;

/** Payload bytes sent by the data plane and by membership, summed over `nodes`. */
function bytesSent(nodes: readonly ShoalNode[]): { data: number; membership: number } {
  let data = 0;
  let total = 0;
  for (const node of nodes) {
    const s = node.stats();
    const d = s.dataPlane?.transport;
    if (d !== undefined) data += d.packetBytesSent + d.frameBytesSent;
    // The node's transport is the whole port; the data plane's view counts its own share.
    if (s.transport !== undefined)
      total += s.transport.packetBytesSent + s.transport.frameBytesSent;
  }
  return { data, membership: total - data };
}

function counterSum(nodes: readonly ShoalNode[], name: string): number {
  let sum = 0;
  for (const node of nodes) sum += node.stats().dataPlane?.counters[name] ?? 0;
  return sum;
}

/** performance.now() when each node first lists `count` instances of names matching `prefix`. */
async function listedAt(
  nodes: readonly ShoalNode[],
  prefix: string,
  count: number,
): Promise<number[] | undefined> {
  const at: (number | undefined)[] = nodes.map(() => undefined);
  const ok = await waitUntil(
    () => {
      const now = performance.now();
      nodes.forEach((n, i) => {
        if (at[i] !== undefined) return;
        let seen = 0;
        for (const s of n.services.list()) if (s.name.startsWith(prefix)) seen++;
        if (seen >= count) at[i] = now;
      });
      return at.every((t) => t !== undefined);
    },
    CONVERGE_TIMEOUT_MS,
    5,
  );
  return ok ? (at as number[]).sort((a, b) => a - b) : undefined;
}

interface Result {
  n: number;
  emptyPartitionsMs: number | undefined;
  k: number;
  idleData: number;
  idleMembership: number;
  burstFirstMs: number | undefined;
  burstMedianMs: number | undefined;
  burstAllMs: number | undefined;
  burstBytesPerMember: number;
  oneWriteMs: number | undefined;
  churnData: number;
  churnMembership: number;
  churnConverged: boolean;
  newcomerMs: number | undefined;
  lookupsPerSec: number;
  signaturesInvalid: number;
}

async function measure(n: number, k: number, windowS: number, writes: number): Promise<Result> {
  const cluster = new Cluster({ loggedTypes: [] });
  try {
    const seed = await cluster.add({ name: 'dp-0', seeds: [] });
    for (let i = 1; i < n; i++) await cluster.add({ name: `dp-${i}`, seeds: [seed.address] });
    const nodes = cluster.nodes;
    if (!(await waitConverged(nodes, n, CONVERGE_TIMEOUT_MS)))
      throw new Error(`membership of ${n} did not converge`);
    // Every member holds every member's partition (empty ones too: they carry each life's
    // epoch) before the idle window: a node boots before it knows anyone, so its first delta
    // reaches nobody and push-pull spreads it, one random peer per pushPullIntervalMs.
    const joinedAt = performance.now();
    const partitionsHeld = await waitUntil(
      () => nodes.every((node) => node.stats().dataPlane?.counters['partitions'] === n),
      CONVERGE_TIMEOUT_MS,
      20,
    );
    const emptyPartitionsMs = partitionsHeld ? performance.now() - joinedAt : undefined;
    await sleep(SETTLE_MS);

    // Idle: digests only.
    const idle0 = bytesSent(nodes);
    await sleep(windowS * 1000);
    const idle1 = bytesSent(nodes);
    const perMemberSec = (a: number, b: number, s: number) => (b - a) / n / s;

    // Burst: N × K advertisements at once.
    const burst0 = bytesSent(nodes);
    const start = performance.now();
    nodes.forEach((node, i) => {
      for (let j = 0; j < k; j++)
        node.services.advertise({
          name: `svc-${j}`,
          address: `10.0.${i}.${j}:8080`,
          tags: ['v1'],
          weight: 1,
        });
    });
    const burst = await listedAt(nodes, 'svc-', n * k);
    const burst1 = bytesSent(nodes);

    // One write at a time.
    const oneWrite: number[] = [];
    for (let w = 0; w < writes; w++) {
      await sleep(500);
      const writer = nodes[(w * 7) % n] as ShoalNode;
      const t0 = performance.now();
      writer.services.advertise({ name: `one-${w}`, address: `10.9.9.${w}:80` });
      const at = await listedAt(nodes, `one-${w}`, 1);
      if (at !== undefined) oneWrite.push((at[at.length - 1] as number) - t0);
    }

    // Churn: every member rewrites one service a second.
    await sleep(SETTLE_MS);
    const churn0 = bytesSent(nodes);
    const churnStart = performance.now();
    let turn = 0;
    while (performance.now() - churnStart < windowS * 1000) {
      const slotStart = performance.now();
      nodes.forEach((node, i) =>
        node.services.advertise({
          name: `svc-${turn % k}`,
          address: `10.0.${i}.${turn % k}:8080`,
          tags: ['v1'],
          weight: 1 + (turn % 5),
        }),
      );
      turn++;
      await sleep(Math.max(0, 1000 - (performance.now() - slotStart)));
    }
    const churnS = (performance.now() - churnStart) / 1000;
    const churn1 = bytesSent(nodes);
    const lastWeight = 1 + ((turn - 1) % 5);
    const churnConverged = await waitUntil(
      () =>
        nodes.every(
          (node) =>
            node.services.list(`svc-${(turn - 1) % k}`).filter((s) => s.weight === lastWeight)
              .length === n,
        ),
      CONVERGE_TIMEOUT_MS,
      20,
    );

    // A newcomer: ms from createNode (joining the seed) until it lists every row.
    const joinStart = performance.now();
    const newcomer = await cluster.add({ name: 'dp-new', seeds: [seed.address] });
    const newcomerAt = await listedAt([newcomer], 'svc-', n * k);
    const newcomerMs = newcomerAt === undefined ? undefined : (newcomerAt[0] as number) - joinStart;

    let key = 0;
    const lookupsPerSec = opsPerSec(() => seed.placement.owners(`user:${key++}`, { replicas: 3 }));
    return {
      n,
      emptyPartitionsMs,
      k,
      idleData: perMemberSec(idle0.data, idle1.data, windowS),
      idleMembership: perMemberSec(idle0.membership, idle1.membership, windowS),
      burstFirstMs: burst === undefined ? undefined : (burst[0] as number) - start,
      burstMedianMs: burst === undefined ? undefined : (median(burst) as number) - start,
      burstAllMs: burst === undefined ? undefined : (burst[burst.length - 1] as number) - start,
      burstBytesPerMember: (burst1.data - burst0.data) / n,
      oneWriteMs: median(oneWrite),
      churnData: perMemberSec(churn0.data, churn1.data, churnS),
      churnMembership: perMemberSec(churn0.membership, churn1.membership, churnS),
      churnConverged,
      newcomerMs,
      lookupsPerSec,
      signaturesInvalid: counterSum(nodes, 'signaturesInvalid'),
    };
  } finally {
    await cluster.close();
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'k', 'window-s', 'writes']);
  const sizes = flagNumbers(flags, 'n', [10, 30]);
  const k = flagNumber(flags, 'k', 10);
  const windowS = flagNumber(flags, 'window-s', 10);
  const writes = flagNumber(flags, 'writes', 5);
  const results: Result[] = [];
  for (const n of sizes) results.push(await measure(n, k, windowS, writes));
  const memberlist = (n: number) => MEMBERLIST_LAN.totalBytesPerSec[n];
  return [
    `### Data plane convergence and traffic (real sockets, LAN profiles, K = ${k} services per member)`,
    '',
    table(
      [
        'N',
        'every member holds every partition, ms after membership converged',
        'advertisements',
        'burst: first / median / all list all, ms',
        'burst B sent per member',
        'one write reaches all, ms (median)',
        'idle data plane B/s per member',
        'idle membership B/s per member',
        'memberlist total B/s per node (RESULTS.md)',
        'churn (1 write/s per member) data plane B/s per member',
        'churn membership B/s',
        'converged after churn',
        'a new member lists every row, ms from createNode',
        'placement owners/s (ring, 3 replicas)',
      ],
      results.map((r) => [
        String(r.n),
        fmt(r.emptyPartitionsMs),
        String(r.n * r.k),
        `${fmt(r.burstFirstMs)} / ${fmt(r.burstMedianMs)} / ${fmt(r.burstAllMs)}`,
        fmt(r.burstBytesPerMember),
        fmt(r.oneWriteMs),
        fmt(r.idleData, 1),
        fmt(r.idleMembership, 1),
        fmt(memberlist(r.n)),
        fmt(r.churnData),
        fmt(r.churnMembership),
        r.churnConverged ? 'yes' : 'NO',
        fmt(r.newcomerMs),
        fmt(r.lookupsPerSec),
      ]),
    ),
    '',
    `Forged or invalid signatures counted: ${results.map((r) => r.signaturesInvalid).join(', ')} (expected 0). ${machineNote()}`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  run(process.argv.slice(2))
    .then((report) => process.stdout.write(`${report}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    });
}
