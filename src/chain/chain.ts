/**
 * Per-node append-only chains of signed entries (docs/design/data-plane.md, "Chains"): entry n of
 * a node's chain names the hash of entry n-1 and is signed with the node's Ed25519 key, so a
 * replica can take entries incrementally (after the sequence it holds), check each one, and tell
 * an extension from a fork. A fork is found from the common ancestor, by binary search on hashes
 * (entry k equal on both sides implies entries 1..k are equal: each names its predecessor's
 * hash), and reported with its point, never guessed from the heads alone.
 *
 * Pure: SHA-256 and Ed25519 arrive as injected functions (`ChainCrypto`, `sign`), so chains run
 * in the simulator deterministically; production passes identity/keys.ts and node:crypto.
 *
 * Signed bytes (FROZEN, domain-separated): "shoal/chain/v1" string, owner id (16 bytes), seq
 * varint, prevHash (32 bytes), payload (varint length + bytes). Entry hash = SHA-256(signed bytes
 * ‖ signature). The first entry (seq 1) names 32 zero bytes.
 */
import { ShoalError } from '../base/errors.js';
import { Writer } from '../codec/bytes.js';
import type { NodeId } from '../identity/node-id.js';

export const CHAIN_DOMAIN = 'shoal/chain/v1';
export const HASH_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const GENESIS_HASH = new Uint8Array(HASH_BYTES);

export interface ChainCrypto {
  sha256(data: Uint8Array): Uint8Array;
  /** Ed25519 verification; false (never a throw) for a malformed key or signature. */
  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
}

export interface ChainEntry {
  readonly owner: NodeId;
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

export interface ChainLimits {
  /** Largest payload, bytes. @defaultValue 65536 */
  payloadBytesMax: number;
  /** Entries kept in memory; older ones are pruned (their hashes are kept longer). @defaultValue 4096 */
  entriesKeptMax: number;
  /** Entry hashes kept for comparisons (32 bytes each). @defaultValue 65536 */
  hashesKeptMax: number;
  /** Most entries one pull returns or one ingest takes. @defaultValue 256 */
  pullEntriesMax: number;
}

export const CHAIN_DEFAULTS: ChainLimits = {
  payloadBytesMax: 65_536,
  entriesKeptMax: 4096,
  hashesKeptMax: 65_536,
  pullEntriesMax: 256,
};

export function chainLimits(settings: Partial<ChainLimits> = {}): ChainLimits {
  const limits = { ...CHAIN_DEFAULTS, ...settings };
  for (const [name, value] of Object.entries(limits))
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `chain ${name} (${value}) must be a positive integer`,
      );
  if (limits.hashesKeptMax < limits.entriesKeptMax)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `chain hashesKeptMax (${limits.hashesKeptMax}) must be at least entriesKeptMax (${limits.entriesKeptMax})`,
    );
  return limits;
}

const writer = new Writer(1024);

/** The bytes an entry's signature covers. */
export function signedBytes(
  owner: NodeId,
  seq: number,
  prevHash: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  writer.reset();
  writer.string(CHAIN_DOMAIN, 64);
  writer.nodeId(owner);
  writer.varint(seq);
  writer.bytes(prevHash);
  writer.varint(payload.length);
  writer.bytes(payload);
  return writer.finish();
}

