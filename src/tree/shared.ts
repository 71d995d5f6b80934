/**
 * A shared key set (docs/design/data-plane.md, "Merkle sync on the network"): keys with
 * last-writer-wins values, each entry stamped with a hybrid logical clock and its writer's NodeId
 * and signed by the writer, indexed by a Merkle tree (merkle.ts) so two replicas find the keys
 * they disagree on by descending from their roots. A delete is a tombstone entry (it must win
 * over the value it deletes wherever that value still is), collected after a delay.
 *
 * Merge rule: of two entries for one key, the one with the larger (HLC, writer) stamp wins
 * (`compareStamp`, hlc.ts); the same stamp is the same write (a writer never issues one stamp
 * twice). So merging is commutative, associative and idempotent, and replicas that took the same
 * entries hold the same map, hence the same root, whatever the order.
 *
 * Leaf bytes (FROZEN: they are what the tree hashes and what a proof's value hash covers):
 * `varint(len) ‖ tree name ‖ varint(len) ‖ key ‖ flags (bit 0: deleted) ‖ varint(hlc wall ms) ‖
 * varint(hlc logical) ‖ writer (16 bytes) ‖ varint(len) ‖ value`. The writer signs
 * `"shoal-tree-entry" ‖ 0x00 ‖ varint(len) ‖ cluster id ‖ leaf bytes` with Ed25519.
 *
 * Pure: SHA-256 is injected; no clock, no randomness (stamps and signatures arrive made).
 */
import { ShoalError } from '../base/errors.js';
import { utf8Bytes } from '../base/utf8.js';
import { Writer } from '../codec/bytes.js';
import { compareStamp, type Hlc } from '../crdt/hlc.js';
import type { NodeId } from '../identity/node-id.js';
import {
  bucketOf,
  depthForKeys,
  merkleConfig,
  MerkleTree,
  type BucketEntry,
  type MerkleProof,
  type Sha256,
} from './merkle.js';

/** One key's entry: its value (empty for a tombstone), its stamp, its writer and signature. */
export interface TreeEntry {
  readonly key: string;
  readonly value: Uint8Array;
  readonly deleted: boolean;
  readonly hlc: Hlc;
  readonly writer: NodeId;
  /** Ed25519 over `signedEntryBytes` by the writer's key (64 bytes). */
  readonly signature: Uint8Array;
}

/** A shared tree's limits (docs/design/data-plane.md, limits table). */
export interface TreeLimits {
  /** Children per inner node. @defaultValue 16 */
  fanout: number;
  /** Fewest levels a tree has (fanout^2 = 256 buckets). @defaultValue 2 */
  depthMin: number;
  /** Most levels (16^4 = 65,536 buckets, ~15 keys each at keysMax). @defaultValue 4 */
  depthMax: number;
  /** Most entries, tombstones included. @defaultValue 1000000 */
  keysMax: number;
  /** Longest key, UTF-8 bytes. @defaultValue 1024 */
  keyBytesMax: number;
  /** Longest value, bytes. @defaultValue 65536 */
  valueBytesMax: number;
  /** Most key and value bytes one tree holds. @defaultValue 268435456 */
  treeBytesMax: number;
  /** Longest tree name, bytes (letters, digits, `.`, `_`, `-`). @defaultValue 64 */
  nameBytesMax: number;
}

export const TREE_LIMITS_DEFAULTS: TreeLimits = {
  fanout: 16,
  depthMin: 2,
  depthMax: 4,
  keysMax: 1_000_000,
  keyBytesMax: 1024,
  valueBytesMax: 65_536,
  treeBytesMax: 256 * 1024 * 1024,
  nameBytesMax: 64,
};

