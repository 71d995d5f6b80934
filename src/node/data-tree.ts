/**
 * Shared trees on the network (docs/design/data-plane.md, "Merkle sync on the network"):
 * `node.trees`, named key sets (tree/shared.ts) replicated between live members by Merkle
 * anti-entropy over the node's cluster port (envelope type 46, tree/messages.ts) in every mode
 * that runs the data plane.
 *
 * Sync: every `syncIntervalMs` (jittered) the node takes up to `treesPerRoundMax` of its trees in
 * turn and, for each, one live member picked at random. It sends its root (`descend`, level 0);
 * on a different root the peer answers the root's children, and the node asks, level by level
 * (one round trip each, batches of at most DESCEND_NODES_MAX nodes), for the children of the
 * nodes that differ only. At the buckets it sends its (key, leaf hash) pairs of each differing
 * bucket (`buckets`); the peer answers its entries the node lacks or holds differently and the
 * keys it lacks (`entries`); the node merges what it took and pushes (`push`) the entries the
 * peer wants and those where its own won. Cost: about depth + 1 round trips and, per differing
 * key, depth × fanout hashes plus its bucket's pairs (bench/crdt-merkle-sync.ts).
 *
 * Trees are cluster-wide: a peer asked about a tree it does not hold opens it (at most
 * `treesMax`), so a restarted or new member learns every tree from the first peer that syncs
 * one with it. Shape: both sides must use the same depth; a tree grows a level when its size
 * asks for it (merkle.ts `depthForKeys`), and a node asked at a deeper depth than its own grows
 * to it, so every replica converges to the deepest (never past `depthMax`).
 *
 * Trust: every entry is signed by its writer's Ed25519 key; an entry is taken only when its
 * writer is a member this node has seen in membership's signed records (or itself) and the
 * signature verifies. Requests are answered only to live members' addresses. Malformed messages
 * are counted by ERR_DECODE_* code and dropped; refused entries are counted by reason.
 *
 * Not a pure core: it runs over the node's clock, transport and random stream (the simulator's
 * twins in tests); the tree, the merge rule and the proofs are the pure tree library's. Trees are
 * held in memory: a restarted node takes its trees back from its peers.
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { fromHex, toHex } from '../base/hex.js';
import type { Clock } from '../base/time.js';
import type { Rng } from '../base/rng.js';
import { utf8Bytes } from '../base/utf8.js';
import { hlcClock, hlcNow, hlcReceive, type Hlc, type HlcClock } from '../crdt/hlc.js';
import type { ViewMember } from '../crdt/registry/types.js';
import { nodeIdFromPublicKey } from '../identity/keys.js';
import type { NodeId } from '../identity/node-id.js';
import type { Transport, TransportStats } from '../transport/types.js';
import { equalBytes, type Sha256 } from '../tree/merkle.js';
import {
  BUCKETS_PER_REQUEST_MAX,
  DESCEND_NODES_MAX,
  entryWireBytes,
  treeMessages,
  type BucketDigest,
  type TreeBody,
  type TreeMessage,
} from '../tree/messages.js';
import { verifyTreeProof as verifyPure, type TreeProof } from '../tree/proof.js';
import {
  entryWins,
  SharedKeySet,
  signedEntryBytes,
  treeLimits,
  treeNameProblem,
  type TreeEntry,
  type TreeLimits,
} from '../tree/shared.js';
import { sha256 } from './data-crypto.js';
import { AnswerWaits, FramePort, jitteredRounds } from './data-requests.js';
import type { MembershipView } from './data-plane.js';

/** Tree sync's timing and limits (docs/design/data-plane.md, limits table). */
export interface TreeSettings extends TreeLimits {
  /** How often a node syncs some of its trees with one random live member each. @defaultValue 1000 */
  syncIntervalMs: number;
  /** How long a request waits for its answer. @defaultValue 3000 */
  requestTimeoutMs: number;
  /** Trees one node holds at most (its own and those peers asked about). @defaultValue 64 */
  treesMax: number;
  /** Trees synced per round (they take turns past it). @defaultValue 4 */
  treesPerRoundMax: number;
  /** Requests waiting for an answer at once; a round starts no session past it. @defaultValue 64 */
  requestsInFlightMax: number;
  /** Bytes of entries one answer or push carries, and of pairs one bucket request. @defaultValue 1048576 */
  batchBytesMax: number;
  /** A tombstone is dropped this long after its HLC wall time (a replica cut off longer may bring the value back). @defaultValue 86400000 */
  tombstoneKeepMs: number;
  /** How far ahead of local physical time an entry's HLC may be. @defaultValue 60000 */
  clockDriftMaxMs: number;
  /** Writers' keys remembered (members seen in membership's records). @defaultValue 65536 */
  writersKnownMax: number;
}

