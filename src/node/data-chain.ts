/**
 * Chains on the network (docs/design/data-plane.md, "Chains on the network"): `node.chain`, the
 * node's own append-only chain of signed entries (chain/chain.ts), kept on disk (chain/store.ts),
 * and copies of every member's chain, replicated by incremental pull over the node's cluster
 * port (envelope type 45, chain/messages.ts) in every mode that runs the data plane.
 *
 * Replication: every `pullIntervalMs` (jittered) the node asks one live member, picked at random,
 * whether their heads agree: a `digest` (how many non-empty chains it holds of itself and of the
 * members its view lists, and the XOR of their head hashes; 32 bytes, whatever the cluster's
 * size). The peer answers `same` in a few bytes when its own digest matches (steady state: O(1)
 * bytes per pull, flat in N); otherwise it answers the same digest by bucket of owners (owner id
 * prefix, about `OWNERS_PER_BUCKET` owners a bucket), and the node names its owners in the buckets
 * that differ in a `pull`, with its head seq and hash for each: a changed chain arrives in that
 * same pull, two round trips after it opened. The peer answers with the entries after that seq
 * when its own copy agrees at it, `diverged` when it does not, `pruned` when it no longer keeps
 * them. Every entry taken is
 * checked before it is kept: its owner's key (from the owner's signed membership record; a
 * NodeId is the hash of that key), its link to the entry before, its seq, its size; a refused
 * entry stops the batch and is counted by reason. A `diverged` answer starts a comparison by
 * common ancestor with that peer (the `ask`/`hashes` rounds `compare` uses: a locator first, then
 * the few hashes the binary search needs): a fork is recorded with its point, reported (event
 * `chain-fork`, counter `forks`) and never merged: that owner's entries are not taken from that
 * peer again. The node's own chain is taken back from peers too (a node restarted from an old
 * disk, before it appends again, recovers its later entries from the replicas; appended entries
 * are persisted like its own).
 *
 * Not a pure core: it runs over the node's clock, transport, storage and random stream (the
 * simulator's twins in tests), like the carrier; the checks that matter (signatures, links, the
 * comparison) are the pure chain library's.
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { fromHex, toHex } from '../base/hex.js';
import { ms, type Clock, type TimerHandle } from '../base/time.js';
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
import {
  chainLimits,
  chainLocator,
  ChainReplica,
  compareChains,
  entryHash,
  GENESIS_HASH,
  HASH_BYTES,
  LocalChain,
  type ChainCrypto,
  type ChainEntry,
  type ChainLimits,
  type ChainView,
  type CompareResult,
  type RefusalReason,
} from '../chain/chain.js';
import {
  BUCKET_BITS_MAX,
  BUCKET_DIGEST_BYTES,
  chainMessages,
  type ChainBody,
  type ChainMessage,
  type PullWant,
  type PulledChain,
} from '../chain/messages.js';
import { ChainFile, loadChain } from '../chain/store.js';
import type { ViewMember } from '../crdt/registry/types.js';
import type { NodeId } from '../identity/node-id.js';
import { nodeIdFromPublicKey } from '../identity/keys.js';
import type { Transport, TransportStats } from '../transport/types.js';
import type { MembershipView } from './data-plane.js';
import { AnswerWaits, FramePort, jitteredRounds } from './data-requests.js';

/** Chain replication's timing and limits (docs/design/data-plane.md, "Chains on the network"). */
export interface ChainSettings extends ChainLimits {
  /** How often a node pulls from one random live member. @defaultValue 1000 */
  pullIntervalMs: number;
  /** How long a pull or comparison round waits for its answer. @defaultValue 3000 */
  requestTimeoutMs: number;
  /** Most chains one pull names (owners rotate when more are known). @defaultValue 1024 */
  ownersPerPullMax: number;
  /** Bytes of entries one answer carries at most (one entry always goes). @defaultValue 1048576 */
  pulledBytesMax: number;
  /** Requests waiting for an answer at once; more are refused with ERR_QUEUE_FULL. @defaultValue 64 */
  requestsInFlightMax: number;
  /** Rounds one comparison may take (a locator, then binary search). @defaultValue 64 */
  compareRoundsMax: number;
  /** Forks remembered (owner and peer); the oldest is dropped past it. @defaultValue 1024 */
  forksKeptMax: number;
  /**
   * Members told at once when this node's heads change (an append, or entries taken), each of
   * which pulls from it at once when its own heads differ: an append reaches every member in a
   * few round trips instead of a few pull intervals. 0 turns it off. @defaultValue 3
   */
  notifyFanout: number;
  /** Least time between two notifications of one node (changes in between go together). @defaultValue 20 */
  notifyGapMs: number;
}