export function treeLimits(overrides: Partial<TreeLimits> = {}): TreeLimits {
  const l = { ...TREE_LIMITS_DEFAULTS, ...overrides };
  for (const [name, value] of Object.entries(l))
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `tree ${name} (${value}) must be a positive integer`,
      );
  if (l.depthMin > l.depthMax)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `tree depthMin (${l.depthMin}) exceeds depthMax (${l.depthMax})`,
    );
  // Checks fanout and the largest shape once (merkleConfig throws past its bounds).
  merkleConfig({
    fanout: l.fanout,
    depth: l.depthMax,
    keysMax: l.keysMax,
    keyBytesMax: l.keyBytesMax,
  });
  return l;
}

const NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

/** Why `name` cannot name a tree, or undefined when it can. */
export function treeNameProblem(name: unknown, limits: TreeLimits): string | undefined {
  if (typeof name !== 'string' || name.length === 0)
    return 'a tree name must be a non-empty string';
  if (utf8Bytes(name) > limits.nameBytesMax)
    return `tree name of ${utf8Bytes(name)} bytes exceeds nameBytesMax (${limits.nameBytesMax})`;
  if (!NAME_PATTERN.test(name))
    return `tree name ${JSON.stringify(name)} may hold only letters, digits, ".", "_" and "-"`;
  return undefined;
}

/** An entry's fields as the leaf bytes and the wire both write them, name and signature aside. */
export function writeEntryFields(
  w: Writer,
  entry: Omit<TreeEntry, 'signature'>,
  keyBytesMax: number,
): void {
  w.string(entry.key, keyBytesMax);
  w.u8(entry.deleted ? 1 : 0);
  w.varint(entry.hlc.wallMs);
  w.varint(entry.hlc.logical);
  w.nodeId(entry.writer);
  w.varint(entry.value.length);
  w.bytes(entry.value);
}

const leafWriter = new Writer(1024);

/** The leaf bytes of `entry` in tree `name` (FROZEN, module comment). */
export function leafBytes(name: string, entry: Omit<TreeEntry, 'signature'>): Uint8Array {
  leafWriter.reset();
  leafWriter.string(name, Number.MAX_SAFE_INTEGER);
  writeEntryFields(leafWriter, entry, Number.MAX_SAFE_INTEGER);
  return leafWriter.finish();
}

const SIGNING_DOMAIN = new TextEncoder().encode('shoal-tree-entry\u0000');

/** What the writer signs: the domain, the cluster id, the leaf bytes. */
export function signedEntryBytes(
  clusterId: string,
  name: string,
  entry: Omit<TreeEntry, 'signature'>,
): Uint8Array {
  const leaf = leafBytes(name, entry);
  const w = new Writer(SIGNING_DOMAIN.length + leaf.length + 64);
  w.bytes(SIGNING_DOMAIN);
  w.string(clusterId, Number.MAX_SAFE_INTEGER);
  w.bytes(leaf);
  return w.finish();
}

/** An entry held, with the hash of its leaf bytes (the tree's value hash for its key). */
export interface HeldEntry {
  readonly entry: TreeEntry;
  readonly leafHash: Uint8Array;
}

export type MergeOutcome = 'taken' | 'stale' | 'full';

/** True when `a` wins over `b` (the larger stamp). */
export function entryWins(a: TreeEntry, b: TreeEntry): boolean {
  return compareStamp(a.hlc, a.writer, b.hlc, b.writer) > 0;
}

function entrySize(e: TreeEntry): number {
  return utf8Bytes(e.key) + e.value.length;
}

/** One replica of a shared tree: its entries and their Merkle tree. */
export class SharedKeySet {
  private tree: MerkleTree;
  private readonly held = new Map<string, HeldEntry>();
  /** Tombstones by key, with their HLC wall time (what `collect` compares). */
  private readonly tombstones = new Map<string, number>();
  private live = 0;
  private bytes = 0;

  constructor(
    readonly name: string,
    private readonly limits: TreeLimits,
    private readonly sha256: Sha256,
    depth = limits.depthMin,
  ) {
    this.tree = this.emptyTree(depth);
  }