export const TREE_NETWORK_DEFAULTS = {
  syncIntervalMs: 1000,
  requestTimeoutMs: 3000,
  treesMax: 64,
  treesPerRoundMax: 4,
  requestsInFlightMax: 64,
  batchBytesMax: 1_048_576,
  tombstoneKeepMs: 86_400_000,
  clockDriftMaxMs: 60_000,
  writersKnownMax: 65_536,
} as const;

export function treeSettings(overrides: Partial<TreeSettings> = {}): TreeSettings {
  const all = { ...TREE_NETWORK_DEFAULTS, ...overrides };
  const network: Record<string, number> = {};
  for (const name of Object.keys(TREE_NETWORK_DEFAULTS) as (keyof typeof TREE_NETWORK_DEFAULTS)[]) {
    const value = all[name];
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `tree ${name} (${value}) must be a positive integer`,
      );
    network[name] = value;
  }
  const limitOverrides: Partial<TreeLimits> = {};
  for (const [k, v] of Object.entries(overrides))
    if (!(k in TREE_NETWORK_DEFAULTS)) (limitOverrides as Record<string, unknown>)[k] = v;
  return { ...treeLimits(limitOverrides), ...(network as typeof TREE_NETWORK_DEFAULTS) };
}

/** Reasons an entry or a message was refused (counted, nothing merged). */
export const TREE_REFUSAL_REASONS = [
  'bad-signature',
  'unknown-writer',
  'future-hlc',
  'tree-full',
  'not-a-member',
  'unasked-key',
  'unexpected-answer',
  'bad-request',
  'bad-name',
  'too-many-trees',
] as const;
export type TreeRefusal = (typeof TREE_REFUSAL_REASONS)[number];

/** One entry as the API returns it. */
export interface TreeEntryInfo {
  key: string;
  value: Uint8Array;
  deleted: boolean;
  hlc: Hlc;
  writer: NodeId;
  /** Hex SHA-256 of the entry's leaf bytes: the tree's value hash for the key. */
  leafHash: string;
}

export interface TreeInfo {
  name: string;
  /** Hex root hash. */
  root: string;
  /** Keys with a value. */
  size: number;
  /** Entries held, tombstones included. */
  entries: number;
  tombstones: number;
  bytes: number;
  fanout: number;
  depth: number;
  buckets: number;
}

export interface TreeStats {
  counters: Record<string, number>;
  refused: Record<string, number>;
  decodeErrors: Record<string, number>;
  transport: TransportStats | undefined;
}

type Answer = Extract<TreeBody, { kind: 'hashes' | 'entries' }>;

export interface TreeServiceOptions {
  id: NodeId;
  publicKey: Uint8Array;
  sign: (data: Uint8Array) => Uint8Array;
  /** Ed25519 verification over raw bytes (the simulator's `-unsafe` twin: always true). */
  verify: (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array) => boolean;
  sha256: Sha256;
  clusterId: string;
  clock: Clock;
  rng: Rng;
  /** Wall time minus `clock.now()` at boot: the HLC's physical time is `clock.now()` plus it. */
  wallOffsetMs: number;
  transport: Transport | undefined;
  membership: MembershipView | undefined;
  settings: TreeSettings;
}

/** The node's shared trees and their anti-entropy. */
export class TreeService {
  private readonly trees = new Map<string, SharedKeySet>();
  private readonly waits: AnswerWaits<Answer>;
  /** Trees in a sync session now (one session per tree at a time). */
  private readonly syncing = new Set<string>();
  private readonly writerKeys = new Map<NodeId, Uint8Array>();
  private liveAddresses = new Set<Address>();
  private readonly port: FramePort<TreeMessage>;
  private readonly hlc: HlcClock;
  private rotation = 0;
  private rounds: { stop(): void } | undefined;
  private halted = false;
  readonly refused: Record<string, number> = {};
  readonly counters = {
    localWrites: 0,
    syncs: 0,
    syncsEqual: 0,
    syncsDiffered: 0,
    /** Descend requests sent (one round trip each). */
    levelsDescended: 0,
    hashesReceived: 0,
    bucketsCompared: 0,
    bucketRequests: 0,
    /** Entries merged from peers (they won over what was held). */
    entriesTaken: 0,
    entriesStale: 0,
    entriesSent: 0,
    pushesSent: 0,
    requestsAnswered: 0,
    roundTrips: 0,
    reshapes: 0,
    treesLearned: 0,
    tombstonesCollected: 0,
    expiredTombstonesSkipped: 0,
    /** Sessions that took at least one entry; `lastProgressMs` is the clock at the latest. */
    syncsWithProgress: 0,
  };
  lastProgressMs = 0;

