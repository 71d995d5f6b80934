/**
 * Merkle anti-entropy over a network (issue 16, "Benchmarks"): bytes and round trips to find the
 * d keys that differ between two replicas of 1,000,000 keys, for d = 1, 100, 10,000, with the
 * tree's default shape (fanout 16, depth 3: 4,096 buckets of ~244 keys), the depth a shared tree
 * takes by its size (merkle.ts `depthForKeys`: 4 at 1,000,000 keys, 65,536 buckets of ~15) and a
 * deeper one (depth 5: 2²⁰ buckets of ~1 key), beside sending every key's hash (the exchange with
 * no tree). The same exchange between two real nodes: bench/tree-sync-network.ts.
 *
 * The descent is `diffTrees` itself (src/tree/merkle.ts), run against a remote that counts what a
 * peer would be asked and would send, batched one request per level as a peer would serve it:
 * round trip 1 asks for the root; round trip L + 1 asks for the children of the nodes that
 * differed at level L (request: their indices as varints; reply: `fanout` 32-byte hashes each);
 * the last round trip asks for the differing buckets (reply: each entry's varint length, key and
 * 32-byte value hash). Values of the differing keys then travel whatever the method, so they are
 * not counted. The d differences are changed values at keys spread evenly over the key space.
 *
 * `npx tsx bench/crdt-merkle-sync.ts [--keys 1000000] [--d 1,100,10000] [--depths 3,4,5]`
 */
import { createHash } from 'node:crypto';
import {
  depthForKeys,
  diffTrees,
  merkleConfig,
  MerkleTree,
  type BucketEntry,
} from '../src/tree/merkle.js';
import { TREE_LIMITS_DEFAULTS } from '../src/tree/shared.js';
import {
  checkFlags,
  flagNumbers,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  parseFlags,
  table,
} from './lib-report.js';

const HASH_BYTES = 32;
const sha256 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha256').update(data).digest());
const encoder = new TextEncoder();
export const value = (i: number, salt = ''): Uint8Array => encoder.encode(`value-${i}${salt}`);
export const keyOf = (i: number): string => `key-${i}`;

const varintBytes = (n: number): number => {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
};

/** What one descent cost on the wire. */
interface SyncCost {
  roundTrips: number;
  requestBytes: number;
  replyBytes: number;
  found: number;
}

/** `tree` as a peer answers it, counting requests and replies per round trip (one per level). */
export function countingRemote(tree: MerkleTree): {
  remote: Pick<MerkleTree, 'nodeHash' | 'bucketEntries'>;
  cost: () => Omit<SyncCost, 'found'>;
} {
  const fanout = tree.config.fanout;
  const levels = new Set<number>();
  const parentsAsked = new Set<string>();
  let requestBytes = 0;
  let replyBytes = 0;
  let bucketsAsked = false;
  return {
    remote: {
      nodeHash(level: number, index: number): Uint8Array {
        levels.add(level);
        const parent = level === 0 ? -1 : Math.floor(index / fanout);
        const tag = `${level}/${parent}`;
        if (!parentsAsked.has(tag)) {
          parentsAsked.add(tag);
          requestBytes += level === 0 ? 1 : varintBytes(parent);
        }
        replyBytes += HASH_BYTES;
        return tree.nodeHash(level, index);
      },
      bucketEntries(bucket: number): BucketEntry[] {
        bucketsAsked = true;
        requestBytes += varintBytes(bucket);
        const entries = tree.bucketEntries(bucket);
        for (const e of entries) {
          const keyBytes = encoder.encode(e.key).length;
          replyBytes += varintBytes(keyBytes) + keyBytes + HASH_BYTES;
        }
        replyBytes += varintBytes(entries.length);
        return entries;
      },
    },
    cost: () => ({ roundTrips: levels.size + (bucketsAsked ? 1 : 0), requestBytes, replyBytes }),
  };
}

export function build(keys: number, depth: number): MerkleTree {
  const tree = new MerkleTree(merkleConfig({ depth }), sha256);
  for (let i = 0; i < keys; i++) tree.set(keyOf(i), value(i));
  tree.root();
  return tree;
}

interface Row {
  depth: number;
  d: number;
  cost: SyncCost;
  diffMs: number;
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['keys', 'd', 'depths']);
  const keys = flagNumber(flags, 'keys', 1_000_000);
  const ds = flagNumbers(flags, 'd', [1, 100, 10_000]);
  const depths = flagNumbers(flags, 'depths', [3, 4, 5]);
  const { fanout, depthMin, depthMax } = TREE_LIMITS_DEFAULTS;
  const ruleDepth = depthForKeys(keys, fanout, depthMin, depthMax);
  const rows: Row[] = [];
  const builds: string[][] = [];
  let allKeyBytes = 0;
  for (let i = 0; i < keys; i++) allKeyBytes += keyOf(i).length;
  for (const depth of depths) {
    const start = performance.now();
    const local = build(keys, depth);
    const buildMs = performance.now() - start;
    const remote = build(keys, depth);
    builds.push([
      String(depth),
      String(16 ** depth),
      fmt(keys / 16 ** depth, 1),
      depth === ruleDepth ? 'yes' : '',
      fmt(buildMs),
    ]);
    for (const d of ds) {
      const changed = Array.from({ length: d }, (_, j) => Math.floor((j * keys) / d));
      for (const i of changed) remote.set(keyOf(i), value(i, '*'));
      remote.root();
      const counting = countingRemote(remote);
      const t = performance.now();
      const diff = diffTrees(local, counting.remote);
      const diffMs = performance.now() - t;
      const found = diff.changed.length + diff.onlyLocal.length + diff.onlyRemote.length;
      if (found !== d) throw new Error(`depth ${depth}, d ${d}: the diff found ${found} keys`);
      rows.push({ depth, d, cost: { ...counting.cost(), found }, diffMs });
      for (const i of changed) remote.set(keyOf(i), value(i));
      remote.root();
    }
  }
  // No tree: the peer sends every key with its value's hash, one round trip.
  const flatBytes = allKeyBytes + keys * (1 + HASH_BYTES);
  return Promise.resolve(
    [
      `### Merkle reconciliation of ${keys} keys (SHA-256, fanout 16)`,
      '',
      table(
        [
          'depth',
          'buckets',
          'keys a bucket',
          'the size rule picks it',
          'build one tree (set every key, then root), ms',
        ],
        builds,
      ),
      '',
      table(
        [
          'depth',
          'differing keys d',
          'found',
          'round trips',
          'bytes asked',
          'bytes answered',
          'total bytes',
          'bytes per differing key',
          'total ÷ every key hash',
          'local descent, ms',
        ],
        rows.map((r) => {
          const total = r.cost.requestBytes + r.cost.replyBytes;
          return [
            String(r.depth),
            String(r.d),
            String(r.cost.found),
            String(r.cost.roundTrips),
            String(r.cost.requestBytes),
            String(r.cost.replyBytes),
            String(total),
            fmt(total / r.d),
            `${(total / flatBytes).toFixed(5)}×`,
            fmt(r.diffMs, 1),
          ];
        }),
      ),
      '',
      `Every key with its value hash (no tree, 1 round trip): ${flatBytes} bytes. ${machineNote()}`,
    ].join('\n'),
  );
}

if (isMain(import.meta.url)) console.log(await run(process.argv.slice(2)));