export const CHAIN_NETWORK_DEFAULTS = {
  pullIntervalMs: 1000,
  requestTimeoutMs: 3000,
  ownersPerPullMax: 1024,
  pulledBytesMax: 1_048_576,
  requestsInFlightMax: 64,
  compareRoundsMax: 64,
  forksKeptMax: 1024,
  notifyFanout: 3,
  notifyGapMs: 20,
} as const;

export function chainSettings(overrides: Partial<ChainSettings> = {}): ChainSettings {
  const { pullIntervalMs, requestTimeoutMs, ownersPerPullMax, pulledBytesMax, ...rest } = {
    ...CHAIN_NETWORK_DEFAULTS,
    ...overrides,
  };
  const network = { pullIntervalMs, requestTimeoutMs, ownersPerPullMax, pulledBytesMax };
  const more = {
    requestsInFlightMax: rest.requestsInFlightMax,
    compareRoundsMax: rest.compareRoundsMax,
    forksKeptMax: rest.forksKeptMax,
  };
  const notify = { notifyFanout: rest.notifyFanout, notifyGapMs: rest.notifyGapMs };
  for (const [name, value] of Object.entries(notify))
    if (!Number.isSafeInteger(value) || value < 0 || value > 3_600_000)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `chain ${name} (${value}) must be a non-negative integer`,
      );
  for (const [name, value] of Object.entries({ ...network, ...more }))
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `chain ${name} (${value}) must be a positive integer`,
      );
  const limits = chainLimits({
    ...(rest.payloadBytesMax === undefined ? {} : { payloadBytesMax: rest.payloadBytesMax }),
    ...(rest.entriesKeptMax === undefined ? {} : { entriesKeptMax: rest.entriesKeptMax }),
    ...(rest.hashesKeptMax === undefined ? {} : { hashesKeptMax: rest.hashesKeptMax }),
    ...(rest.pullEntriesMax === undefined ? {} : { pullEntriesMax: rest.pullEntriesMax }),
  });
  return { ...limits, ...network, ...more, ...notify };
}

/** One entry as the API returns it. */
export interface ChainEntryInfo {
  owner: NodeId;
  seq: number;
  /** Hex SHA-256 of the entry (signed bytes and signature): what the next entry names. */
  hash: string;
  prevHash: string;
  payload: Uint8Array;
  signature: string;
}

export interface ChainHead {
  owner: NodeId;
  seq: number;
  /** Hex hash of the head entry (64 zeros for an empty chain). */
  hash: string;
}

/** `compare`'s answer: found from the common ancestor, never from the heads alone. */
export type ChainComparison = Exclude<CompareResult, { status: 'need' }> & {
  owner: NodeId;
  peer: NodeId;
};

/** A fork found with a peer: the owner's chain there and here agree up to `forkSeq` only. */
export interface ChainFork {
  owner: NodeId;
  peer: NodeId;
  /** Undefined when the chains differ below every hash kept. */
  forkSeq: number | undefined;
  localHead: number;
  remoteHead: number;
}

export interface ChainStats {
  counters: Record<string, number>;
  refused: Record<string, number>;
  decodeErrors: Record<string, number>;
  transport: TransportStats | undefined;
}

type Answer = Extract<ChainBody, { kind: 'pulled' | 'hashes' | 'summary' }>;

/** Owners a summary bucket holds, about: the answerer picks its bucket bits from its count. */
export const OWNERS_PER_BUCKET = 8;

/** The heads of a node's digest set, in brief (see the module comment). */
interface HeadsDigest {
  /** Non-empty chains counted. */
  count: number;
  /** XOR of their head hashes. */
  root: Uint8Array;
  /** XOR of the head hashes by bucket, BUCKET_DIGEST_BYTES each (2^bits of them). */
  buckets: Uint8Array;
}

/** The bucket of `owner` among 2^bits: the first bits of its id (a hash of its key, so uniform). */
export function bucketOf(owner: NodeId, bits: number): number {
  return bits === 0 ? 0 : Number.parseInt(owner.slice(0, 8), 16) >>> (32 - bits);
}

/** The bucket bits an answerer uses for `owners` owners: about OWNERS_PER_BUCKET a bucket. */
export function bucketBitsFor(owners: number): number {
  let bits = 0;
  while (OWNERS_PER_BUCKET << bits < owners && bits < BUCKET_BITS_MAX) bits++;
  return bits;
}