  constructor(private readonly o: TreeServiceOptions) {
    this.port = new FramePort(treeMessages(o.settings), o.clusterId, o.transport);
    this.waits = new AnswerWaits<Answer>(o.clock, o.settings, 'tree');
    this.hlc = hlcClock(o.settings.clockDriftMaxMs);
    this.writerKeys.set(o.id, o.publicKey);
    o.transport?.onReceive((from, channel, data) => {
      void channel;
      this.receive(from, data);
    });
    if (o.transport !== undefined && o.membership !== undefined)
      this.rounds = jitteredRounds(o.clock, o.rng, o.settings.syncIntervalMs, () => this.round());
  }

  private physicalMs(): number {
    return this.o.clock.now() + this.o.wallOffsetMs;
  }

  // ---- the API ----

  private checkOpen(): void {
    if (this.halted)
      throw new ShoalError('ERR_TRANSPORT_CLOSED', 'the node is closed: it writes nothing more');
  }

  /** The tree `name`, opened (empty) when not held yet. */
  open(name: string): SharedKeySet {
    this.checkOpen();
    const problem = treeNameProblem(name, this.o.settings);
    if (problem !== undefined) throw new ShoalError('ERR_INVALID_ARGUMENT', problem);
    const held = this.trees.get(name);
    if (held !== undefined) return held;
    if (this.trees.size >= this.o.settings.treesMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `this node already holds treesMax (${this.o.settings.treesMax}) trees`,
      );
    const tree = new SharedKeySet(name, this.o.settings, this.o.sha256);
    this.trees.set(name, tree);
    return tree;
  }

  tree(name: string): SharedKeySet | undefined {
    return this.trees.get(name);
  }

  names(): string[] {
    return [...this.trees.keys()].sort();
  }

  info(tree: SharedKeySet): TreeInfo {
    return {
      name: tree.name,
      root: toHex(tree.root()),
      size: tree.size,
      entries: tree.entryCount,
      tombstones: tree.tombstoneCount,
      bytes: tree.byteCount,
      fanout: tree.fanout,
      depth: tree.depth,
      buckets: tree.fanout ** tree.depth,
    };
  }

