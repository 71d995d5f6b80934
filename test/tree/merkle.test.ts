/**
 * Merkle trees (docs/design/data-plane.md, "Merkle sync"): equal key sets give equal roots
 * whatever the insertion order; a diff descends only into differing children and finds exactly
 * the differing keys; proofs of inclusion and absence verify against the root, and every
 * tampered proof (value, key, bucket entries, sibling, position, level count, shape) fails,
 * which a stub verifier (the "verify is a stub") would not notice; limits at limit-1,
 * limit, limit+1.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import {
  diffTrees,
  merkleConfig,
  MerkleTree,
  verifyAbsence,
  verifyProof,
  type MerkleProof,
} from '../../src/tree/merkle.js';

const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
const bytes = (text: string) => new TextEncoder().encode(text);
const config = merkleConfig({ fanout: 4, depth: 3 });

function treeOf(keys: number, mutate?: (i: number) => string | undefined): MerkleTree {
  const tree = new MerkleTree(config, sha256);
  for (let i = 0; i < keys; i++) {
    const value = mutate?.(i) ?? `value-${i}`;
    tree.set(`key-${i}`, bytes(value));
  }
  return tree;
}

function expectCode(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(hasErrorCode(caught, code as 'ERR_INVALID_ARGUMENT'), String(caught)).toBe(true);
}

/** Each way to tamper with a valid proof of `key-7` in a 200-key tree. */
function tamperings(proof: MerkleProof): [string, MerkleProof][] {
  const flip = (h: Uint8Array) => {
    const copy = h.slice();
    copy[0] = (copy[0] as number) ^ 1;
    return copy;
  };
  const levels = proof.levels.map((l) => [...l]);
  const swapped = levels.map((l, i) =>
    i === 1 ? [l[1], l[0], ...l.slice(2)] : l,
  ) as Uint8Array[][];
  const sibling = levels.map((l, i) =>
    i === 0 ? l.map((h, j) => (j === (proof.bucket + 1) % 4 ? flip(h) : h)) : l,
  );
  const top = levels.map((l, i) => (i === levels.length - 1 ? l.map(flip) : l));
  return [
    [
      'value hash',
      {
        ...proof,
        entries: proof.entries.map((e) =>
          e.key === proof.key ? { ...e, valueHash: flip(e.valueHash) } : e,
        ),
      },
    ],
    ['another key', { ...proof, key: 'key-8' }],
    ['an entry dropped', { ...proof, entries: proof.entries.filter((e) => e.key !== proof.key) }],
    [
      'an entry added',
      { ...proof, entries: [...proof.entries, { key: 'zzz', valueHash: new Uint8Array(32) }] },
    ],
    ['a sibling hash', { ...proof, levels: sibling }],
    ['siblings swapped', { ...proof, levels: swapped }],
    ['top level', { ...proof, levels: top }],
    ['a level missing', { ...proof, levels: levels.slice(1) }],
    ['another bucket index', { ...proof, bucket: (proof.bucket + 1) % 64 }],
    ['a wider fanout', { ...proof, fanout: 8 }],
    ['a shallower tree', { ...proof, depth: 2, levels: levels.slice(0, 2) }],
    ['an impossible shape', { ...proof, fanout: 3 }],
  ];
}

