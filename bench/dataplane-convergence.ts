/**
 * The data plane over real sockets (issue 16): N `swim` nodes in this process on 127.0.0.1 (LAN
 * profiles for membership and the registry, signed rows checked), each running the registry
 * beside membership on its one port. Measured per N:
 *
 * - start: ms from membership converged until every member holds every member's (empty)
 *   partition;
 * - burst: every member advertises K services and P processes at once (N × (K + P) rows); ms
 *   until the first, the median and the last member list all of them, and the bytes each sent;
 * - steady state (idle, every row in place): the data plane's payload bytes sent per member per
 *   second (digest-only push-pull), beside membership's own (the port's total minus the data
 *   plane's view), and beside full-state gossip: what the same push-pull schedule would send if
 *   it shipped the state instead of a digest (each member starts one exchange per
 *   `pushPullIntervalMs` and answers one on average, the whole state each way; the state's size
 *   is its encoding by the wire codec, summed over the partitions a member holds in this run);
 * - one write: a member advertises one new service; ms until every member resolves it (each
 *   member's `services.watch(name)` stamps its arrival; `services.resolve(name)` then returns it
 *   everywhere), median of `--writes` trials one at a time;
 * - membership dissemination, same N, same run: a new member joins (createNode with the seed);
 *   ms until every member sees it alive, from createNode and (stricter: without the join's own
 *   setup and push-pull) from the first member that saw it, median of `--joins` trials one at a
 *   time; the goal is one write within 2× of it;
 * - churn: `--rate` writes a second over the whole cluster (a weight change, members taking
 *   turns) for `--window-s`: bytes per member per second and per update, against the writer's
 *   whole partition and the whole state (what a full-state protocol would ship per update), and
 *   whether every member still converges;
 * - newcomer: ms from `createNode` of the first joiner until it lists every row;
 * - lookups: `node.placement.owners(key, { replicas: 3 })` per second on one member (ring).
 *
 * Payload bytes, as memberlist's harness counts them (no IP/UDP/TCP headers). Compared with
 * memberlist's gossip bytes from /work/shared/peers/RESULTS.md (its membership only: memberlist
 * has no data plane); Consul's catalog and Akka Distributed Data are not installed here.
 *
 * `npx tsx bench/dataplane-convergence.ts [--n 10,50,100] [--k 10] [--p 100] [--window-s 10]
 *   [--writes 5] [--joins 3] [--rate 10]`
 */
