/**
 * Merkle trees over a key set for anti-entropy (Merkle 1987; Dynamo §4.7; Riak's active
 * anti-entropy): a fixed-shape tree of `fanout^depth` buckets, a key in the bucket its pinned
 * XXH64 names, so two replicas with different key sets still have aligned trees and differ only
 * along the paths of the keys they disagree on. Comparing roots says whether they agree; descent
 * visits only the differing children (`diffTrees`), so k differences among n keys cost about
 * k × depth × fanout hash comparisons instead of n.
 *
 * Hashes (FROZEN, domain-separated as RFC 6962 §2.1): a bucket is SHA-256(0x00 ‖ for each key in
 * order: varint(len) ‖ key ‖ SHA-256(value)); an inner node is SHA-256(0x01 ‖ its children's
 * hashes). A proof of inclusion (`proof`) carries the key's bucket (its keys and value hashes)
 * and, per level, the sibling hashes; `verifyProof` recomputes the root from them and checks the
 * key's value hash, so a tampered value, key, bucket, sibling or position fails. The same proof
 * shows absence when the key is not in its bucket (`verifyAbsence`).
 *
 * Pure: SHA-256 is injected. Hashes are recomputed lazily: writes mark a bucket dirty, and
 * `root()` / `proof()` / `nodeHash()` rehash only the dirty paths.
 */
import { ShoalError } from '../base/errors.js';
import { utf8Bytes } from '../base/utf8.js';
import { Writer } from '../codec/bytes.js';
import { xxh64StringInto } from '../placement/xxh64.js';

export type Sha256 = (data: Uint8Array) => Uint8Array;

export interface MerkleConfig {
  /** Children per inner node, a power of two. More: shallower tree, larger proofs. @defaultValue 16 */
  fanout: number;
  /** Levels below the root; buckets = fanout^depth. @defaultValue 3 (4096 buckets) */
  depth: number;
  /** Most keys in the tree. @defaultValue 1000000 */
  keysMax: number;
  /** Longest key, UTF-8 bytes. @defaultValue 1024 */
  keyBytesMax: number;
}

export const MERKLE_DEFAULTS: MerkleConfig = {
  fanout: 16,
  depth: 3,
  keysMax: 1_000_000,
  keyBytesMax: 1024,
};
/** Largest fanout and most buckets (fanout^depth): bound the memory of one tree's hashes. */
export const MERKLE_FANOUT_MAX = 256;
export const MERKLE_BUCKETS_MAX = 1 << 20;

export function merkleConfig(settings: Partial<MerkleConfig> = {}): MerkleConfig {
  const c = { ...MERKLE_DEFAULTS, ...settings };
  const bad = (why: string): never => {
    throw new ShoalError('ERR_INVALID_CONFIG', `merkle ${why}`);
  };
  if (
    !Number.isSafeInteger(c.fanout) ||
    c.fanout < 2 ||
    c.fanout > MERKLE_FANOUT_MAX ||
    (c.fanout & (c.fanout - 1)) !== 0
  )
    bad(`fanout (${c.fanout}) must be a power of two in [2, ${MERKLE_FANOUT_MAX}]`);
  if (!Number.isSafeInteger(c.depth) || c.depth < 1)
    bad(`depth (${c.depth}) must be a positive integer`);
  if (c.fanout ** c.depth > MERKLE_BUCKETS_MAX)
    bad(
      `fanout (${c.fanout}) ^ depth (${c.depth}) = ${c.fanout ** c.depth} buckets exceeds ${MERKLE_BUCKETS_MAX}`,
    );
  if (!Number.isSafeInteger(c.keysMax) || c.keysMax < 1)
    bad(`keysMax (${c.keysMax}) must be a positive integer`);
  if (!Number.isSafeInteger(c.keyBytesMax) || c.keyBytesMax < 1)
    bad(`keyBytesMax (${c.keyBytesMax}) must be a positive integer`);
  return c;
}

/** Keys a bucket holds at most on average before `depthForKeys` adds a level. */
export const MERKLE_BUCKET_KEYS_TARGET = 32;