describe('merkle tree', () => {
  it('equal key sets have equal roots whatever the order; any change moves the root', () => {
    const a = treeOf(300);
    const b = new MerkleTree(config, sha256);
    for (let i = 299; i >= 0; i--) b.set(`key-${i}`, bytes(`value-${i}`));
    expect(a.root()).toEqual(b.root());
    b.set('key-5', bytes('other'));
    expect(a.root()).not.toEqual(b.root());
    b.set('key-5', bytes('value-5'));
    expect(a.root()).toEqual(b.root());
    b.delete('key-5');
    expect(a.root()).not.toEqual(b.root());
    expect(new MerkleTree(config, sha256).root()).toEqual(new MerkleTree(config, sha256).root());
  });

  it('diff descends only into differing children and finds exactly the differing keys', () => {
    const a = treeOf(2000);
    const b = treeOf(2000, (i) => (i === 17 ? 'changed' : undefined));
    b.delete('key-99');
    b.set('extra', bytes('x'));
    const diff = diffTrees(a, b);
    expect(diff).toMatchObject({
      onlyLocal: ['key-99'],
      onlyRemote: ['extra'],
      changed: ['key-17'],
    });
    expect(diff.bucketsCompared).toBeLessThanOrEqual(3);
    expect(diff.hashesCompared).toBeLessThanOrEqual(1 + 3 * 4 * 3);
    expect(diffTrees(a, treeOf(2000))).toMatchObject({
      onlyLocal: [],
      onlyRemote: [],
      changed: [],
      hashesCompared: 1,
    });
  });

  it('proofs of inclusion verify against the root, with and without the value', () => {
    const tree = treeOf(200);
    const root = tree.root();
    for (const i of [0, 7, 199]) {
      const proof = tree.proof(`key-${i}`);
      expect(verifyProof(root, proof, sha256)).toBe(true);
      expect(verifyProof(root, proof, sha256, bytes(`value-${i}`))).toBe(true);
      expect(verifyProof(root, proof, sha256, bytes('wrong'))).toBe(false);
      expect(verifyAbsence(root, proof, sha256)).toBe(false);
    }
    const absent = tree.proof('not-there');
    expect(verifyAbsence(root, absent, sha256)).toBe(true);
    expect(verifyProof(root, absent, sha256)).toBe(false);
    expect(verifyProof(treeOf(201).root(), tree.proof('key-7'), sha256), 'another root').toBe(
      false,
    );
  });

  it('every tampered proof fails', () => {
    const tree = treeOf(200);
    const root = tree.root();
    for (const [what, tampered] of tamperings(tree.proof('key-7')))
      expect(verifyProof(root, tampered, sha256), what).toBe(false);
  });

  it('a stub verifier (bucket only, as in the issue) accepts tampered proofs: the suite would catch it', () => {
    const stub = (_root: Uint8Array, proof: MerkleProof) =>
      proof.entries.some((e) => e.key === proof.key);
    const tree = treeOf(200);
    const accepted = tamperings(tree.proof('key-7')).filter(([, p]) => stub(tree.root(), p));
    expect(accepted.length).toBeGreaterThan(3);
  });

  describe('limits at limit-1, limit, limit+1', () => {
    it('keysMax (an update of an existing key still passes)', () => {
      const tree = new MerkleTree(merkleConfig({ fanout: 2, depth: 2, keysMax: 3 }), sha256);
      tree.set('a', bytes('1'));
      tree.set('b', bytes('1'));
      tree.set('c', bytes('1'));
      tree.set('c', bytes('2'));
      expectCode(() => tree.set('d', bytes('1')), 'ERR_INVALID_ARGUMENT');
      expect(tree.keyCount).toBe(3);
    });

    it('keyBytesMax', () => {
      const tree = new MerkleTree(merkleConfig({ fanout: 2, depth: 2, keyBytesMax: 4 }), sha256);
      tree.set('abc', bytes('1'));
      tree.set('abcd', bytes('1'));
      expectCode(() => tree.set('abcde', bytes('1')), 'ERR_INVALID_ARGUMENT');
    });

    it('fanout and buckets (fanout^depth)', () => {
      expect(merkleConfig({ fanout: 128, depth: 1 }).fanout).toBe(128);
      expect(merkleConfig({ fanout: 256, depth: 1 }).fanout).toBe(256);
      expectCode(() => merkleConfig({ fanout: 512, depth: 1 }), 'ERR_INVALID_CONFIG');
      expectCode(() => merkleConfig({ fanout: 3 }), 'ERR_INVALID_CONFIG');
      expect(merkleConfig({ fanout: 2, depth: 19 }).depth).toBe(19);
      expect(merkleConfig({ fanout: 2, depth: 20 }).depth).toBe(20);
      expectCode(() => merkleConfig({ fanout: 2, depth: 21 }), 'ERR_INVALID_CONFIG');
    });
  });
});