/** What the node keeps about a request beside its address. */
interface Asked {
  /** The request's kind (what an on-path attacker reads off the wire). */
  kind: ChainBody['kind'];
  peer: NodeId;
}

const REFUSAL_REASONS: readonly RefusalReason[] = [
  'wrong-owner',
  'not-next',
  'bad-prev-hash',
  'bad-signature',
  'oversized',
  'malformed',
];

export interface ChainServiceOptions {
  id: NodeId;
  publicKey: Uint8Array;
  sign: (data: Uint8Array) => Uint8Array;
  clusterId: string;
  crypto: ChainCrypto;
  clock: Clock;
  rng: Rng;
  storage: Storage;
  transport: Transport | undefined;
  membership: MembershipView | undefined;
  settings: ChainSettings;
  onFork: (fork: ChainFork) => void;
}

/** The node's chains: its own (durable), its copies of the others', and their replication. */
export class ChainService {
  readonly own: LocalChain;
  private readonly replicas = new Map<NodeId, ChainReplica>();
  private readonly forks = new Map<string, ChainFork>();
  private readonly waits: AnswerWaits<Answer, Asked>;
  private readonly file: ChainFile;
  private readonly port: FramePort<ChainMessage>;
  private rotation = 0;
  private rounds: { stop(): void } | undefined;
  private notifyTimer: TimerHandle | undefined;
  private lastNotifyMs = Number.NEGATIVE_INFINITY;
  private halted = false;
  /** Reasons an entry or a message was refused that the replicas do not count themselves. */
  private readonly extraRefused: Record<string, number> = {};
  readonly counters = {
    appended: 0,
    loadedFromDisk: 0,
    diskRepairs: 0,
    /** Pull rounds opened (a digest sent), on the timer or on a notification. */
    pullsSent: 0,
    /** Notifications sent (one per member told) and received. */
    notifiesSent: 0,
    notifiesReceived: 0,
    /** Notifications that opened a pull (the receiver's heads differed). */
    notifiesPulled: 0,
    /** Pull rounds the peer answered `same` (nothing more sent). */
    pullsSame: 0,
    /** Pull rounds whose digests differed: the buckets came back, owners were named. */
    pullsDescended: 0,
    /** Owners named in the pulls after a descent (about OWNERS_PER_BUCKET per differing bucket). */
    ownersNamed: 0,
    digestsAnswered: 0,
    pullsAnswered: 0,
    deltasSent: 0,
    deltasReceived: 0,
    entriesSent: 0,
    entriesReceived: 0,
    entryBytesSent: 0,
    entryBytesReceived: 0,
    ownEntriesRecovered: 0,
    diverged: 0,
    pruned: 0,
    /** Copies started at a peer's oldest kept entry (the owner pruned the ones before). */
    anchored: 0,
    /** Copies dropped because they fell behind every entry a peer keeps (taken again, anchored). */
    copiesDropped: 0,
    forks: 0,
    comparisons: 0,
    /** Pulls that brought at least one entry; `lastProgressMs` is the clock at the latest. */
    pullsWithProgress: 0,
  };
  /** Clock time of the last pull that brought entries (convergence: it stops moving). */
  lastProgressMs = 0;

  constructor(private readonly o: ChainServiceOptions) {
    this.own = new LocalChain(o.id, o.publicKey, o.crypto, o.sign, o.settings);
    const loaded = loadChain(o.storage, this.own);
    this.counters.loadedFromDisk = loaded.entries;
    if (loaded.damaged !== undefined) this.counters.diskRepairs++;
    this.file = new ChainFile(o.storage, o.settings.hashesKeptMax, loaded.entries);
    this.port = new FramePort(
      chainMessages(o.settings, o.settings.ownersPerPullMax),
      o.clusterId,
      o.transport,
    );
    this.waits = new AnswerWaits(o.clock, o.settings, 'chain');
    o.transport?.onReceive((from, channel, data) => {
      void channel;
      this.receive(from, data);
    });
    if (o.transport !== undefined && o.membership !== undefined)
      this.rounds = jitteredRounds(o.clock, o.rng, o.settings.pullIntervalMs, () =>
        this.pullRound(),
      );
  }

  // ---- the API (NodeChain) ----

  append(payload: Uint8Array): ChainEntryInfo {
    if (this.halted)
      throw new ShoalError('ERR_TRANSPORT_CLOSED', 'the node is closed: it appends nothing more');
    const entry = this.own.append(payload);
    this.file.append(entry);
    this.counters.appended++;
    this.changed();
    return this.info(entry);
  }

  chainOf(owner: NodeId): ChainReplica | undefined {
    return owner === this.o.id ? this.own : this.replicas.get(owner);
  }