  /** Writes `key` (a value, or a tombstone when `value` is undefined) as this node. */
  write(tree: SharedKeySet, key: string, value: Uint8Array | undefined): TreeEntryInfo {
    this.checkOpen();
    const s = this.o.settings;
    if (typeof key !== 'string' || key.length === 0 || utf8Bytes(key) > s.keyBytesMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `a tree key must be a non-empty string of at most keyBytesMax (${s.keyBytesMax}) bytes`,
      );
    if (value !== undefined && value.length > s.valueBytesMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `a tree value of ${value.length} bytes exceeds valueBytesMax (${s.valueBytesMax})`,
      );
    const unsigned = {
      key,
      value: value ?? new Uint8Array(0),
      deleted: value === undefined,
      hlc: hlcNow(this.hlc, this.physicalMs()),
      writer: this.o.id,
    };
    const entry: TreeEntry = {
      ...unsigned,
      signature: this.o.sign(signedEntryBytes(this.o.clusterId, tree.name, unsigned)),
    };
    if (tree.merge(entry) === 'full')
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `tree ${tree.name} is full (keysMax ${s.keysMax}, treeBytesMax ${s.treeBytesMax})`,
      );
    this.counters.localWrites++;
    this.grow(tree);
    return this.entryInfo(tree, key) as TreeEntryInfo;
  }

  entryInfo(tree: SharedKeySet, key: string): TreeEntryInfo | undefined {
    const held = tree.get(key);
    if (held === undefined) return undefined;
    const e = held.entry;
    return {
      key: e.key,
      value: e.value,
      deleted: e.deleted,
      hlc: e.hlc,
      writer: e.writer,
      leafHash: toHex(held.leafHash),
    };
  }

  proof(tree: SharedKeySet, key: string): TreeProof {
    return {
      tree: tree.name,
      key,
      root: tree.root(),
      merkle: tree.proof(key),
      entry: tree.get(key)?.entry,
    };
  }

  /** @internal Requests waiting for an answer: what the simulator's on-path attacker sees. */
  pendingRequests(): Array<{ id: number; address: Address }> {
    return this.waits.list().map(({ id, address }) => ({ id, address }));
  }

  halt(): void {
    if (this.halted) return;
    this.halted = true;
    this.rounds?.stop();
    this.waits.failAll(new ShoalError('ERR_TRANSPORT_CLOSED', 'the node closed'));
  }

  stats(): TreeStats {
    let entries = 0;
    let keys = 0;
    let tombstones = 0;
    for (const t of this.trees.values()) {
      entries += t.entryCount;
      keys += t.size;
      tombstones += t.tombstoneCount;
    }
    return {
      counters: {
        ...this.counters,
        timeouts: this.waits.timeouts,
        trees: this.trees.size,
        entries,
        keys,
        tombstones,
        lastProgressMs: this.lastProgressMs,
      },
      refused: { ...this.refused },
      decodeErrors: { ...this.port.decodeErrors },
      transport: this.o.transport?.stats(),
    };
  }

  // ---- anti-entropy ----

  private refuse(reason: TreeRefusal, n = 1): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + n;
  }

  private grow(tree: SharedKeySet): void {
    const wanted = tree.wantedDepth();
    if (wanted > tree.depth) {
      tree.reshape(wanted);
      this.counters.reshapes++;
    }
  }

  private live(): ViewMember[] {
    const view = this.o.membership;
    if (view === undefined) return [];
    return view.all().filter((m) => m.state === 'alive' || m.state === 'suspect');
  }

  /** Whether a live member has `address`: the set of the last round, rebuilt once on a miss. */
  private isLiveAddress(address: Address): boolean {
    if (this.liveAddresses.has(address)) return true;
    this.liveAddresses = new Set(this.live().map((m) => m.address));
    return this.liveAddresses.has(address);
  }

  /** The key `writer` signs with: its own, or one seen in membership's records. */
  private writerKey(writer: NodeId): Uint8Array | undefined {
    const known = this.writerKeys.get(writer);
    if (known !== undefined) return known;
    const hex = this.o.membership?.get(writer)?.publicKey;
    if (hex === undefined) return undefined;
    return this.rememberWriter(writer, hex);
  }

  private rememberWriter(id: NodeId, hex: string): Uint8Array | undefined {
    const key = fromHex(hex);
    if (nodeIdFromPublicKey(key) !== id) return undefined;
    if (this.writerKeys.size >= this.o.settings.writersKnownMax) return key;
    this.writerKeys.set(id, key);
    return key;
  }

  private round(): void {
    if (this.halted) return;
    const keepBefore = this.physicalMs() - this.o.settings.tombstoneKeepMs;
    for (const t of this.trees.values()) this.counters.tombstonesCollected += t.collect(keepBefore);
    const peers = this.live();
    this.liveAddresses = new Set(peers.map((m) => m.address));
    for (const m of peers)
      if (!this.writerKeys.has(m.id) && m.publicKey !== undefined)
        this.rememberWriter(m.id, m.publicKey);
    if (peers.length === 0 || this.trees.size === 0) return;
    const names = [...this.trees.keys()];
    const count = Math.min(this.o.settings.treesPerRoundMax, names.length);
    for (let i = 0; i < count; i++) {
      const name = names[(this.rotation + i) % names.length] as string;
      if (this.syncing.has(name)) continue;
      if (this.waits.size >= this.o.settings.requestsInFlightMax) break;
      const peer = this.o.rng.pick(peers);
      this.startSync(name, peer.address, 1);
    }
    this.rotation = (this.rotation + count) % names.length;
  }

  /** One sync session of tree `name` with the member at `address`. */
  private startSync(name: string, address: Address, shapeRetries: number): void {
    const tree = this.trees.get(name);
    if (tree === undefined) return;
    this.syncing.add(name);
    this.counters.syncs++;
    const finish = (progress: boolean): void => {
      this.syncing.delete(name);
      if (progress) {
        this.counters.syncsWithProgress++;
        this.lastProgressMs = this.o.clock.now();
      }
    };
    const depth = tree.depth;
    const fanout = tree.fanout;
    const descend = (level: number, nodes: number[], found: number[], next: () => void): void => {
      // Asks for the children of `nodes` (at `level`) in batches; keeps those that differ.
      const batch = nodes.slice(0, DESCEND_NODES_MAX);
      const rest = nodes.slice(DESCEND_NODES_MAX);
      this.counters.levelsDescended++;
      this.request(
        address,
        { kind: 'descend', id: 0, name, depth, level, root: tree.root(), nodes: batch },
        (answer) => {
          if (answer instanceof ShoalError || answer.kind !== 'hashes') return finish(false);
          if (tree.depth !== depth) return finish(false);
          if (answer.status === 'shape') {
            if (answer.depth > depth && answer.depth <= this.o.settings.depthMax) {
              tree.reshape(answer.depth);
              this.counters.reshapes++;
              finish(false);
              if (shapeRetries > 0) this.startSync(name, address, shapeRetries - 1);
              return;
            }
            return finish(false);
          }
          if (answer.status !== 'ok') return finish(false);
          if (level === 0 && answer.hashes.length === 0 && equalBytes(answer.root, tree.root())) {
            this.counters.syncsEqual++;
            return finish(false);
          }
          if (answer.hashes.length !== batch.length * fanout) {
            this.refuse('unexpected-answer');
            return finish(false);
          }
          if (level === 0) this.counters.syncsDiffered++;
          this.counters.hashesReceived += answer.hashes.length;
          batch.forEach((parent, i) => {
            for (let c = 0; c < fanout; c++) {
              const child = parent * fanout + c;
              const theirs = answer.hashes[i * fanout + c] as Uint8Array;
              if (!equalBytes(tree.nodeHash(level + 1, child), theirs)) found.push(child);
            }
          });
          if (rest.length > 0) descend(level, rest, found, next);
          else next();
        },
      );
    };
    const atLevel = (level: number, nodes: number[]): void => {
      if (nodes.length === 0) return finish(false);
      if (level === depth) return this.exchangeBuckets(tree, address, nodes, finish);
      const found: number[] = [];
      descend(level, nodes, found, () => atLevel(level + 1, found));
    };
    atLevel(0, [0]);
  }

  /** The bucket exchange of a session: batches of digests, answers merged, then our push. */
  private exchangeBuckets(
    tree: SharedKeySet,
    address: Address,
    buckets: number[],
    finish: (progress: boolean) => void,
  ): void {
    const depth = tree.depth;
    let progress = false;
    let index = 0;
    const nextBatch = (): void => {
      if (index >= buckets.length || tree.depth !== depth) return finish(progress);
      const digests: BucketDigest[] = [];
      let bytes = 0;
      while (index < buckets.length && digests.length < BUCKETS_PER_REQUEST_MAX) {
        const bucket = buckets[index] as number;
        const pairs = tree
          .bucketEntries(bucket)
          .map((e) => ({ key: e.key, leafHash: e.valueHash }));
        let size = 8;
        for (const p of pairs) size += p.key.length * 3 + 34;
        if (digests.length > 0 && bytes + size > this.o.settings.batchBytesMax) break;
        digests.push({ bucket, pairs });
        bytes += size;
        index++;
      }
      this.counters.bucketRequests++;
      this.counters.bucketsCompared += digests.length;
      this.request(
        address,
        { kind: 'buckets', id: 0, name: tree.name, depth, buckets: digests },
        (answer) => {
          if (answer instanceof ShoalError || answer.kind !== 'entries') return finish(progress);
          if (answer.status !== 'ok' || tree.depth !== depth) return finish(progress);
          const asked = new Set(digests.map((d) => d.bucket));
          const push: TreeEntry[] = [];
          const sent = new Set<string>();
          for (const entry of answer.entries) {
            if (!asked.has(tree.bucketOf(entry.key))) {
              this.refuse('unasked-key');
              continue;
            }
            if (this.take(tree, entry)) progress = true;
            const mine = tree.get(entry.key)?.entry;
            // Ours won (or theirs was refused): they hold the loser; send ours.
            if (mine !== undefined && entryWins(mine, entry) && !sent.has(mine.key)) {
              push.push(mine);
              sent.add(mine.key);
            }
          }
          for (const key of answer.wants) {
            const mine = tree.get(key)?.entry;
            if (mine !== undefined && asked.has(tree.bucketOf(key)) && !sent.has(key)) {
              push.push(mine);
              sent.add(key);
            }
          }
          this.pushEntries(tree.name, address, push);
          if (progress) this.grow(tree);
          nextBatch();
        },
      );
    };
    nextBatch();
  }

  private pushEntries(name: string, address: Address, entries: readonly TreeEntry[]): void {
    let batch: TreeEntry[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      this.counters.pushesSent++;
      this.counters.entriesSent += batch.length;
      this.send(address, { kind: 'push', id: 0, name, entries: batch });
      batch = [];
      bytes = 0;
    };
    for (const e of entries) {
      const size = entryWireBytes(e);
      if (batch.length > 0 && bytes + size > this.o.settings.batchBytesMax) flush();
      batch.push(e);
      bytes += size;
    }
    flush();
  }

  /**
   * Merges `entry` from a peer when it is acceptable: a known writer, a stamp not too far
   * ahead, a valid signature. True when it was taken (it won over what was held).
   */
  private take(tree: SharedKeySet, entry: TreeEntry): boolean {
    const held = tree.get(entry.key)?.entry;
    if (held !== undefined && !entryWins(entry, held)) {
      this.counters.entriesStale++;
      return false;
    }
    const now = this.physicalMs();
    if (entry.deleted && entry.hlc.wallMs < now - this.o.settings.tombstoneKeepMs) {
      this.counters.expiredTombstonesSkipped++;
      return false;
    }
    const key = this.writerKey(entry.writer);
    if (key === undefined) {
      this.refuse('unknown-writer');
      return false;
    }
    if (entry.hlc.wallMs - now > this.o.settings.clockDriftMaxMs) {
      this.refuse('future-hlc');
      return false;
    }
    if (
      !this.o.verify(key, signedEntryBytes(this.o.clusterId, tree.name, entry), entry.signature)
    ) {
      this.refuse('bad-signature');
      return false;
    }
    const outcome = tree.merge(entry);
    if (outcome === 'full') {
      this.refuse('tree-full');
      return false;
    }
    hlcReceive(this.hlc, entry.hlc, now);
    this.counters.entriesTaken++;
    return true;
  }

  private request(
    address: Address,
    body: TreeBody,
    done: (answer: Answer | ShoalError) => void,
  ): void {
    if (this.o.transport === undefined || this.halted) {
      done(new ShoalError('ERR_TRANSPORT_CLOSED', 'this node has no cluster transport'));
      return;
    }
    const id = this.waits.open(address, done, undefined);
    if (id === undefined) return;
    this.counters.roundTrips++;
    this.send(address, { ...body, id } as TreeBody);
  }

  private send(address: Address, body: TreeBody): void {
    this.port.send(address, { type: 'data-tree', body });
  }

  private receive(from: Address, data: Uint8Array): void {
    if (this.halted) return;
    const body = this.port.decode(data)?.body;
    if (body === undefined) return;
    if (body.kind === 'hashes' || body.kind === 'entries') {
      if (!this.waits.settle(body.id, from, body)) this.refuse('unexpected-answer');
      return;
    }
    if (!this.isLiveAddress(from)) {
      this.refuse('not-a-member');
      return;
    }
    const tree = this.treeFor(body.name);
    switch (body.kind) {
      case 'descend':
        this.answerDescend(from, tree, body);
        return;
      case 'buckets':
        this.answerBuckets(from, tree, body);
        return;
      case 'push': {
        if (tree === undefined) return;
        let progress = false;
        for (const entry of body.entries) if (this.take(tree, entry)) progress = true;
        if (progress) {
          this.grow(tree);
          this.lastProgressMs = this.o.clock.now();
        }
        return;
      }
    }
  }

  /** The tree a peer names, opened when new here (trees are cluster-wide); undefined when refused. */
  private treeFor(name: string): SharedKeySet | undefined {
    const held = this.trees.get(name);
    if (held !== undefined) return held;
    if (treeNameProblem(name, this.o.settings) !== undefined) {
      this.refuse('bad-name');
      return undefined;
    }
    if (this.trees.size >= this.o.settings.treesMax) {
      this.refuse('too-many-trees');
      return undefined;
    }
    this.counters.treesLearned++;
    return this.open(name);
  }

  /** Meets the asker's depth when it is deeper (and allowed); true when both now agree. */
  private agreeShape(tree: SharedKeySet, depth: number): boolean {
    if (depth > tree.depth && depth <= this.o.settings.depthMax) {
      tree.reshape(depth);
      this.counters.reshapes++;
    }
    return depth === tree.depth;
  }

  private answerDescend(
    from: Address,
    tree: SharedKeySet | undefined,
    body: Extract<TreeBody, { kind: 'descend' }>,
  ): void {
    this.counters.requestsAnswered++;
    const zero = new Uint8Array(32);
    if (tree === undefined) {
      this.send(from, {
        kind: 'hashes',
        id: body.id,
        status: 'absent',
        depth: 0,
        root: zero,
        hashes: [],
      });
      return;
    }
    if (!this.agreeShape(tree, body.depth)) {
      const root = tree.root();
      this.send(from, {
        kind: 'hashes',
        id: body.id,
        status: 'shape',
        depth: tree.depth,
        root,
        hashes: [],
      });
      return;
    }
    const root = tree.root();
    const answer = (hashes: Uint8Array[]): void =>
      this.send(from, {
        kind: 'hashes',
        id: body.id,
        status: 'ok',
        depth: tree.depth,
        root,
        hashes,
      });
    if (body.level === 0 && equalBytes(root, body.root)) return answer([]);
    const width = tree.fanout ** body.level;
    if (body.level >= tree.depth || body.nodes.some((n) => n >= width)) {
      this.refuse('bad-request');
      return;
    }
    const hashes: Uint8Array[] = [];
    for (const parent of body.nodes)
      for (let c = 0; c < tree.fanout; c++)
        hashes.push(tree.nodeHash(body.level + 1, parent * tree.fanout + c));
    answer(hashes);
  }

  private answerBuckets(
    from: Address,
    tree: SharedKeySet | undefined,
    body: Extract<TreeBody, { kind: 'buckets' }>,
  ): void {
    this.counters.requestsAnswered++;
    if (tree === undefined) {
      this.send(from, { kind: 'entries', id: body.id, status: 'absent', entries: [], wants: [] });
      return;
    }
    if (!this.agreeShape(tree, body.depth)) {
      this.send(from, { kind: 'entries', id: body.id, status: 'shape', entries: [], wants: [] });
      return;
    }
    const buckets = tree.fanout ** tree.depth;
    const entries: TreeEntry[] = [];
    const wants: string[] = [];
    let bytes = 0;
    for (const digest of body.buckets) {
      if (digest.bucket >= buckets) {
        this.refuse('bad-request');
        return;
      }
      const theirs = new Map<string, Uint8Array>();
      for (const p of digest.pairs)
        if (tree.bucketOf(p.key) === digest.bucket) theirs.set(p.key, p.leafHash);
      for (const mine of tree.bucketEntries(digest.bucket)) {
        const other = theirs.get(mine.key);
        if (other !== undefined && equalBytes(other, mine.valueHash)) continue;
        const held = tree.get(mine.key);
        if (held === undefined) continue;
        const size = entryWireBytes(held.entry);
        if (entries.length > 0 && bytes + size > this.o.settings.batchBytesMax) continue;
        entries.push(held.entry);
        bytes += size;
      }
      for (const key of theirs.keys()) if (tree.get(key) === undefined) wants.push(key);
    }
    this.counters.bucketsCompared += body.buckets.length;
    this.counters.entriesSent += entries.length;
    this.send(from, { kind: 'entries', id: body.id, status: 'ok', entries, wants });
  }
}

