/**
 * Merkle anti-entropy cost (issue 16): building a tree of n keys, comparing two replicas that
 * differ in k keys (hashes compared = the messages a remote descent costs, buckets compared, and
 * the time of a local diff), proof sizes and verifications per second. SHA-256 from node:crypto,
 * fanout 16, depth 3 (4,096 buckets, the default).
 *
 * `npx tsx bench/crdt-merkle.ts` prints markdown tables; `run()` returns them for bench/run.ts.
 */
import { createHash } from 'node:crypto';
import { diffTrees, merkleConfig, MerkleTree, verifyProof } from '../src/tree/merkle.js';
import { fmt, isMain, machineNote, table } from './lib-report.js';
import { opsPerSec } from './placement-lookup.js';

const sha256 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha256').update(data).digest());
const config = merkleConfig();
const value = (i: number, salt = ''): Uint8Array => new TextEncoder().encode(`value-${i}${salt}`);

function build(n: number): MerkleTree {
  const tree = new MerkleTree(config, sha256);
  for (let i = 0; i < n; i++) tree.set(`key-${i}`, value(i));
  tree.root();
  return tree;
}

export async function run(): Promise<string> {
  const buildRows: string[][] = [];
  const diffRows: string[][] = [];
  for (const n of [10_000, 100_000]) {
    const start = performance.now();
    const a = build(n);
    buildRows.push([String(n), fmt(performance.now() - start, 0)]);
    for (const k of [1, 10, 100, 1000]) {
      const b = build(n);
      for (let j = 0; j < k; j++) b.set(`key-${Math.floor((j * n) / k)}`, value(j, '*'));
      b.root();
      const t = performance.now();
      const diff = diffTrees(a, b);
      const ms = performance.now() - t;
      diffRows.push([
        String(n),
        String(k),
        String(diff.changed.length),
        String(diff.hashesCompared),
        String(diff.bucketsCompared),
        fmt(ms, 2),
      ]);
    }
  }
  const tree = build(10_000);
  const root = tree.root();
  const proof = tree.proof('key-42');
  const proofBytes =
    proof.levels.length * config.fanout * 32 +
    proof.entries.reduce((sum, e) => sum + e.key.length + 1 + 32, 0);
  const verifies = opsPerSec(() => verifyProof(root, proof, sha256));
  return [
    table(['keys', 'build (set every key, then root), ms'], buildRows),
    '',
    table(
      ['keys', 'differing keys', 'found', 'hashes compared', 'buckets compared', 'local diff, ms'],
      diffRows,
    ),
    '',
    table(
      ['proof of one key among 10,000', 'value'],
      [
        ['bytes (sibling hashes + the bucket)', String(proofBytes)],
        ['keys in its bucket', String(proof.entries.length)],
        ['verifications per second', fmt(verifies, 0)],
      ],
    ),
    '',
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(await run());