  head(owner: NodeId): ChainHead | undefined {
    const chain = this.chainOf(owner);
    if (chain === undefined) return undefined;
    return { owner, seq: chain.headSeq, hash: toHex(chain.headHash()) };
  }

  heads(): ChainHead[] {
    const out = [this.head(this.o.id) as ChainHead];
    for (const owner of [...this.replicas.keys()].sort()) out.push(this.head(owner) as ChainHead);
    return out;
  }

  entries(owner: NodeId, afterSeq: number, limit: number): ChainEntryInfo[] | undefined {
    const chain = this.chainOf(owner);
    if (chain === undefined) return undefined;
    const { entries, truncated } = chain.entriesAfter(afterSeq, limit);
    if (truncated)
      throw new ShoalError(
        'ERR_COMPACTED',
        `entries of ${owner} after ${afterSeq} are no longer kept here (oldest kept: ${chain.firstKeptSeq()})`,
      );
    return entries.map((e) => this.info(e));
  }

  /**
   * @internal The requests waiting for an answer: what an on-path attacker sees (the simulator's
   * chain-forgery scenarios answer them with forged entries).
   */
  pendingRequests(): Array<{
    id: number;
    kind: ChainBody['kind'];
    peer: NodeId;
    address: Address;
  }> {
    return this.waits.list().map(({ id, address, info }) => ({
      id,
      kind: info.kind,
      peer: info.peer,
      address,
    }));
  }

  /** The settings this service runs with (NodeOptions.chain over the defaults). */
  settings(): Readonly<ChainSettings> {
    return this.o.settings;
  }

  forksFound(): ChainFork[] {
    return [...this.forks.values()];
  }

  /** Compares `owner`'s chain here with `peer`'s copy, by common ancestor. */
  compare(peer: NodeId, owner: NodeId, done: (result: ChainComparison | ShoalError) => void): void {
    const address = this.addressOf(peer);
    if (address === undefined) {
      done(
        new ShoalError(
          'ERR_INVALID_ARGUMENT',
          `${peer} is not a live member of this node's view: there is no peer to compare with`,
        ),
      );
      return;
    }
    this.findCommon(peer, address, owner, (result) => {
      if (result instanceof ShoalError) return done(result);
      if (result.status === 'forked') this.recordFork(result);
      done(result);
    });
  }

  halt(): void {
    if (this.halted) return;
    this.halted = true;
    this.rounds?.stop();
    this.rounds = undefined;
    this.notifyTimer?.cancel();
    this.notifyTimer = undefined;
    this.waits.failAll(new ShoalError('ERR_TRANSPORT_CLOSED', 'the node closed'));
  }

  stats(): ChainStats {
    const refused: Record<string, number> = { ...this.extraRefused };
    for (const chain of [this.own, ...this.replicas.values()])
      for (const reason of REFUSAL_REASONS)
        if (chain.refused[reason] > 0)
          refused[reason] = (refused[reason] ?? 0) + chain.refused[reason];
    let held = 0;
    for (const r of this.replicas.values()) held += r.headSeq;
    return {
      counters: {
        ...this.counters,
        timeouts: this.waits.timeouts,
        ownHead: this.own.headSeq,
        chainsHeld: this.replicas.size,
        replicaEntries: held,
        forksKnown: this.forks.size,
        fileCompactions: this.file.compactions,
        lastProgressMs: this.lastProgressMs,
      },
      refused,
      decodeErrors: { ...this.port.decodeErrors },
      transport: this.o.transport?.stats(),
    };
  }

  // ---- replication ----

  private info(entry: ChainEntry): ChainEntryInfo {
    return {
      owner: entry.owner,
      seq: entry.seq,
      hash: toHex(entryHash(entry, this.o.crypto)),
      prevHash: toHex(entry.prevHash),
      payload: entry.payload,
      signature: toHex(entry.signature),
    };
  }

  private live(): ViewMember[] {
    const view = this.o.membership;
    if (view === undefined) return [];
    return view.all().filter((m) => m.state === 'alive' || m.state === 'suspect');
  }

  private addressOf(peer: NodeId): Address | undefined {
    const m = this.o.membership?.get(peer);
    return m === undefined || (m.state !== 'alive' && m.state !== 'suspect')
      ? undefined
      : m.address;
  }

  private forkKey(owner: NodeId, peer: NodeId): string {
    return `${owner}/${peer}`;
  }