/**
 * The depth a tree of `keys` keys takes with `fanout` (docs/design/data-plane.md, "Merkle sync on
 * the network"): the fewest levels, at least `depthMin`, whose buckets hold at most
 * MERKLE_BUCKET_KEYS_TARGET keys on average, and at most `depthMax`. A difference costs about
 * `fanout` hashes per level plus one bucket's keys, so the best depth keeps buckets small without
 * adding levels that cost a round trip and `fanout` hashes each: at 1,000,000 keys, depth 4
 * (65,536 buckets of ~15 keys) answers d = 1 in 2.8 KB where depth 3 takes 10.6 KB.
 */
export function depthForKeys(
  keys: number,
  fanout: number,
  depthMin: number,
  depthMax: number,
): number {
  let depth = depthMin;
  while (depth < depthMax && fanout ** depth * MERKLE_BUCKET_KEYS_TARGET < keys) depth++;
  return depth;
}

/** The bucket of `key` among `buckets` (a power of two): the top bits of its XXH64. */
export function bucketOf(key: string, buckets: number): number {
  const out = xxh64StringInto(key);
  return Math.floor(((out[0] as number) / 0x1_0000_0000) * buckets);
}

export interface BucketEntry {
  readonly key: string;
  readonly valueHash: Uint8Array;
}

export interface MerkleProof {
  /** The tree's shape, so a proof verifies on its own; any other shape leads to another root. */
  readonly fanout: number;
  readonly depth: number;
  readonly key: string;
  readonly bucket: number;
  /** Every key of the bucket with its value hash, in key order. */
  readonly entries: readonly BucketEntry[];
  /** Bottom-up: the `fanout` child hashes of each ancestor of the bucket (ours among them). */
  readonly levels: readonly (readonly Uint8Array[])[];
}

const writer = new Writer(4096);

function bucketHash(sha256: Sha256, entries: Iterable<BucketEntry>): Uint8Array {
  writer.reset();
  writer.u8(0x00);
  for (const e of entries) {
    writer.string(e.key, Number.MAX_SAFE_INTEGER);
    writer.bytes(e.valueHash);
  }
  return sha256(writer.finish());
}

function innerHash(sha256: Sha256, children: readonly Uint8Array[]): Uint8Array {
  writer.reset();
  writer.u8(0x01);
  for (const child of children) writer.bytes(child);
  return sha256(writer.finish());
}

export class MerkleTree {
  readonly buckets: number;
  /** levels[0] is the root level (1 node), levels[depth] the buckets. */
  private readonly hashes: Uint8Array[][];
  private readonly contents: Map<string, Uint8Array>[];
  private readonly dirty = new Set<number>();
  private size = 0;

  constructor(
    readonly config: MerkleConfig,
    private readonly sha256: Sha256,
  ) {
    this.buckets = config.fanout ** config.depth;
    this.contents = Array.from({ length: this.buckets }, () => new Map());
    const empty = bucketHash(sha256, []);
    this.hashes = [];
    let hash = empty;
    for (let level = config.depth; level >= 0; level--) {
      this.hashes[level] = new Array<Uint8Array>(config.fanout ** level).fill(hash);
      hash = innerHash(sha256, new Array<Uint8Array>(config.fanout).fill(hash));
    }
  }

  get keyCount(): number {
    return this.size;
  }

  /** Sets `key` to `value` (bytes); ERR_INVALID_ARGUMENT past keyBytesMax or keysMax. */
  set(key: string, value: Uint8Array): void {
    this.setHash(key, this.sha256(value));
  }

  /**
   * Sets `key` to a value whose SHA-256 is `valueHash` (32 bytes): what a caller that keeps the
   * hashes uses to rebuild a tree in another shape without hashing every value again.
   */
  setHash(key: string, valueHash: Uint8Array): void {
    if (typeof key !== 'string' || utf8Bytes(key) > this.config.keyBytesMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `merkle key must be a string of at most keyBytesMax (${this.config.keyBytesMax}) bytes`,
      );
    const bucket = bucketOf(key, this.buckets);
    const contents = this.contents[bucket] as Map<string, Uint8Array>;
    if (!contents.has(key)) {
      if (this.size >= this.config.keysMax)
        throw new ShoalError(
          'ERR_INVALID_ARGUMENT',
          `merkle tree already holds keysMax (${this.config.keysMax}) keys`,
        );
      this.size++;
    }
    contents.set(key, valueHash);
    this.dirty.add(bucket);
  }