import { setMaxListeners } from 'node:events';
import type { ShoalNode } from '../src/node/node.js';
import { partitionBytes } from '../src/crdt/registry/codec.js';
import { Cluster, waitConverged, waitUntil } from './lib-cluster.js';
import {
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  fmtRange,
  fmtRatio,
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

/** Encoded bytes of the state `node` holds (every partition) and of `owner`'s partition in it. */
function stateBytes(node: ShoalNode, owner: ShoalNode): { state: number; own: number } {
  const state = node.internals.registry?.state;
  if (state === undefined) return { state: 0, own: 0 };
  let total = 0;
  let own = 0;
  for (const p of state.partitions.values()) {
    const bytes = partitionBytes(p, state.config);
    total += bytes;
    if (p.owner === owner.id) own = bytes;
  }
  return { state: total, own };
}

interface Result {
  n: number;
  k: number;
  p: number;
  emptyPartitionsMs: number | undefined;
  burstFirstMs: number | undefined;
  burstMedianMs: number | undefined;
  burstAllMs: number | undefined;
  burstBytesPerMember: number;
  idleData: number;
  idleMembership: number;
  stateBytes: number;
  partitionBytes: number;
  fullStatePerSec: number;
  oneWriteMs: number[];
  joinMs: number[];
  spreadMs: number[];
  churnWrites: number;
  churnData: number;
  churnMembership: number;
  churnBytesPerUpdate: number;
  churnConverged: boolean;
  newcomerMs: number | undefined;
  lookupsPerSec: number;
  signaturesInvalid: number;
}

interface Params {
  k: number;
  p: number;
  windowS: number;
  writes: number;
  joins: number;
  rate: number;
}

async function measure(n: number, params: Params): Promise<Result> {
  const { k, p, windowS, writes, joins, rate } = params;
  const cluster = new Cluster({ loggedTypes: [] });
  try {
    const seed = await cluster.add({ name: 'dp-0', seeds: [] });
    for (let i = 1; i < n; i++) await cluster.add({ name: `dp-${i}`, seeds: [seed.address] });
    const nodes = [...cluster.nodes];
    if (!(await waitConverged(nodes, n, CONVERGE_TIMEOUT_MS)))
      throw new Error(`membership of ${n} did not converge`);
    // Every member holds every member's partition (empty ones too: they carry each life's epoch).
    const joinedAt = performance.now();
    const partitionsHeld = await waitUntil(
      () => nodes.every((node) => node.stats().dataPlane?.counters['partitions'] === n),
      CONVERGE_TIMEOUT_MS,
      20,
    );
    const emptyPartitionsMs = partitionsHeld ? performance.now() - joinedAt : undefined;
    await sleep(SETTLE_MS);

    // Burst: N × (K + P) rows at once.
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
      for (let j = 0; j < p; j++)
        node.processes.advertise({
          pid: `${i}-${j}`,
          type: `worker-${j % 10}`,
          capabilities: ['gpu', `pool-${j % 4}`],
          status: 'running',
          load: (j % 7) / 10,
        });
    });
    const burst = await listedAt(nodes, 'svc-', n * k);
    const rowsHeld = await waitUntil(
      () => nodes.every((node) => node.processes.findByType('worker-0').length === (n * p) / 10),
      CONVERGE_TIMEOUT_MS,
      20,
    );
    if (!rowsHeld) throw new Error(`the ${n * p} process rows did not reach every member`);
    const burst1 = bytesSent(nodes);

    // Steady state: every row everywhere, digests agree.
    await sleep(SETTLE_MS);
    const idle0 = bytesSent(nodes);
    await sleep(windowS * 1000);
    const idle1 = bytesSent(nodes);
    const perMemberSec = (a: number, b: number, s: number, members = n) => (b - a) / members / s;
    const sizes = stateBytes(nodes[n - 1] as ShoalNode, seed);
    const pushPullS = (seed.internals.registry?.state.config.pushPullIntervalMs ?? 5000) / 1000;

    // One write at a time: advertise until every member resolves it. Each member's
    // `services.watch` stamps when the instance reaches it (events, as the join's below: no
    // polling loop taking the nodes' CPU); `resolve` then confirms it everywhere.
    const oneWrite: number[] = [];
    for (let w = 0; w < writes; w++) {
      await sleep(500);
      const writer = nodes[(w * 7) % n] as ShoalNode;
      const name = `one-${w}`;
      const stop = new AbortController();
      setMaxListeners(n + 1, stop.signal); // one watcher per member on one signal
      const arrived = nodes.map(async (node) => {
        for await (const e of node.services.watch(name, { signal: stop.signal }))
          if (e.type === 'added') return performance.now();
        return undefined;
      });
      const t0 = performance.now();
      writer.services.advertise({ name, address: `10.9.9.${w}:80` });
      const timer = setTimeout(() => stop.abort(), CONVERGE_TIMEOUT_MS);
      const at = await Promise.all(arrived);
      clearTimeout(timer);
      stop.abort();
      const resolved = nodes.every((node) => node.services.resolve(name) !== undefined);
      if (resolved && at.every((t) => t !== undefined))
        oneWrite.push(Math.max(...(at as number[])) - t0);
    }

    // Churn: `rate` writes a second over the cluster, members taking turns.
    await sleep(SETTLE_MS);
    const churn0 = bytesSent(nodes);
    const churnStart = performance.now();
    let turn = 0;
    while (performance.now() - churnStart < windowS * 1000) {
      const due = Math.floor(((performance.now() - churnStart) / 1000) * rate) + 1;
      for (; turn < due; turn++) {
        const i = turn % n;
        (nodes[i] as ShoalNode).services.advertise({
          name: `svc-${turn % k}`,
          address: `10.0.${i}.${turn % k}:8080`,
          tags: ['v1'],
          weight: 2 + turn,
        });
      }
      await sleep(Math.max(1, 1000 / rate / 2));
    }
    const churnS = (performance.now() - churnStart) / 1000;
    const churn1 = bytesSent(nodes);
    const lastTurn = turn - 1;
    const churnConverged = await waitUntil(
      () =>
        nodes.every((node) =>
          node.services
            .list(`svc-${lastTurn % k}`)
            .some(
              (s) => s.node === (nodes[lastTurn % n] as ShoalNode).id && s.weight === 2 + lastTurn,
            ),
        ),
      CONVERGE_TIMEOUT_MS,
      20,
    );

    // Membership dissemination, same N: a member joins; ms until every member sees it alive.
    const joinMs: number[] = [];
    const spreadMs: number[] = [];
    let newcomerMs: number | undefined;
    for (let j = 0; j < joins; j++) {
      await sleep(1000);
      const name = `dp-new-${j}`;
      const before = [...cluster.nodes];
      const seen = new Set<number>();
      let lastAt = 0;
      let firstAt = Number.POSITIVE_INFINITY;
      cluster.onEvent = (e) => {
        if (e.targetName !== name || (e.type !== 'joined' && e.type !== 'alive')) return;
        if (e.observer >= before.length || seen.has(e.observer)) return;
        seen.add(e.observer);
        lastAt = e.atMs;
        firstAt = Math.min(firstAt, e.atMs);
      };
      const t0 = performance.now();
      const joiner = await cluster.add({ name, seeds: [seed.address] });
      const ok = await waitUntil(() => seen.size === before.length, CONVERGE_TIMEOUT_MS, 5);
      cluster.onEvent = undefined;
      if (ok) {
        joinMs.push(lastAt - t0);
        spreadMs.push(lastAt - firstAt);
      }
      if (j === 0) {
        const at = await listedAt([joiner], 'svc-', n * k);
        newcomerMs = at === undefined ? undefined : (at[0] as number) - t0;
      }
    }

    let key = 0;
    const lookupsPerSec = opsPerSec(() => seed.placement.owners(`user:${key++}`, { replicas: 3 }));
    return {
      n,
      k,
      p,
      emptyPartitionsMs,
      burstFirstMs: burst === undefined ? undefined : (burst[0] as number) - start,
      burstMedianMs: burst === undefined ? undefined : (median(burst) as number) - start,
      burstAllMs: burst === undefined ? undefined : (burst[burst.length - 1] as number) - start,
      burstBytesPerMember: (burst1.data - burst0.data) / n,
      idleData: perMemberSec(idle0.data, idle1.data, windowS),
      idleMembership: perMemberSec(idle0.membership, idle1.membership, windowS),
      stateBytes: sizes.state,
      partitionBytes: sizes.own,
      fullStatePerSec: (2 * sizes.state) / pushPullS,
      oneWriteMs: oneWrite,
      joinMs,
      spreadMs,
      churnWrites: turn,
      churnData: perMemberSec(churn0.data, churn1.data, churnS),
      churnMembership: perMemberSec(churn0.membership, churn1.membership, churnS),
      churnBytesPerUpdate: (churn1.data - churn0.data) / turn,
      churnConverged,
      newcomerMs,
      lookupsPerSec,
      signaturesInvalid: counterSum(cluster.nodes, 'signaturesInvalid'),
    };
  } finally {
    await cluster.close();
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['n', 'k', 'p', 'window-s', 'writes', 'joins', 'rate']);
  const sizes = flagNumbers(flags, 'n', [10, 50, 100]);
  const params: Params = {
    k: flagNumber(flags, 'k', 10),
    p: flagNumber(flags, 'p', 100),
    windowS: flagNumber(flags, 'window-s', 10),
    writes: flagNumber(flags, 'writes', 5),
    joins: flagNumber(flags, 'joins', 3),
    rate: flagNumber(flags, 'rate', 10),
  };
  const results: Result[] = [];
  for (const n of sizes) results.push(await measure(n, params));
  const cols = results.map((r) => `N = ${r.n}`);
  const row = (what: string, f: (r: Result) => string): string[] => [what, ...results.map(f)];
  const oneWrite = (r: Result) => median(r.oneWriteMs);
  const join = (r: Result) => median(r.joinMs);
  return [
    `### Data plane convergence and traffic (real sockets, LAN profiles, K = ${params.k} services and P = ${params.p} processes per member)`,
    '',
    table(
      ['', ...cols],
      [
        row('rows (N × (K + P))', (r) => String(r.n * (r.k + r.p))),
        row('every member holds every (empty) partition, ms after membership converged', (r) =>
          fmt(r.emptyPartitionsMs),
        ),
        row(
          'burst (all rows at once): first / median / last member lists every service, ms',
          (r) => `${fmt(r.burstFirstMs)} / ${fmt(r.burstMedianMs)} / ${fmt(r.burstAllMs)}`,
        ),
        row('burst: data-plane bytes sent per member', (r) => fmt(r.burstBytesPerMember)),
        row('one write: ms until every member resolves it, median [min–max]', (r) =>
          fmtRange(r.oneWriteMs),
        ),
        row('membership: a join, ms from createNode until every member sees it alive', (r) =>
          fmtRange(r.joinMs),
        ),
        row('membership: the same join, ms from the first member that saw it to the last', (r) =>
          fmtRange(r.spreadMs),
        ),
        row('one write ÷ membership dissemination from createNode (goal ≤ 2×)', (r) =>
          fmtRatio(oneWrite(r), join(r)),
        ),
        row('one write ÷ membership spread from the first member (stricter)', (r) =>
          fmtRatio(oneWrite(r), median(r.spreadMs)),
        ),
        row('steady state: data plane B/s per member (digests agree)', (r) => fmt(r.idleData, 1)),
        row('steady state: membership B/s per member (same run)', (r) => fmt(r.idleMembership, 1)),
        row('memberlist total B/s per node (RESULTS.md)', (r) =>
          fmt(MEMBERLIST_LAN.totalBytesPerSec[r.n]),
        ),
        row(
          "state a member holds, encoded bytes (writer's partition)",
          (r) => `${fmt(r.stateBytes)} (${fmt(r.partitionBytes)})`,
        ),
        row('full-state gossip on the same schedule, B/s per member', (r) =>
          fmt(r.fullStatePerSec),
        ),
        row(
          'steady state: digests ÷ full state',
          (r) => `${(r.idleData / r.fullStatePerSec).toFixed(5)}×`,
        ),
        row(`churn (${params.rate} writes/s over the cluster): writes`, (r) =>
          String(r.churnWrites),
        ),
        row('churn: data plane B/s per member', (r) => fmt(r.churnData)),
        row('churn: membership B/s per member', (r) => fmt(r.churnMembership)),
        row('churn: data-plane bytes per update, whole cluster', (r) => fmt(r.churnBytesPerUpdate)),
        row(
          "churn: bytes per update ÷ (writer's whole partition × (N − 1), a state-based sync sending it once to each member)",
          (r) => fmtRatio(r.churnBytesPerUpdate, r.partitionBytes * (r.n - 1)),
        ),
        row('converged after churn', (r) => (r.churnConverged ? 'yes' : 'NO')),
        row('first joiner lists every row, ms from createNode', (r) => fmt(r.newcomerMs)),
        row('placement owners/s (ring, 3 replicas)', (r) => fmt(r.lookupsPerSec)),
      ],
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