  /** Self and every member the view lists (any state, until membership reaps it). */
  private digestOwners(): NodeId[] {
    const owners = [this.o.id];
    for (const m of this.o.membership?.all() ?? []) owners.push(m.id);
    return owners;
  }

  /** The digest of `owners`' heads: count and XOR of the non-empty ones, and by bucket. */
  private headsDigest(owners: readonly NodeId[], bits: number): HeadsDigest {
    const root = new Uint8Array(HASH_BYTES);
    const buckets = new Uint8Array(BUCKET_DIGEST_BYTES << bits);
    let count = 0;
    for (const owner of owners) {
      const chain = this.chainOf(owner);
      if (chain === undefined || chain.headSeq === 0) continue;
      count++;
      const hash = chain.headHash();
      for (let i = 0; i < HASH_BYTES; i++) root[i] = (root[i] as number) ^ (hash[i] as number);
      const at = bucketOf(owner, bits) * BUCKET_DIGEST_BYTES;
      for (let i = 0; i < BUCKET_DIGEST_BYTES; i++)
        buckets[at + i] = (buckets[at + i] as number) ^ (hash[i] as number);
    }
    return { count, root, buckets };
  }

  private pullRound(): void {
    const peers = this.live();
    if (peers.length === 0 || this.halted) return;
    this.pullFrom(this.o.rng.pick(peers));
  }

  /** One pull round with `peer`: our digest, then (when it differs) the owners of its buckets. */
  private pullFrom(peer: ViewMember): void {
    const mine = this.headsDigest(this.digestOwners(), 0);
    this.counters.pullsSent++;
    this.request(
      peer.id,
      peer.address,
      { kind: 'digest', id: 0, count: mine.count, root: mine.root },
      (answer) => {
        if (answer instanceof ShoalError) return;
        if (answer.kind !== 'summary') return this.count('unexpected-answer');
        if (answer.same) {
          this.counters.pullsSame++;
          return;
        }
        this.counters.pullsDescended++;
        this.pullBuckets(peer, answer.bucketBits, answer.buckets);
      },
    );
  }

  /** Our heads changed: tell `notifyFanout` random live members, at most once per notifyGapMs. */
  private changed(): void {
    if (this.o.settings.notifyFanout === 0 || this.notifyTimer !== undefined || this.halted) return;
    if (this.o.transport === undefined || this.o.membership === undefined) return;
    const waitMs = this.lastNotifyMs + this.o.settings.notifyGapMs - this.o.clock.now();
    this.notifyTimer = this.o.clock.setTimer(ms(Math.max(0, waitMs)), () => {
      this.notifyTimer = undefined;
      if (this.halted) return;
      this.lastNotifyMs = this.o.clock.now();
      const peers = this.o.rng.shuffle(this.live()).slice(0, this.o.settings.notifyFanout);
      if (peers.length === 0) return;
      const mine = this.headsDigest(this.digestOwners(), 0);
      for (const peer of peers) {
        this.counters.notifiesSent++;
        this.send(peer.address, { kind: 'notify', id: 0, count: mine.count, root: mine.root });
      }
    });
  }

  /** A member's heads changed: pull from it now when ours differ and no request to it waits. */
  private takeNotify(from: Address, count: number, root: Uint8Array): void {
    this.counters.notifiesReceived++;
    const peer = this.live().find((m) => m.address === from);
    if (peer === undefined) return this.count('unexpected-notify');
    const mine = this.headsDigest(this.digestOwners(), 0);
    if (mine.count === count && sameHash(mine.root, root)) return;
    if (this.waits.waitsOn(from)) return;
    this.counters.notifiesPulled++;
    this.pullFrom(peer);
  }

  /** Names our owners in the buckets whose digest differs from the peer's, with our heads. */
  private pullBuckets(peer: ViewMember, bits: number, theirs: Uint8Array): void {
    const owners = this.digestOwners();
    const ours = this.headsDigest(owners, bits).buckets;
    const differs = (bucket: number): boolean => {
      for (let i = bucket * BUCKET_DIGEST_BYTES; i < (bucket + 1) * BUCKET_DIGEST_BYTES; i++)
        if (ours[i] !== theirs[i]) return true;
      return false;
    };
    const all = owners.filter(
      (owner) => differs(bucketOf(owner, bits)) && !this.forks.has(this.forkKey(owner, peer.id)),
    );
    const max = this.o.settings.ownersPerPullMax;
    const start = all.length > max ? this.rotation % all.length : 0;
    if (all.length > max) this.rotation += max;
    const wants: PullWant[] = [];
    for (let i = 0; i < Math.min(max, all.length); i++) {
      const owner = all[(start + i) % all.length] as NodeId;
      const chain = this.chainOf(owner);
      wants.push({ owner, afterSeq: chain?.headSeq ?? 0, hash: chain?.headHash() ?? GENESIS_HASH });
    }
    if (wants.length === 0) return;
    this.counters.ownersNamed += wants.length;
    this.request(peer.id, peer.address, { kind: 'pull', id: 0, wants }, (answer) => {
      if (answer instanceof ShoalError) return;
      if (answer.kind !== 'pulled') return this.count('unexpected-answer');
      this.takePulled(peer.id, peer.address, answer.chains);
    });
  }