/** A shared tree as `node.trees.open(name)` returns it (INTERFACE.md, "Data plane"). */
export class SharedTree {
  constructor(
    private readonly service: TreeService,
    private readonly tree: SharedKeySet,
  ) {}

  get name(): string {
    return this.tree.name;
  }

  /** Keys with a value here (deleted keys not counted). */
  get size(): number {
    return this.tree.size;
  }

  /**
   * Sets `key` to `value` (bytes, or a string as UTF-8) as this node: last writer wins by
   * hybrid logical clock, the entry signed with this node's key. ERR_INVALID_ARGUMENT past
   * keyBytesMax (1 KiB), valueBytesMax (64 KiB), or when the tree is full.
   */
  set(key: string, value: Uint8Array | string): TreeEntryInfo {
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    if (!(bytes instanceof Uint8Array))
      throw new ShoalError('ERR_INVALID_ARGUMENT', 'a tree value must be bytes or a string');
    return this.service.write(this.tree, key, bytes);
  }

  /** Deletes `key` (a tombstone that wins over older values everywhere); true when it had a value. */
  delete(key: string): boolean {
    const had = this.tree.get(key);
    this.service.write(this.tree, key, undefined);
    return had !== undefined && !had.entry.deleted;
  }

  /** The value of `key` here; undefined when absent or deleted. */
  get(key: string): Uint8Array | undefined {
    const held = this.tree.get(key)?.entry;
    return held === undefined || held.deleted ? undefined : held.value;
  }