  delete(key: string): boolean {
    const bucket = bucketOf(key, this.buckets);
    if (!(this.contents[bucket] as Map<string, Uint8Array>).delete(key)) return false;
    this.size--;
    this.dirty.add(bucket);
    return true;
  }

  /** The value hash of `key`, if present. */
  valueHash(key: string): Uint8Array | undefined {
    return this.contents[bucketOf(key, this.buckets)]?.get(key);
  }

  /** The keys of one bucket with their value hashes, in key order. */
  bucketEntries(bucket: number): BucketEntry[] {
    const contents = this.contents[bucket] as Map<string, Uint8Array>;
    return [...contents.keys()]
      .sort()
      .map((key) => ({ key, valueHash: contents.get(key) as Uint8Array }));
  }

  /** Rehashes the dirty buckets and their ancestors. */
  private refresh(): void {
    if (this.dirty.size === 0) return;
    const { fanout, depth } = this.config;
    let touched = new Set<number>();
    for (const bucket of this.dirty) {
      (this.hashes[depth] as Uint8Array[])[bucket] = bucketHash(
        this.sha256,
        this.bucketEntries(bucket),
      );
      touched.add(Math.floor(bucket / fanout));
    }
    this.dirty.clear();
    for (let level = depth - 1; level >= 0; level--) {
      const next = new Set<number>();
      const below = this.hashes[level + 1] as Uint8Array[];
      for (const node of touched) {
        (this.hashes[level] as Uint8Array[])[node] = innerHash(
          this.sha256,
          below.slice(node * fanout, (node + 1) * fanout),
        );
        next.add(Math.floor(node / fanout));
      }
      touched = next;
    }
  }

  root(): Uint8Array {
    return this.nodeHash(0, 0);
  }

  /** The hash of node `index` at `level` (0 = root, depth = buckets): what a peer asks for. */
  nodeHash(level: number, index: number): Uint8Array {
    this.refresh();
    const hash = this.hashes[level]?.[index];
    if (hash === undefined)
      throw new ShoalError('ERR_INVALID_ARGUMENT', `no merkle node ${index} at level ${level}`);
    return hash;
  }

  /** A proof of inclusion of `key` (or of its absence, when it is not in the tree). */
  proof(key: string): MerkleProof {
    this.refresh();
    const { fanout, depth } = this.config;
    const bucket = bucketOf(key, this.buckets);
    const levels: Uint8Array[][] = [];
    let index = bucket;
    for (let level = depth; level >= 1; level--) {
      const first = index - (index % fanout);
      levels.push((this.hashes[level] as Uint8Array[]).slice(first, first + fanout));
      index = Math.floor(index / fanout);
    }
    return { fanout, depth, key, bucket, entries: this.bucketEntries(bucket), levels };
  }
}

/** True when a proof's shape is one a tree can have (bounds the work a hostile proof can ask for). */
function validShape(fanout: number, depth: number): boolean {
  if (!Number.isSafeInteger(fanout) || fanout < 2 || fanout > MERKLE_FANOUT_MAX) return false;
  if ((fanout & (fanout - 1)) !== 0 || !Number.isSafeInteger(depth) || depth < 1) return false;
  return fanout ** depth <= MERKLE_BUCKETS_MAX;
}

/**
 * The root a proof leads to, or undefined when the proof is malformed. The shape comes from the
 * proof: a different fanout or depth hashes different bytes (inner and bucket hashes are domain
 * separated and of fixed width), so it cannot reach the same root without a SHA-256 collision.
 */