  private emptyTree(depth: number): MerkleTree {
    const l = this.limits;
    return new MerkleTree(
      merkleConfig({ fanout: l.fanout, depth, keysMax: l.keysMax, keyBytesMax: l.keyBytesMax }),
      this.sha256,
    );
  }

  /** Keys with a value (tombstones not counted). */
  get size(): number {
    return this.live;
  }

  /** Entries held, tombstones included. */
  get entryCount(): number {
    return this.held.size;
  }

  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  /** Key and value bytes held. */
  get byteCount(): number {
    return this.bytes;
  }

  get depth(): number {
    return this.tree.config.depth;
  }

  get fanout(): number {
    return this.tree.config.fanout;
  }

  /** The depth this replica's size asks for (merkle.ts `depthForKeys`). */
  wantedDepth(): number {
    const l = this.limits;
    return depthForKeys(this.held.size, l.fanout, l.depthMin, l.depthMax);
  }

  root(): Uint8Array {
    return this.tree.root();
  }

  nodeHash(level: number, index: number): Uint8Array {
    return this.tree.nodeHash(level, index);
  }

  /** The bucket of `key` in the present shape. */
  bucketOf(key: string): number {
    return bucketOf(key, this.tree.buckets);
  }

  bucketEntries(bucket: number): BucketEntry[] {
    return this.tree.bucketEntries(bucket);
  }

  get(key: string): HeldEntry | undefined {
    return this.held.get(key);
  }

  entries(): IterableIterator<HeldEntry> {
    return this.held.values();
  }

  proof(key: string): MerkleProof {
    return this.tree.proof(key);
  }

  /**
   * Takes `entry` when it wins over the one held for its key (or none is held): `taken`; `stale`
   * when the held one wins or is the same write; `full` when a new key would pass keysMax or
   * treeBytesMax. The caller checked the entry's signature and sizes.
   */
  merge(entry: TreeEntry): MergeOutcome {
    const before = this.held.get(entry.key);
    if (before !== undefined && !entryWins(entry, before.entry)) return 'stale';
    const grow = entrySize(entry) - (before === undefined ? 0 : entrySize(before.entry));
    if (before === undefined && this.held.size >= this.limits.keysMax) return 'full';
    if (grow > 0 && this.bytes + grow > this.limits.treeBytesMax) return 'full';
    const leafHash = this.sha256(leafBytes(this.name, entry));
    this.held.set(entry.key, { entry, leafHash });
    this.tree.setHash(entry.key, leafHash);
    this.bytes += grow;
    if (before === undefined || before.entry.deleted) {
      if (!entry.deleted) this.live++;
    } else if (entry.deleted) this.live--;
    if (entry.deleted) this.tombstones.set(entry.key, entry.hlc.wallMs);
    else this.tombstones.delete(entry.key);
    return 'taken';
  }

  /** Drops the tombstones written before `beforeWallMs`; returns how many. */
  collect(beforeWallMs: number): number {
    let dropped = 0;
    for (const [key, wallMs] of this.tombstones) {
      if (wallMs >= beforeWallMs) continue;
      const held = this.held.get(key) as HeldEntry;
      this.tombstones.delete(key);
      this.held.delete(key);
      this.tree.delete(key);
      this.bytes -= entrySize(held.entry);
      dropped++;
    }
    return dropped;
  }

  /** Rebuilds the tree at `depth` from the leaf hashes held (no value is hashed again). */
  reshape(depth: number): void {
    if (depth === this.tree.config.depth) return;
    if (depth < this.limits.depthMin || depth > this.limits.depthMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `tree depth ${depth} is outside [${this.limits.depthMin}, ${this.limits.depthMax}]`,
      );
    const tree = this.emptyTree(depth);
    for (const [key, h] of this.held) tree.setHash(key, h.leafHash);
    this.tree = tree;
  }
}