  /** The entry of `key` here (a tombstone for a deleted key), with its stamp and writer. */
  entry(key: string): TreeEntryInfo | undefined {
    return this.service.entryInfo(this.tree, key);
  }

  /** The Merkle root of this replica (32 bytes). */
  root(): Uint8Array {
    return this.tree.root();
  }

  /** A proof of the key's entry (or absence) under `root()`: check it with `verifyTreeProof`. */
  proof(key: string): TreeProof {
    if (typeof key !== 'string' || key.length === 0)
      throw new ShoalError('ERR_INVALID_ARGUMENT', 'a tree key must be a non-empty string');
    return this.service.proof(this.tree, key);
  }

  /** Root (hex), size, entries, shape. */
  info(): TreeInfo {
    return this.service.info(this.tree);
  }
}

/** `node.trees` (INTERFACE.md, "Data plane"): the cluster's shared trees as held here. */
export class NodeTrees {
  constructor(private readonly service: TreeService) {}

  /** The tree `name` (letters, digits, `.`, `_`, `-`; at most 64 bytes), opened when not held. */
  open(name: string): SharedTree {
    return new SharedTree(this.service, this.service.open(name));
  }

  /** The tree `name` when held here (opened here, or learned from a peer). */
  get(name: string): SharedTree | undefined {
    const tree = this.service.tree(name);
    return tree === undefined ? undefined : new SharedTree(this.service, tree);
  }