function rootOf(proof: MerkleProof, sha256: Sha256): Uint8Array | undefined {
  const { fanout, depth } = proof;
  if (!validShape(fanout, depth)) return undefined;
  const buckets = fanout ** depth;
  if (!Number.isSafeInteger(proof.bucket) || proof.bucket !== bucketOf(proof.key, buckets))
    return undefined;
  if (proof.levels.length !== depth) return undefined;
  for (let i = 1; i < proof.entries.length; i++)
    if (!((proof.entries[i - 1] as BucketEntry).key < (proof.entries[i] as BucketEntry).key))
      return undefined;
  if (
    proof.entries.some(
      (e) => e.valueHash.length !== 32 || bucketOf(e.key, buckets) !== proof.bucket,
    )
  )
    return undefined;
  let hash = bucketHash(sha256, proof.entries);
  let index = proof.bucket;
  for (const siblings of proof.levels) {
    if (siblings.length !== fanout || siblings.some((h) => h.length !== 32)) return undefined;
    const mine = siblings[index % fanout] as Uint8Array;
    if (!equalBytes(mine, hash)) return undefined;
    hash = innerHash(sha256, siblings);
    index = Math.floor(index / fanout);
  }
  return hash;
}

/** True when `a` and `b` hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * True when `proof` shows that the tree with root `root` holds `proof.key`, with value `value`
 * when given (its hash must match). Any tampering (value, key, bucket, sibling, position, order)
 * makes it false.
 */
export function verifyProof(
  root: Uint8Array,
  proof: MerkleProof,
  sha256: Sha256,
  value?: Uint8Array,
): boolean {
  const computed = rootOf(proof, sha256);
  if (computed === undefined || !equalBytes(computed, root)) return false;
  const entry = proof.entries.find((e) => e.key === proof.key);
  if (entry === undefined) return false;
  return value === undefined || equalBytes(entry.valueHash, sha256(value));
}

/** True when `proof` shows that the tree with root `root` does not hold `proof.key`. */
export function verifyAbsence(root: Uint8Array, proof: MerkleProof, sha256: Sha256): boolean {
  const computed = rootOf(proof, sha256);
  return (
    computed !== undefined &&
    equalBytes(computed, root) &&
    !proof.entries.some((e) => e.key === proof.key)
  );
}

/** What a diff learned and what it cost. */
export interface TreeDiff {
  /** Keys present on one side only, or with different values. */
  onlyLocal: string[];
  onlyRemote: string[];
  changed: string[];
  /** Node hashes compared (the network cost of a remote descent: one hash each). */
  hashesCompared: number;
  bucketsCompared: number;
}

/**
 * Descends from the roots into differing children only (Dynamo §4.7), then compares the differing
 * buckets' entries. `remote` answers node hashes and bucket entries (a peer over the network, or
 * another local tree); the two trees must share a config.
 */
export function diffTrees(
  local: MerkleTree,
  remote: Pick<MerkleTree, 'nodeHash' | 'bucketEntries'>,
): TreeDiff {
  const { fanout, depth } = local.config;
  const diff: TreeDiff = {
    onlyLocal: [],
    onlyRemote: [],
    changed: [],
    hashesCompared: 1,
    bucketsCompared: 0,
  };
  if (equalBytes(local.nodeHash(0, 0), remote.nodeHash(0, 0))) return diff;
  let frontier = [0];
  for (let level = 1; level <= depth; level++) {
    const next: number[] = [];
    for (const parent of frontier)
      for (let child = parent * fanout; child < (parent + 1) * fanout; child++) {
        diff.hashesCompared++;
        if (!equalBytes(local.nodeHash(level, child), remote.nodeHash(level, child)))
          next.push(child);
      }
    frontier = next;
  }
  for (const bucket of frontier) {
    diff.bucketsCompared++;
    const mine = new Map(local.bucketEntries(bucket).map((e) => [e.key, e.valueHash]));
    const theirs = new Map(remote.bucketEntries(bucket).map((e) => [e.key, e.valueHash]));
    for (const [key, hash] of mine) {
      const other = theirs.get(key);
      if (other === undefined) diff.onlyLocal.push(key);
      else if (!equalBytes(hash, other)) diff.changed.push(key);
    }
    for (const key of theirs.keys()) if (!mine.has(key)) diff.onlyRemote.push(key);
  }
  for (const list of [diff.onlyLocal, diff.onlyRemote, diff.changed]) list.sort();
  return diff;
}
