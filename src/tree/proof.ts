/**
 * Proofs about one key of a shared tree (shared.ts): the Merkle proof of its bucket (merkle.ts)
 * and the key's entry as held. `verifyTreeProof(root, proof, sha256)` is true when the entry's
 * leaf bytes hash to the value hash the Merkle proof shows for the key under `root` (a value, a
 * tombstone: "deleted at this stamp by this writer"), or, with no entry, when the proof shows the
 * key absent from its bucket. A client needs only the root it trusts: every tampering with the
 * value, stamp, writer, key, bucket, sibling or shape leads to another root.
 *
 * Pure: SHA-256 is injected.
 */
import { verifyAbsence, verifyProof, type MerkleProof, type Sha256 } from './merkle.js';
import { leafBytes, type TreeEntry } from './shared.js';

export interface TreeProof {
  readonly tree: string;
  readonly key: string;
  /** The root the proof leads to when it is honest (what the holder's tree had). */
  readonly root: Uint8Array;
  readonly merkle: MerkleProof;
  /** The key's entry (a tombstone for a deleted key); undefined when the key is absent. */
  readonly entry: TreeEntry | undefined;
}

/** True when `proof` shows, under `root`, the key's entry (or its absence) as the proof states. */
export function verifyTreeProof(root: Uint8Array, proof: TreeProof, sha256: Sha256): boolean {
  if (proof.merkle.key !== proof.key) return false;
  if (proof.entry === undefined) return verifyAbsence(root, proof.merkle, sha256);
  if (proof.entry.key !== proof.key) return false;
  return verifyProof(root, proof.merkle, sha256, leafBytes(proof.tree, proof.entry));
}
