/**
 * `createNode()` (INTERFACE.md, "Library"): resolves options, loads the persisted identity,
 * binds the transport and wires the mode's protocol drivers to it. The `ShoalNode` it returns
 * is the public handle: members, leader, events, join, leave, close.
 *
 * Lifecycle: created → running → (leaving) → closed. `leave()` and `close()` are idempotent;
 * after either, the node's sockets and timers are released and nothing keeps the process alive.
 */
import { parseAddress } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { Rng } from '../base/rng.js';
import { SystemClock } from '../base/system-clock.js';
import type { Clock, Millis } from '../base/time.js';
import type { Labels } from '../codec/messages.js';
import { RAFT_LITE_DEFAULTS, validateRaftLiteConfig } from '../election/raft-lite/config.js';
import { RaftLiteDriver, type RaftLiteCallbacks, type RaftLiteSnapshot } from '../election/raft-lite/driver.js';
import { StaticDriver } from '../election/static/driver.js';
import { SwimLeaderDriver } from '../election/swim/driver.js';
import { loadOrCreateIdentity } from '../identity/identity.js';
import type { NodeId } from '../identity/node-id.js';
import { membershipConfig, type MembershipConfig, type ProfileName } from '../membership/config.js';
import { MembershipDriver, readPersistedIncarnation } from '../membership/driver.js';
import { createState } from '../membership/state.js';
import type { MemberView, MembershipEvent } from '../membership/types.js';
import { EncryptedTransport } from '../transport/encrypted.js';
import { Keyring } from '../transport/keyring.js';
import { NetTransport } from '../transport/net.js';
import type { Transport } from '../transport/types.js';
import { EventHub, type LeaderEvent, type MemberEvent, type NodeEvent } from './events.js';
import { FsStorage } from './fs-storage.js';
import { startLoopDelayMonitor } from './loop-delay.js';
import { RESERVED_LABEL_PREFIX, resolveNodeOptions, type ClusterMode, type NodeOptions, type ResolvedNodeOptions } from './options.js';
import { PeerCache } from './peer-cache.js';

export interface Member {
  id: NodeId;
  name: string;
  address: string;
  state: MemberView['state'];
  incarnation: number;
  labels: Labels;
}

export interface LeaderInfo {
  id: NodeId;
  term: number;
}

/** The user's labels of a view: Shoal's own (`shoal.*`, e.g. leader claims) stay internal. */
function userLabels(labels: Labels): Labels {
  let out: Record<string, string> | undefined;
  for (const key of Object.keys(labels)) {
    if (!key.startsWith(RESERVED_LABEL_PREFIX)) continue;
    out ??= { ...labels };
    delete out[key];
  }
  return out ?? labels;
}

function toMember(view: MemberView): Member {
  return { id: view.id, name: view.name, address: view.address, state: view.state, incarnation: view.incarnation, labels: userLabels(view.labels) };
}

const PROFILE_NAMES: Record<ResolvedNodeOptions['profile'], ProfileName> = { lan: 'LAN', wan: 'WAN', local: 'LOCAL' };

export class ShoalNode {
  readonly id: NodeId;
  readonly name: string;
  readonly mode: ClusterMode;
  private readonly hub = new EventHub();
  private closed = false;
  private stopLoopMonitor: (() => void) | undefined;
  private peerCache: PeerCache | undefined;
  private election: ElectionDrivers = {};
  /**
   * `raft-lite` mode only: the leader-actor API (join, broadcast, callbacks, inspect); undefined
   * in other modes. Callbacks are plain assignable properties of `raftLite.callbacks`.
   */
  raftLite: RaftLiteHandle | undefined;

  /** @internal Use `createNode`. */
  constructor(
    readonly options: ResolvedNodeOptions,
    id: NodeId,
    private readonly transport: Transport | undefined,
    private readonly membership: MembershipDriver | undefined,
  ) {
    this.id = id;
    this.name = options.name;
    this.mode = options.mode;
  }

  /** @internal Attaches the mode's election driver. */
  attachElection(drivers: ElectionDrivers): void {
    this.election = drivers;
    const raft = drivers.raftLite;
    if (raft !== undefined) {
      this.raftLite = {
        callbacks: raft.callbacks,
        join: (address) => raft.join(parseAddress(address)),
        broadcast: (payload) => raft.broadcast(payload),
        inspect: () => raft.inspect(),
      };
    }
  }