  private request(
    peer: NodeId,
    address: Address,
    body: ChainBody,
    done: (answer: Answer | ShoalError) => void,
  ): void {
    const transport = this.o.transport;
    if (transport === undefined || this.halted) {
      done(new ShoalError('ERR_TRANSPORT_CLOSED', 'this node has no cluster transport'));
      return;
    }
    const id = this.waits.open(address, done, { kind: body.kind, peer });
    if (id === undefined) return;
    this.send(address, { ...body, id } as ChainBody);
  }

  private send(address: Address, body: ChainBody): void {
    this.port.send(address, { type: 'data-chain', body });
  }

  private receive(from: Address, data: Uint8Array): void {
    if (this.halted) return;
    const message = this.port.decode(data);
    if (message === undefined) return;
    const { body } = message;
    switch (body.kind) {
      case 'pull':
        this.answerPull(from, body.id, body.wants);
        return;
      case 'ask':
        this.answerAsk(from, body.id, body.owner, body.seqs);
        return;
      case 'digest':
        this.answerDigest(from, body.id, body.count, body.root);
        return;
      case 'notify':
        this.takeNotify(from, body.count, body.root);
        return;
      case 'pulled':
      case 'hashes':
      case 'summary': {
        // An answer nobody waits for (late, or from another address) is dropped, counted.
        if (!this.waits.settle(body.id, from, body)) this.count('unexpected-answer');
        return;
      }
    }
  }

  private count(reason: string): void {
    this.extraRefused[reason] = (this.extraRefused[reason] ?? 0) + 1;
  }

  /** `same` when our heads' digest matches the asker's, else ours by bucket. */
  private answerDigest(from: Address, id: number, count: number, root: Uint8Array): void {
    this.counters.digestsAnswered++;
    const owners = this.digestOwners();
    const bits = bucketBitsFor(owners.length);
    const mine = this.headsDigest(owners, bits);
    if (mine.count === count && sameHash(mine.root, root)) {
      this.send(from, {
        kind: 'summary',
        id,
        same: true,
        bucketBits: 0,
        buckets: new Uint8Array(0),
      });
      return;
    }
    this.send(from, { kind: 'summary', id, same: false, bucketBits: bits, buckets: mine.buckets });
  }

  private answerPull(from: Address, id: number, wants: readonly PullWant[]): void {
    this.counters.pullsAnswered++;
    const chains: PulledChain[] = [];
    let budget = this.o.settings.pulledBytesMax;
    for (const want of wants) {
      const chain = this.chainOf(want.owner);
      if (chain === undefined) continue;
      const at = Math.min(want.afterSeq, chain.headSeq);
      if (chain.headSeq < want.afterSeq) {
        // The asker is ahead: it alone can tell whether our head is on its chain.
        chains.push({
          owner: want.owner,
          status: 'shorter',
          headSeq: chain.headSeq,
          headHash: chain.headHash(),
        });
        continue;
      }
      const mine = chain.hashAt(at);
      if (mine === undefined) {
        chains.push({ owner: want.owner, status: 'pruned' });
        continue;
      }
      if (!sameHash(mine, want.hash)) {
        chains.push({ owner: want.owner, status: 'diverged' });
        continue;
      }
      if (chain.headSeq === want.afterSeq || budget <= 0) continue;
      // An asker holding nothing of a pruned chain takes it from the oldest entry kept.
      const after = want.afterSeq === 0 ? chain.firstKeptSeq() - 1 : want.afterSeq;
      const { entries, truncated } = chain.entriesAfter(after);
      if (truncated) {
        chains.push({ owner: want.owner, status: 'pruned' });
        continue;
      }
      const taken: ChainEntry[] = [];
      for (const e of entries) {
        const size = e.payload.length + 140;
        if (taken.length > 0 && size > budget) break;
        taken.push(e);
        budget -= size;
        this.counters.entryBytesSent += e.payload.length;
      }
      this.counters.entriesSent += taken.length;
      this.counters.deltasSent++;
      chains.push({ owner: want.owner, status: 'entries', entries: taken });
    }
    this.send(from, { kind: 'pulled', id, chains });
  }