  /** Every tree held here, by name. */
  list(): TreeInfo[] {
    return this.service.names().map((n) => this.service.info(this.service.tree(n) as SharedKeySet));
  }
}

/** True when `proof` shows its key's entry (or absence) under `root` (SHA-256 bound). */
export function verifyTreeProof(root: Uint8Array, proof: TreeProof): boolean {
  return verifyPure(root, proof, sha256);
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as JSON: UTF-8 text, or base64 with `encoding: "base64"` when they are not UTF-8. */
export function bytesJson(bytes: Uint8Array): { value: string; encoding?: 'base64' } {
  try {
    return { value: fatalUtf8.decode(bytes) };
  } catch {
    return { value: Buffer.from(bytes).toString('base64'), encoding: 'base64' };
  }
}

/** A proof as JSON (`GET /v1/trees/<name>/proof/<key>`): hex hashes, the value as text or base64. */
export interface TreeProofJson {
  tree: string;
  key: string;
  root: string;
  fanout: number;
  depth: number;
  bucket: number;
  bucketEntries: Array<{ key: string; valueHash: string }>;
  levels: string[][];
  entry: {
    value: string;
    encoding?: 'base64';
    deleted: boolean;
    hlc: Hlc;
    writer: string;
    signature: string;
  } | null;
}

export function treeProofJson(proof: TreeProof): TreeProofJson {
  const e = proof.entry;
  return {
    tree: proof.tree,
    key: proof.key,
    root: toHex(proof.root),
    fanout: proof.merkle.fanout,
    depth: proof.merkle.depth,
    bucket: proof.merkle.bucket,
    bucketEntries: proof.merkle.entries.map((b) => ({ key: b.key, valueHash: toHex(b.valueHash) })),
    levels: proof.merkle.levels.map((l) => l.map(toHex)),
    entry:
      e === undefined
        ? null
        : {
            ...bytesJson(e.value),
            deleted: e.deleted,
            hlc: { wallMs: e.hlc.wallMs, logical: e.hlc.logical },
            writer: e.writer,
            signature: toHex(e.signature),
          },
  };
}

const HEX = /^(?:[0-9a-f]{2})*$/;

function hexField(text: unknown, what: string, bytes?: number): Uint8Array {
  if (
    typeof text !== 'string' ||
    !HEX.test(text) ||
    (bytes !== undefined && text.length !== bytes * 2)
  )
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `proof ${what} must be ${bytes ?? 'some'} bytes of lowercase hex`,
    );
  return fromHex(text);
}