  /** @internal Publishes a leader change to `on('leader')` listeners and iterators. */
  publishLeader(leader: LeaderInfo | undefined, term: number): void {
    this.hub.emit({ kind: 'leader', leader: leader?.id, term });
  }

  /** The address peers reach this node at (`bind`, with the real port when 0 was asked). */
  get address(): string {
    return this.transport?.localAddress ?? this.options.bind;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The membership epoch: increases only when the live set changes. */
  get epoch(): number {
    return this.membership?.state.epoch ?? 1;
  }

  members(): Member[] {
    if (this.election.static !== undefined) return this.staticMembers(this.election.static);
    if (this.membership === undefined) {
      return [{ id: this.id, name: this.name, address: this.address, state: this.closed ? 'left' : 'alive', incarnation: 1, labels: this.options.labels }];
    }
    return this.membership.members().map(toMember);
  }

  /**
   * The current leader and its fencing term (only increases on this node). `single`: always
   * this node; `static`: lowest healthy NodeId; `swim`: sticky HRW claim; `raft-lite`: the
   * Raft term's leader. Undefined while there is none (no quorum, election running, closed).
   */
  leader(): LeaderInfo | undefined {
    if (this.closed) return undefined;
    if (this.mode.kind === 'single') return { id: this.id, term: 1 };
    const e = this.election;
    return e.static?.leader() ?? e.swim?.leader() ?? e.raftLite?.leader();
  }

  private staticMembers(driver: StaticDriver): Member[] {
    const self: Member = { id: this.id, name: this.name, address: this.address, state: this.closed ? 'left' : 'alive', incarnation: 1, labels: this.options.labels };
    const others = [...driver.state.heard.entries()].map(([address, r]): Member => ({
      id: r.id, name: address, address, state: r.healthy ? 'alive' : 'dead', incarnation: 1, labels: {},
    }));
    return [self, ...others];
  }

  on(type: 'member', listener: (event: MemberEvent) => void): this;
  on(type: 'leader', listener: (event: LeaderEvent) => void): this;
  on(type: 'member' | 'leader', listener: (event: never) => void): this {
    this.hub.on(type, listener as (event: NodeEvent) => void);
    return this;
  }

  off(type: 'member' | 'leader', listener: (event: never) => void): this {
    this.hub.off(type, listener as (event: NodeEvent) => void);
    return this;
  }

  /** The same events as `on`, as an async iterator; ends when `signal` aborts or the node closes. */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<NodeEvent> {
    return this.hub.iterate(options.signal);
  }

  /**
   * Joins the cluster through `addresses`; resolves to how many answered. An abort of `signal`
   * rejects with ERR_ABORTED at once; the attempt itself still ends on its own (joinTimeoutMs).
   */
  async join(addresses: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number> {
    const parsed = addresses.map((a) => parseAddress(a));
    if (this.membership === undefined) throw new ShoalError('ERR_INVALID_ARGUMENT', `join is not available in mode '${this.mode.kind}'`);
    throwIfAborted(options.signal, 'join');
    const outcome = await abortable(this.membership.join(parsed), options.signal, 'join');
    if (!outcome.ok) throw new ShoalError('ERR_JOIN_FAILED', `join through ${addresses.join(', ')} failed (${outcome.reason}): ${outcome.detail}`);
    return outcome.contacted;
  }

  /** Replaces this node's labels; others see an `updated` event. */
  setLabels(labels: Labels): void {
    const reserved = Object.keys(labels).find((k) => k.startsWith(RESERVED_LABEL_PREFIX));
    if (reserved !== undefined) throw new ShoalError('ERR_INVALID_ARGUMENT', `label ${JSON.stringify(reserved)} refused: keys starting with "${RESERVED_LABEL_PREFIX}" are reserved for Shoal`);
    const refusal = this.membership?.updateLabels(this.election.swim?.withClaim(labels) ?? labels);
    if (refusal !== undefined) throw new ShoalError('ERR_INVALID_ARGUMENT', `labels refused: ${refusal}`);
  }

  /**
   * Graceful: others see this node as `left`, not `dead`. Then closes. An abort of `signal`
   * stops waiting for the `left` update to spread, closes at once and rejects with ERR_ABORTED.
   */
  async leave(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) return;
    throwIfAborted(options.signal, 'leave');
    try {
      await abortable(this.membership?.leave() ?? Promise.resolve(), options.signal, 'leave');
    } finally {
      await this.close();
    }
  }

  /** Stops without leaving: others will detect this node as dead. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.peerCache?.flush();
    this.stopLoopMonitor?.();
    this.election.static?.stop();
    this.election.swim?.stop();
    this.election.raftLite?.stop();
    this.membership?.stop();
    await this.transport?.close();
    this.hub.end();
  }

  /** @internal Wires membership events into the public event stream. */
  attach(stopLoopMonitor: (() => void) | undefined, peerCache?: PeerCache): void {
    this.stopLoopMonitor = stopLoopMonitor;
    this.peerCache = peerCache;
  }

  /** @internal */
  publish(event: MembershipEvent): void {
    if (event.type === 'epoch') return;
    this.hub.emit({ kind: 'member', type: event.type, member: toMember(event.member) });
  }

  /** Counters for metrics and tests: protocol counters, decode errors, transport stats. */
  stats(): { protocol: Record<string, number>; decodeErrors: Record<string, number>; transport: ReturnType<Transport['stats']> | undefined } {
    return {
      protocol: {
        ...(this.membership?.state.counters ?? {}), awareness: this.membership?.state.awareness ?? 0, epoch: this.epoch,
        peerCacheWriteErrors: this.peerCache?.writeErrors ?? 0,
      },
      decodeErrors: { ...(this.membership?.decodeErrors ?? {}) },
      transport: this.transport?.stats(),
    };
  }
}

async function bindTransport(options: ResolvedNodeOptions): Promise<Transport> {
  const net = await NetTransport.bind(options.bind, options.advertise === undefined ? {} : { advertiseAddress: parseAddress(options.advertise) });
  if (options.keyring === undefined) return net;
  try {
    return new EncryptedTransport(net, Keyring.parse(options.keyring));
  } catch (err) {
    await net.close();
    throw err;
  }
}

/** Creates and starts a node. In `swim` mode it joins `mode.seeds` (and cached peers) in the background. */
export interface CreateNodeInternals {
  clock?: Clock;
  /** Protocol timing overrides on top of the profile (tests, benchmarks); validated. */
  membership?: Partial<MembershipConfig>;
}

export async function createNode(input: NodeOptions, deps: CreateNodeInternals = {}): Promise<ShoalNode> {
  const options = resolveNodeOptions(input);
  const identity = await loadOrCreateIdentity(options.dataDir);
  if (options.mode.kind === 'single') return new ShoalNode(options, identity.nodeId, undefined, undefined);

  const clock = deps.clock ?? new SystemClock();
  const storage = new FsStorage(options.dataDir);
  const transport = await bindTransport(options);
  if (options.mode.kind === 'static' || options.mode.kind === 'raft-lite') {
    return createElectionNode(options, options.mode, identity.nodeId, { clock, storage, transport });
  }
  const mode = options.mode;
  const base = membershipConfig(PROFILE_NAMES[options.profile], deps.membership);
  const config = { ...base, packetEnvelopeBytes: base.packetEnvelopeBytes + (transport.packetOverheadBytes ?? 0) };
  const self = { id: identity.nodeId, name: options.name, address: transport.localAddress, labels: options.labels };
  const state = createState(config, self, readPersistedIncarnation(storage), clock.now());
  const peerCache = new PeerCache(storage, transport.localAddress);
  // The membership driver's event callback needs the node and the leader driver built after it.
  const late: { node?: ShoalNode; swimLeader?: SwimLeaderDriver } = {};
  const driver = new MembershipDriver({
    state, clock, transport, storage, clusterId: options.clusterId,
    rng: new Rng(seedFrom(identity.nodeId, clock.now())),
    onEvent: (event) => {
      if (event.type === 'epoch') peerCache.schedule(() => driver.members());
      late.node?.publish(event);
      late.swimLeader?.observe(event);
    },
  });
  const node = new ShoalNode(options, identity.nodeId, transport, driver);
  const swimLeader = new SwimLeaderDriver({
    config: { stabilizationMs: mode.stabilizationMs ?? 2 * config.probeIntervalMs, requireQuorum: mode.requireQuorum, minClusterSize: mode.minClusterSize },
    selfId: identity.nodeId, clock, storage, membership: driver,
    onLeader: (leader, term) => node.publishLeader(leader, term),
  }, options.labels);
  Object.assign(late, { node, swimLeader });
  node.attachElection({ swim: swimLeader });
  node.attach(startLoopDelayMonitor((delayMs) => driver.reportLoopDelay(delayMs)), peerCache);
  swimLeader.poke();
  const seeds = [...new Set([...mode.seeds.map((s) => parseAddress(s)), ...peerCache.load()])];
  // Seeds outside the live view are retried by the membership core itself (`retrySeeds`).
  void driver.start(seeds);
  return node;
}

function abortedError(signal: AbortSignal, operation: string): ShoalError {
  return new ShoalError('ERR_ABORTED', `${operation} aborted`, { cause: signal.reason });
}

function throwIfAborted(signal: AbortSignal | undefined, operation: string): void {
  if (signal?.aborted === true) throw abortedError(signal, operation);
}

/** `work`, or a rejection with ERR_ABORTED as soon as `signal` aborts (the listener is removed either way). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined, operation: string): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(signal, operation));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A per-process seed: the NodeId's first 48 bits mixed with the start time, so restarts differ. */
function seedFrom(id: NodeId, now: Millis): number {
  return (Number.parseInt(id.slice(0, 12), 16) + now) % Number.MAX_SAFE_INTEGER;
}

/** The election drivers a node may run; exactly one is set outside `single` and plain swim. */
export interface ElectionDrivers {
  static?: StaticDriver;
  swim?: SwimLeaderDriver;
  raftLite?: RaftLiteDriver;
}

/** `node.raftLite`: the leader-actor API of `raft-lite` mode. */
export interface RaftLiteHandle {
  /** Assign `onBecomeLeader`, `onBecomeFollower`, `onPeerJoined`, `onPeerLeft`, `onTermChanged`, `onMessage` here. */
  readonly callbacks: RaftLiteCallbacks;
  /** Adds `address` (host:port) to the known cluster and asks it to add this node. */
  join(address: string): void;
  /** Sends `payload` to every known peer (best effort, one packet each). */
  broadcast(payload: string): void;
  inspect(): RaftLiteSnapshot;
}

type StaticMode = Extract<ClusterMode, { kind: 'static' }>;
type RaftLiteMode = Extract<ClusterMode, { kind: 'raft-lite' }>;

/** `static` and `raft-lite`: no SWIM; the election driver owns the transport's receive handler. */
function createElectionNode(options: ResolvedNodeOptions, mode: StaticMode | RaftLiteMode, id: NodeId, io: { clock: Clock; storage: FsStorage; transport: Transport }): ShoalNode {
  const node = new ShoalNode(options, id, io.transport, undefined);
  const peers = mode.peers.map((p) => parseAddress(p));
  const onLeader = (leader: LeaderInfo | undefined, term: number): void => node.publishLeader(leader, term);
  const common = { selfId: id, transport: io.transport, clock: io.clock, storage: io.storage, clusterId: options.clusterId, peers, onLeader };
  if (mode.kind === 'static') {
    const config = { failureThresholdMs: mode.failureThresholdMs, heartbeatIntervalMs: mode.heartbeatIntervalMs, requireQuorum: mode.requireQuorum ?? new Set(peers).size >= 3 };
    node.attachElection({ static: new StaticDriver({ ...common, config, onMember: () => undefined }) });
    return node;
  }
  const config = validateRaftLiteConfig({
    ...RAFT_LITE_DEFAULTS, electionTimeoutMinMs: mode.electionTimeoutMinMs, electionTimeoutMaxMs: mode.electionTimeoutMaxMs,
    heartbeatIntervalMs: mode.heartbeatIntervalMs, minClusterSize: mode.minClusterSize, peerLeftMs: 4 * mode.electionTimeoutMaxMs,
  });
  node.attachElection({ raftLite: new RaftLiteDriver({ ...common, config, rng: new Rng(seedFrom(id, io.clock.now())) }) });
  return node;
}