  private answerAsk(from: Address, id: number, owner: NodeId, seqs: readonly number[]): void {
    const chain = this.chainOf(owner);
    const hashes: Array<{ seq: number; hash: Uint8Array }> = [];
    if (chain !== undefined) {
      if (seqs.length === 0)
        for (const [seq, hash] of chainLocator(chain)) {
          if (hashes.length >= 64) break;
          hashes.push({ seq, hash });
        }
      else
        for (const seq of seqs) {
          const hash = chain.hashAt(seq);
          if (hash !== undefined) hashes.push({ seq, hash });
        }
    }
    this.send(from, {
      kind: 'hashes',
      id,
      owner,
      held: chain !== undefined,
      headSeq: chain?.headSeq ?? 0,
      hashes,
    });
  }

  /** The key `owner`'s entries must verify against: its membership record's, or the one held. */
  private replicaFor(owner: NodeId): ChainReplica | undefined {
    const held = this.replicas.get(owner);
    if (held !== undefined) return held;
    const hex = this.o.membership?.get(owner)?.publicKey;
    if (hex === undefined) return undefined;
    const key = fromHex(hex);
    if (nodeIdFromPublicKey(key) !== owner) return undefined;
    const replica = new ChainReplica(owner, key, this.o.crypto, this.o.settings);
    this.replicas.set(owner, replica);
    return replica;
  }

  private takePulled(peer: NodeId, address: Address, chains: readonly PulledChain[]): void {
    let progress = false;
    for (const item of chains) {
      if (this.forks.has(this.forkKey(item.owner, peer))) continue;
      if (item.status === 'pruned') {
        this.counters.pruned++;
        // Our copy fell behind what the peer keeps: drop it (soft state), so that the next pull
        // takes the chain again from the oldest entry kept, anchored there. Forks in the gap go
        // unseen by this copy. Only while membership holds the owner's key, to take it again.
        const held = this.replicas.get(item.owner);
        if (held !== undefined && this.o.membership?.get(item.owner)?.publicKey !== undefined) {
          this.replicas.delete(item.owner);
          this.counters.copiesDropped++;
        }
        continue;
      }
      if (item.status === 'shorter') {
        const mine = this.chainOf(item.owner)?.hashAt(item.headSeq);
        // Their head on our chain: they are behind (their own pull catches up); pruned: unknown.
        if (mine === undefined || sameHash(mine, item.headHash)) continue;
      }
      if (item.status !== 'entries') {
        this.counters.diverged++;
        this.findCommon(peer, address, item.owner, (result) => {
          if (!(result instanceof ShoalError) && result.status === 'forked')
            this.recordFork(result);
        });
        continue;
      }
      const chain = item.owner === this.o.id ? this.own : this.replicaFor(item.owner);
      if (chain === undefined) {
        this.count('unknown-owner');
        continue;
      }
      const before = chain.headSeq;
      let anchored = 0;
      const first = item.entries[0];
      if (chain !== this.own && before === 0 && first !== undefined && first.seq > 1) {
        // The entries before it are pruned at the peer: start the copy there (chain.ts `anchor`).
        if (chain.anchor(first) !== undefined) continue;
        anchored = 1;
        this.counters.anchored++;
      }
      const { accepted: linked } = chain.ingest(item.entries.slice(anchored));
      const accepted = linked + anchored;
      if (accepted === 0) continue;
      progress = true;
      this.counters.deltasReceived++;
      this.counters.entriesReceived += accepted;
      const taken = chain.entriesAfter(
        Math.max(before, chain.firstKeptSeq() - 1),
        accepted,
      ).entries;
      for (const e of taken) this.counters.entryBytesReceived += e.payload.length;
      if (chain === this.own) {
        for (const e of taken) this.file.append(e);
        this.counters.ownEntriesRecovered += accepted;
      }
    }
    if (progress) {
      this.counters.pullsWithProgress++;
      this.lastProgressMs = this.o.clock.now();
      this.changed();
    }
  }

  private recordFork(result: ChainComparison & { status: 'forked' }): void {
    const key = this.forkKey(result.owner, result.peer);
    if (this.forks.has(key)) return;
    if (this.forks.size >= this.o.settings.forksKeptMax) {
      const oldest = this.forks.keys().next().value;
      if (oldest !== undefined) this.forks.delete(oldest);
    }
    const fork: ChainFork = {
      owner: result.owner,
      peer: result.peer,
      forkSeq: result.forkSeq,
      localHead: result.localHead,
      remoteHead: result.remoteHead,
    };
    this.forks.set(key, fork);
    this.counters.forks++;
    this.o.onFork(fork);
  }