/** A proof back from its JSON (what a client fetched); ERR_INVALID_ARGUMENT naming a bad field. */
export function treeProofFromJson(json: unknown): TreeProof {
  const j = json as Partial<TreeProofJson> | null;
  const bad = (what: string): never => {
    throw new ShoalError('ERR_INVALID_ARGUMENT', `proof ${what} is missing or malformed`);
  };
  if (j === null || typeof j !== 'object') return bad('(the whole of it)');
  if (typeof j.tree !== 'string') bad('tree');
  if (typeof j.key !== 'string') bad('key');
  if (
    !Number.isSafeInteger(j.fanout) ||
    !Number.isSafeInteger(j.depth) ||
    !Number.isSafeInteger(j.bucket)
  )
    bad('shape');
  if (!Array.isArray(j.bucketEntries) || !Array.isArray(j.levels)) bad('bucketEntries or levels');
  let entry: TreeEntry | undefined;
  const e = j.entry;
  if (e !== null && e !== undefined) {
    if (
      typeof e.value !== 'string' ||
      typeof e.deleted !== 'boolean' ||
      typeof e.writer !== 'string'
    )
      bad('entry');
    const hlc = e.hlc as Partial<Hlc> | undefined;
    if (
      hlc === undefined ||
      !Number.isSafeInteger(hlc.wallMs) ||
      !Number.isSafeInteger(hlc.logical)
    )
      bad('entry.hlc');
    entry = {
      key: j.key as string,
      value:
        e.encoding === 'base64'
          ? new Uint8Array(Buffer.from(e.value, 'base64'))
          : new TextEncoder().encode(e.value),
      deleted: e.deleted,
      hlc: { wallMs: hlc?.wallMs as number, logical: hlc?.logical as number },
      writer: hexField(e.writer, 'entry.writer', 16) && (e.writer as NodeId),
      signature: hexField(e.signature, 'entry.signature', 64),
    };
  }
  return {
    tree: j.tree as string,
    key: j.key as string,
    root: hexField(j.root, 'root', 32),
    merkle: {
      fanout: j.fanout as number,
      depth: j.depth as number,
      key: j.key as string,
      bucket: j.bucket as number,
      entries: (j.bucketEntries as unknown[]).map((b) => {
        const x = b as { key?: unknown; valueHash?: unknown };
        if (typeof x.key !== 'string') bad('bucketEntries key');
        return { key: x.key as string, valueHash: hexField(x.valueHash, 'bucketEntries hash', 32) };
      }),
      levels: (j.levels as unknown[]).map((l) => {
        if (!Array.isArray(l)) bad('levels');
        return (l as unknown[]).map((h) => hexField(h, 'level hash', 32));
      }),
    },
    entry,
  };
}