export function entryHash(entry: ChainEntry, crypto: ChainCrypto): Uint8Array {
  const signed = signedBytes(entry.owner, entry.seq, entry.prevHash, entry.payload);
  const all = new Uint8Array(signed.length + entry.signature.length);
  all.set(signed);
  all.set(entry.signature, signed.length);
  return crypto.sha256(all);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Why an entry was refused (counted per reason by `ChainReplica.refused`). */
export type RefusalReason =
  'wrong-owner' | 'not-next' | 'bad-prev-hash' | 'bad-signature' | 'oversized' | 'malformed';

/** What a replica can say about its hashes: the seq range it knows and the hash at a seq. */
export interface ChainView {
  readonly headSeq: number;
  /** The oldest seq whose hash is known (0 when every hash down to the genesis is). */
  readonly oldestSeq: number;
  /** The hash of entry `seq` (GENESIS_HASH at 0), or undefined when not known (pruned, not fetched). */
  hashAt(seq: number): Uint8Array | undefined;
}

/**
 * One node's chain as held by a replica (the owner's own, or a copy of a peer's): the entries
 * kept in memory, the hashes kept for comparisons, and what was refused.
 */
export class ChainReplica implements ChainView {
  private entries: ChainEntry[] = [];
  /** hashes[i] is the hash of entry hashBase + i + 1. */
  private hashes: Uint8Array[] = [];
  private hashBase = 0;
  readonly refused: Record<RefusalReason, number> = {
    'wrong-owner': 0,
    'not-next': 0,
    'bad-prev-hash': 0,
    'bad-signature': 0,
    oversized: 0,
    malformed: 0,
  };

  constructor(
    readonly owner: NodeId,
    readonly publicKey: Uint8Array,
    private readonly crypto: ChainCrypto,
    readonly limits: ChainLimits = CHAIN_DEFAULTS,
  ) {}

  get headSeq(): number {
    return this.hashBase + this.hashes.length;
  }

  get oldestSeq(): number {
    return this.hashBase === 0 ? 0 : this.hashBase + 1;
  }

  headHash(): Uint8Array {
    return this.hashAt(this.headSeq) as Uint8Array;
  }

  hashAt(seq: number): Uint8Array | undefined {
    if (seq === 0) return GENESIS_HASH;
    if (seq <= this.hashBase || seq > this.headSeq) return undefined;
    return this.hashes[seq - this.hashBase - 1];
  }

  /** The first seq whose entry is still in memory (headSeq + 1 when none is). */
  firstKeptSeq(): number {
    return this.headSeq - this.entries.length + 1;
  }

  /**
   * Entries after `afterSeq`, at most `max` (and pullEntriesMax): the incremental pull. `truncated`
   * when entries right after `afterSeq` were pruned: the puller cannot extend from there.
   */
  entriesAfter(
    afterSeq: number,
    max = this.limits.pullEntriesMax,
  ): { entries: ChainEntry[]; truncated: boolean } {
    const first = this.firstKeptSeq();
    const count = Math.min(max, this.limits.pullEntriesMax);
    if (afterSeq + 1 < first && afterSeq < this.headSeq) return { entries: [], truncated: true };
    const from = afterSeq + 1 - first;
    return {
      entries: this.entries.slice(Math.max(0, from), Math.max(0, from) + count),
      truncated: false,
    };
  }

  /** Why `entry` cannot extend this chain, or undefined when it can. */
  check(entry: ChainEntry): RefusalReason | undefined {
    if (entry.owner !== this.owner) return 'wrong-owner';
    if (entry.prevHash.length !== HASH_BYTES || entry.signature.length !== SIGNATURE_BYTES)
      return 'malformed';
    if (entry.payload.length > this.limits.payloadBytesMax) return 'oversized';
    if (entry.seq !== this.headSeq + 1) return 'not-next';
    if (!sameBytes(entry.prevHash, this.headHash())) return 'bad-prev-hash';
    const signed = signedBytes(entry.owner, entry.seq, entry.prevHash, entry.payload);
    if (!this.crypto.verify(this.publicKey, signed, entry.signature)) return 'bad-signature';
    return undefined;
  }

  /**
   * Takes pulled entries in order, each checked before it is kept; stops at the first refused
   * one (counted) and reports how many were taken. Entries already held are skipped.
   */
  ingest(entries: readonly ChainEntry[]): { accepted: number; refused?: RefusalReason } {
    let accepted = 0;
    for (const entry of entries.slice(0, this.limits.pullEntriesMax)) {
      if (entry.owner === this.owner && entry.seq <= this.headSeq) {
        const known = this.hashAt(entry.seq);
        if (known !== undefined && sameBytes(known, entryHash(entry, this.crypto))) continue;
      }
      const reason = this.check(entry);
      if (reason !== undefined) {
        this.refused[reason]++;
        return { accepted, refused: reason };
      }
      this.keep(entry);
      accepted++;
    }
    return { accepted };
  }

  /**
   * Starts an empty replica at `entry` (seq > 1) when the entries before it are no longer kept
   * anywhere it asked (a member joining after the owner pruned them): the entry must be the
   * owner's, within limits and signed by its key; its `prevHash` becomes the known hash at
   * seq - 1 (the owner signed it), so later entries link and compare from there. Forks below
   * seq - 1 cannot be found by this replica. Undefined when anchored, else why not (counted when
   * the entry fails its checks).
   */
  anchor(entry: ChainEntry): RefusalReason | undefined {
    if (this.headSeq !== 0 || entry.seq < 2) return 'not-next';
    const base = this.hashBase;
    this.hashBase = entry.seq - 2;
    this.hashes = [entry.prevHash];
    const reason = this.check(entry);
    if (reason !== undefined) {
      this.hashBase = base;
      this.hashes = [];
      this.refused[reason]++;
      return reason;
    }
    this.keep(entry);
    return undefined;
  }

  /** Keeps an entry that passed `check` (a chain read back from disk). */
  restore(entry: ChainEntry): void {
    this.keep(entry);
  }

  /** Appends an entry already checked or made here. */
  protected keep(entry: ChainEntry): void {
    this.entries.push(entry);
    this.hashes.push(entryHash(entry, this.crypto));
    if (this.entries.length > this.limits.entriesKeptMax) this.entries.shift();
    if (this.hashes.length > this.limits.hashesKeptMax) {
      this.hashes.shift();
      this.hashBase++;
    }
  }
}

/** The owner's own chain: it appends and signs. */
export class LocalChain extends ChainReplica {
  constructor(
    owner: NodeId,
    publicKey: Uint8Array,
    crypto: ChainCrypto,
    private readonly sign: (data: Uint8Array) => Uint8Array,
    limits: ChainLimits = CHAIN_DEFAULTS,
  ) {
    super(owner, publicKey, crypto, limits);
  }

  /** Appends `payload` as the next entry, signed; ERR_INVALID_ARGUMENT past payloadBytesMax. */
  append(payload: Uint8Array): ChainEntry {
    if (!(payload instanceof Uint8Array) || payload.length > this.limits.payloadBytesMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `chain payload must be a Uint8Array of at most payloadBytesMax (${this.limits.payloadBytesMax}) bytes`,
      );
    const seq = this.headSeq + 1;
    const prevHash = this.headHash();
    const signature = this.sign(signedBytes(this.owner, seq, prevHash, payload));
    const entry: ChainEntry = {
      owner: this.owner,
      seq,
      prevHash,
      payload: payload.slice(),
      signature,
    };
    this.keep(entry);
    return entry;
  }
}

export type CompareResult =
  | { status: 'in-sync'; seq: number }
  | { status: 'local-behind'; commonSeq: number; localHead: number; remoteHead: number }
  | { status: 'remote-behind'; commonSeq: number; localHead: number; remoteHead: number }
  /** The chains agree up to `forkSeq` and differ at forkSeq + 1 (undefined: below the hashes kept). */
  | { status: 'forked'; forkSeq: number | undefined; localHead: number; remoteHead: number }
  /** The remote hashes at `seqs` are needed to go on (fetch them, then compare again). */
  | { status: 'need'; seqs: number[] };

/**
 * Compares two views of one owner's chain by their common ancestor: the largest k whose hashes
 * match on both sides, by binary search (matching at k implies matching below it). A remote view
 * that lacks a needed hash makes the result `need`, so the search runs over the network one
 * hash per round trip; `chainLocator` lets a peer send log2(n) hashes at once instead.
 */
export function compareChains(local: ChainView, remote: ChainView): CompareResult {
  const top = Math.min(local.headSeq, remote.headSeq);
  const equalAt = (seq: number): boolean | 'need' | 'unknown' => {
    const mine = local.hashAt(seq);
    if (mine === undefined) return 'unknown';
    const theirs = remote.hashAt(seq);
    if (theirs === undefined) return 'need';
    return sameBytes(mine, theirs);
  };
  const heads = { localHead: local.headSeq, remoteHead: remote.headSeq };
  const atTop = equalAt(top);
  if (atTop === 'need') return { status: 'need', seqs: [top] };
  // The remote head is older than every hash we keep: no common ancestor can be shown.
  if (atTop === 'unknown') return { status: 'forked', forkSeq: undefined, ...heads };
  let common: number | undefined;
  if (atTop === true) common = top;
  else {
    // Largest k in [lo, top) with equal hashes; lo = the oldest hash both sides keep.
    let lo = Math.max(local.oldestSeq, remote.oldestSeq);
    const atLo = equalAt(lo);
    if (atLo === 'need') return { status: 'need', seqs: [lo] };
    if (atLo !== true) return { status: 'forked', forkSeq: undefined, ...heads };
    let hi = top; // hashes differ (or are unknown) at hi
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const eq = equalAt(mid);
      if (eq === 'need') return { status: 'need', seqs: [mid] };
      if (eq === true) lo = mid;
      else hi = mid;
    }
    common = lo;
  }
  if (common === top && local.headSeq === remote.headSeq) return { status: 'in-sync', seq: top };
  if (common === top && local.headSeq < remote.headSeq)
    return { status: 'local-behind', commonSeq: common, ...heads };
  if (common === top) return { status: 'remote-behind', commonSeq: common, ...heads };
  return { status: 'forked', forkSeq: common, ...heads };
}

/**
 * Hashes at exponentially spaced seqs below the head (head, head-1, head-2, head-4, ... 0), as a
 * Bitcoin block locator: a peer that sends it lets `compareChains` find the common ancestor to
 * within a factor of two in one round trip (then `need` asks for the few hashes in between).
 */
export function chainLocator(chain: ChainView): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let step = 1;
  for (let seq = chain.headSeq; seq > 0; seq -= step) {
    const hash = chain.hashAt(seq);
    if (hash === undefined) break;
    out.set(seq, hash);
    if (out.size > 2) step *= 2;
  }
  out.set(0, GENESIS_HASH);
  return out;
}

/** A remote view made of the hashes a peer sent (a locator plus any fetched ones). */
export function viewOfHashes(headSeq: number, hashes: ReadonlyMap<number, Uint8Array>): ChainView {
  return { headSeq, oldestSeq: 0, hashAt: (seq) => hashes.get(seq) };
}