  /** The common ancestor of `owner`'s chain here and at `peer`: a locator, then the hashes needed. */
  private findCommon(
    peer: NodeId,
    address: Address,
    owner: NodeId,
    done: (result: ChainComparison | ShoalError) => void,
  ): void {
    this.counters.comparisons++;
    const local: ChainView = this.chainOf(owner) ?? {
      headSeq: 0,
      oldestSeq: 0,
      hashAt: (seq) => (seq === 0 ? GENESIS_HASH : undefined),
    };
    const known = new Map<number, Uint8Array>([[0, GENESIS_HASH]]);
    let remoteHead = 0;
    let rounds = 0;
    const ask = (seqs: number[]): void => {
      rounds++;
      this.request(peer, address, { kind: 'ask', id: 0, owner, seqs }, (answer) => {
        if (answer instanceof ShoalError) return done(answer);
        if (answer.kind !== 'hashes' || answer.owner !== owner) {
          this.count('unexpected-answer');
          return done(new ShoalError('ERR_AGENT_RESPONSE', `${peer} answered another question`));
        }
        if (rounds === 1) remoteHead = answer.held ? answer.headSeq : 0;
        for (const { seq, hash } of answer.hashes) if (seq <= remoteHead) known.set(seq, hash);
        const result = compareChains(local, {
          headSeq: remoteHead,
          oldestSeq: 0,
          hashAt: (seq) => known.get(seq),
        });
        if (result.status !== 'need') return done({ ...result, owner, peer });
        if (rounds >= this.o.settings.compareRoundsMax || result.seqs.every((s) => known.has(s)))
          return done(
            new ShoalError(
              'ERR_TIMEOUT',
              `comparing ${owner}'s chain with ${peer} took more than ${rounds} rounds (its hashes went missing)`,
            ),
          );
        ask(result.seqs);
      });
    };
    ask([]);
  }
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `node.chain` (INTERFACE.md, "Data plane"): this node's chain and its copies of the others'. */
export class NodeChain {
  constructor(
    private readonly service: ChainService,
    private readonly selfId: NodeId,
  ) {}

  /**
   * Appends `payload` (bytes, or a string as UTF-8) to this node's chain, signed with its key;
   * durable (fsynced) when it returns. ERR_INVALID_ARGUMENT past payloadBytesMax (64 KiB).
   */
  append(payload: Uint8Array | string): ChainEntryInfo {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    return this.service.append(bytes);
  }

  /** The head of `owner`'s chain as held here (default: this node's); undefined when not held. */
  head(owner: NodeId = this.selfId): ChainHead | undefined {
    return this.service.head(owner);
  }

  /** The head of every chain held here: this node's first, then by owner. */
  heads(): ChainHead[] {
    return this.service.heads();
  }

  /**
   * Entries of `owner`'s chain after seq `after` (default 0), at most `limit` (default and
   * maximum pullEntriesMax, 256); undefined when the chain is not held here. ERR_COMPACTED when
   * the entries right after `after` were pruned (entriesKeptMax).
   */
  entries(
    owner: NodeId,
    options: { after?: number; limit?: number } = {},
  ): ChainEntryInfo[] | undefined {
    const after = options.after ?? 0;
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(after) || after < 0)
      throw new ShoalError('ERR_INVALID_ARGUMENT', `after must be a seq (a non-negative integer)`);
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new ShoalError('ERR_INVALID_ARGUMENT', `limit must be a positive integer`);
    return this.service.entries(owner, after, limit);
  }

  /**
   * Compares `owner`'s chain (default: this node's) here with `peer`'s copy, by their common
   * ancestor (a locator, then a binary search over the network): `in-sync`, `local-behind`,
   * `remote-behind`, or `forked` with the last seq both agree on. A fork is also recorded
   * (`forks()`, event `chain-fork`). ERR_INVALID_ARGUMENT when `peer` is not a live member,
   * ERR_TIMEOUT when it does not answer.
   */
  compare(peer: NodeId, options: { owner?: NodeId } = {}): Promise<ChainComparison> {
    return new Promise((resolve, reject) => {
      this.service.compare(peer, options.owner ?? this.selfId, (result) =>
        result instanceof ShoalError ? reject(result) : resolve(result),
      );
    });
  }

  /** Forks found so far (by replication or `compare`): owner, peer and fork point. */
  forks(): ChainFork[] {
    return this.service.forksFound();
  }
}
