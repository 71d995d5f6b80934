/**
 * Merkle sync of a shared tree between two real nodes on loopback (issue 16, "Merkle: bytes and
 * round trips to reconcile d differences among 1,000,000 keys"): two `createNode` swim nodes in
 * this process, each holding tree `bench` with the same `--keys` entries; node B then writes d
 * keys through `node.trees` (signed, new stamps), and node A, the only one that starts sync
 * rounds (B's interval is longer than the run), reconciles. Per d: round trips A started
 * (descend levels, bucket requests), entries A took, tree bytes on the wire both ways (A's port
 * view: frames sent and received), and ms from B's writes until both roots are equal (this
 * includes waiting for A's next round, at most `--interval-ms` × 9/8), with the CPU time this
 * process spent over the same span (both nodes: B's signing, A's verifying, both sides' hashing).
 *
 * The base set is merged into both replicas directly (SharedKeySet.merge, with a zero signature):
 * those entries are the same on both sides and never travel, so nobody checks their signature;
 * signing a million entries would only make the bench slower. The d entries that do travel are
 * real writes, signed by B and verified by A.
 *
 * `npx tsx bench/tree-sync-network.ts [--keys 1000000] [--d 1,100,10000] [--depth auto|N]
 * [--interval-ms 200]`
 */
import { createNode, type ShoalNode } from '../src/node/node.js';
import type { NodeId } from '../src/identity/node-id.js';
import { aliveCount, makeTempDir, removeDir, waitUntil } from './lib-cluster.js';
import {
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  isMain,
  machineNote,
  parseFlags,
  table,
} from './lib-report.js';

const TREE = 'bench';
const encoder = new TextEncoder();
const WAIT_MS = 300_000;

interface Row {
  d: number;
  depth: number;
  roundTrips: number;
  levels: number;
  bucketRequests: number;
  taken: number;
  bytesOut: number;
  bytesIn: number;
  ms: number;
  /** CPU time of this process (both nodes) over the same span: what load distorts least. */
  cpuMs: number;
}

function counters(node: ShoalNode): Record<string, number> {
  return node.stats().dataPlane?.tree.counters ?? {};
}

function treeBytes(node: ShoalNode): { out: number; in: number } {
  const t = node.stats().dataPlane?.tree.transport;
  return { out: t?.frameBytesSent ?? 0, in: t?.frameBytesReceived ?? 0 };
}

/** The same `keys` entries, stamped by `writer` at `wallMs`, merged into each node's tree. */
function seed(
  nodes: readonly ShoalNode[],
  keys: number,
  writer: NodeId,
  depth: number | undefined,
) {
  const sets = nodes.map((n) => {
    const set = n.internals.trees?.open(TREE);
    if (set === undefined) throw new Error('no tree service');
    return set;
  });
  const signature = new Uint8Array(64);
  for (let i = 0; i < keys; i++) {
    const entry = {
      key: `key-${i}`,
      value: encoder.encode(`value-${i}`),
      deleted: false,
      hlc: { wallMs: 1, logical: 0 },
      writer,
      signature,
    };
    for (const set of sets) set.merge(entry);
  }
  for (const set of sets) set.reshape(depth ?? set.wantedDepth());
  return sets[0]?.depth ?? 0;
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['keys', 'd', 'depth', 'interval-ms']);
  const keys = flagNumber(flags, 'keys', 1_000_000);
  const ds = flagNumbers(flags, 'd', [1, 100, 10_000]);
  const depthFlag = flags.get('depth') ?? 'auto';
  const depth = depthFlag === 'auto' ? undefined : Number(depthFlag);
  const intervalMs = flagNumber(flags, 'interval-ms', 200);
  const dirs = [makeTempDir('tree-a'), makeTempDir('tree-b')];
  const nodes: ShoalNode[] = [];
  try {
    const options = (name: string, dataDir: string, seeds: string[]) => ({
      name,
      dataDir,
      bind: '127.0.0.1:0',
      clusterId: 'bench-trees',
      profile: 'lan' as const,
      mode: { kind: 'swim' as const, seeds },
    });
    // A forced depth is also the most either side may grow to (else a write grows the tree).
    const shape = depth === undefined ? {} : { depthMin: Math.min(2, depth), depthMax: depth };
    const a = await createNode(
      options('tree-a', dirs[0] as string, []),
      {},
      { trees: { syncIntervalMs: intervalMs, ...shape } },
    );
    nodes.push(a);
    const b = await createNode(
      options('tree-b', dirs[1] as string, [a.members()[0]?.address ?? '']),
      {},
      { trees: { syncIntervalMs: 1_000_000_000, ...shape } },
    );
    nodes.push(b);
    if (!(await waitUntil(() => aliveCount(a) === 2 && aliveCount(b) === 2, 30_000)))
      throw new Error('the two nodes did not see each other alive in 30 s');
    const started = performance.now();
    const usedDepth = seed(nodes, keys, b.id, depth);
    const seedMs = performance.now() - started;
    const rows: Row[] = [];
    const ta = a.trees.open(TREE);
    const tb = b.trees.open(TREE);
    const same = () => ta.info().root === tb.info().root;
    if (!(await waitUntil(same, WAIT_MS))) throw new Error('the seeded trees differ');
    for (const [round, d] of ds.entries()) {
      const c0 = counters(a);
      const bytes0 = treeBytes(a);
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      for (let j = 0; j < d; j++)
        tb.set(`key-${Math.floor((j * keys) / d)}`, `changed-${round}-${j}`);
      if (!(await waitUntil(same, WAIT_MS, 5)))
        throw new Error(`d = ${d}: the roots still differ after ${WAIT_MS} ms`);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const c1 = counters(a);
      const bytes1 = treeBytes(a);
      const delta = (name: string) => (c1[name] ?? 0) - (c0[name] ?? 0);
      rows.push({
        d,
        depth: ta.info().depth,
        roundTrips: delta('roundTrips'),
        levels: delta('levelsDescended'),
        bucketRequests: delta('bucketRequests'),
        taken: delta('entriesTaken'),
        bytesOut: bytes1.out - bytes0.out,
        bytesIn: bytes1.in - bytes0.in,
        ms,
        cpuMs: (cpu.user + cpu.system) / 1000,
      });
    }
    return [
      `### Merkle sync of ${keys} keys between two nodes on loopback (fanout 16, depth ${usedDepth}${depth === undefined ? ' by the size rule' : ''}; A syncs every ${intervalMs} ms)`,
      '',
      table(
        [
          'd',
          'depth',
          'round trips',
          'descend requests',
          'bucket requests',
          'entries taken',
          'bytes A→B',
          'bytes B→A',
          'bytes per differing key',
          'ms until equal roots',
          'CPU ms (both nodes, B signing included)',
        ],
        rows.map((r) => [
          String(r.d),
          String(r.depth),
          String(r.roundTrips),
          String(r.levels),
          String(r.bucketRequests),
          String(r.taken),
          String(r.bytesOut),
          String(r.bytesIn),
          fmt((r.bytesOut + r.bytesIn) / r.d),
          fmt(r.ms),
          fmt(r.cpuMs),
        ]),
      ),
      '',
      `Seeding both replicas took ${fmt(seedMs)} ms. Round trips and bytes include any sync round that found the roots equal while the writes were being made (each 1 round trip, 2 × 32 bytes of roots plus envelopes). ${machineNote()}`,
    ].join('\n');
  } finally {
    await Promise.allSettled(nodes.map((n) => n.close()));
    for (const dir of dirs) removeDir(dir);
  }
}

if (isMain(import.meta.url)) console.log(await run(process.argv.slice(2)));
