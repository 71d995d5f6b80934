/**
 * `createNode()` (INTERFACE.md, "Library") and `buildNode()`, the one wiring. `buildNode` is
 * synchronous: given resolved options, an identity and the node's I/O (`NodeIo`), it builds
 * the mode's protocols (mode-*.ts) on the generic driver and returns the `ShoalNode`.
 * `createNode` resolves the user's options, loads the persisted identity, makes the real I/O
 * (binds the transport, opens the data dir) and calls `buildNode`; the simulator calls
 * `buildNode` with its own I/O. So every simulated node runs exactly the code users run.
 *
 * Lifecycle: created → running → (leaving) → closed. `leave()` and `close()` are idempotent;
 * after either, the node's sockets and timers are released and nothing keeps the process alive.
 * A protocol that cannot go on (a durable write failed) closes the node and emits `error`.
 */
import { ShoalError } from '../base/errors.js';
import type { Labels } from '../membership/messages.js';
import { loadOrCreateIdentity } from '../identity/identity.js';
import type { NodeId } from '../identity/node-id.js';
import type { SigningIdentity } from '../identity/member-crypto.js';
import type { MembershipEvent } from '../membership/types.js';
import type { TransportStats } from '../transport/types.js';
import type { DriverStats } from './driver.js';
import { familyOf, literalAddresses, resolvePeerAddresses } from './addresses.js';
import {
  EventHub,
  type ErrorEvent,
  type JoinEvent,
  type LeaderEvent,
  type MemberEvent,
  type NodeEvent,
  type SecurityEvent,
  type ChainForkEvent,
} from './events.js';
import { checkWritableDataDir } from './fs-storage.js';
import {
  membershipViewOf,
  wireDataPlane,
  type DataPlane,
  type DataPlaneStats,
} from './data-plane.js';
import type { NodePlacement, NodeProcesses, NodeServices } from './data-plane-api.js';
import type { NodeChain } from './data-chain.js';
import type { NodeTrees } from './data-tree.js';
import { splitPort } from './port-split.js';
import { productionIo, type NodeIo } from './io.js';
import type { KvService } from './kv-service.js';
import { wireRaft, type RaftHandle } from './mode-raft.js';
import { NodeKv } from './node-kv.js';
import { NodeRaft } from './node-raft.js';
import type { RaftKv } from './raft-kv.js';
import { wireRaftLite, type RaftLiteHandle } from './mode-raft-lite.js';
import { wireStatic } from './mode-static.js';
import { toMember, wireSwim } from './mode-swim.js';
import { wireWorker } from './mode-worker.js';
import { wireWorkerServer } from './mode-worker-server.js';
import type { AssignmentUpdate, ContainerReport, Worker } from '../worker/worker.js';
import type { WorkerServer } from '../worker/server.js';
import {
  checkListenAddresses,
  RESERVED_LABEL_PREFIX,
  resolveNodeOptions,
  type ClusterMode,
  type NodeOptions,
  type ResolvedNodeOptions,
} from './options.js';
import type { JoinStatus } from './swim-joins.js';
import type {
  LeaderInfo,
  Member,
  ModeRuntime,
  NodeInternals,
  SecurityNotice,
  WiringContext,
} from './runtime.js';

export type { LeaderInfo, Member, NodeInternals } from './runtime.js';
export type { JoinStatus } from './swim-joins.js';
export type { RaftLiteCallbacks, RaftLiteHandle, RaftLiteSnapshot } from './mode-raft-lite.js';
export type { RaftHandle, RaftStatus } from './mode-raft.js';

/**
 * What identifies a node to the wiring: its NodeId and the key it signs its records with (the
 * persisted Ed25519 identity in production, a key derived from the seed in the simulator).
 */
export type NodeIdentity = SigningIdentity;

/** The protocol drivers of a node, for the simulator's checkers and tests (`node.internals`). */
export type NodeInternalsView = Partial<
  Pick<ReturnType<typeof wireSwim>, 'membership' | 'swimLeader'>
> & {
  static?: ReturnType<typeof wireStatic>['driver'];
  raftLite?: ReturnType<typeof wireRaftLite>['driver'];
  /** `raft` mode: the core's driver and the requests handle (minimal wiring, mode-raft.ts). */
  raft?: ReturnType<typeof wireRaft>['driver'];
  raftHandle?: RaftHandle;
  /** The data plane's registry core (`swim`, `single`). */
  registry?: DataPlane['driver'];
  /** The data plane's chains (`swim`, `single`): the simulator's checkers and attacker. */
  chain?: DataPlane['chainService'];
  /** The data plane's shared trees (`swim`, `single`): the simulator's checkers and attacker. */
  trees?: DataPlane['treeService'];
};

export class ShoalNode {
  readonly id: NodeId;
  readonly name: string;
  readonly mode: ClusterMode;
  private readonly hub = new EventHub();
  private closed = false;
  private runtime: ModeRuntime | undefined;
  /** The last leader published by the mode (durable before it is published). */
  private reported: LeaderInfo | undefined;
  /** @internal The mode's drivers (simulator checkers, tests). */
  internals: NodeInternalsView = {};
  /**
   * `raft-lite` mode only: the leader-actor API (join, broadcast, callbacks, inspect); undefined
   * in other modes. Callbacks are plain assignable properties of `raftLite.callbacks`.
   */
  raftLite: RaftLiteHandle | undefined;
  /** The error that stopped the node, when a protocol could not go on (a durable write failed). */
  failure: ShoalError | undefined;
  /** The data plane (`swim`, `single`): registry, placement, watchers (data-plane.ts). */
  private dataPlane: DataPlane | undefined;
  private replicated: { service: RaftKv; kv: NodeKv; raft: NodeRaft } | undefined;
  /** @internal `worker` mode only: the worker (assignments, status reports). */
  worker: Worker | undefined;
  /**
   * `worker-server` mode only: the worker tier (tokens, workers, scale; docs/design/worker-tier.md);
   * undefined in other modes.
   */
  workers: WorkerServer | undefined;
  /** @internal `worker-server` mode: settles when the workers' listener serves. */
  workersReady: Promise<void> | undefined;

  /** `worker` mode: every assignment update (a snapshot first, then batches), in order, once. */
  assignments(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<AssignmentUpdate> {
    if (this.worker === undefined)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `assignments() is for mode 'worker', not '${this.mode.kind}'`,
      );
    return this.worker.assignments(options);
  }

  /** `worker` mode: the containers' status and usage, sent to the server the worker talks to. */
  reportStatus(containers: readonly ContainerReport[]): void {
    if (this.worker === undefined)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `reportStatus() is for mode 'worker', not '${this.mode.kind}'`,
      );
    this.worker.reportStatus(containers);
  }

  /** @internal Use `createNode` (or, in the simulator, `buildNode`). */
  constructor(
    readonly options: ResolvedNodeOptions,
    id: NodeId,
    private readonly io: NodeIo,
  ) {
    this.id = id;
    this.name = options.name;
    this.mode = options.mode;
  }

  /** @internal Attaches the mode's protocols (buildNode). */
  attach(runtime: ModeRuntime, internals: NodeInternalsView, raftLite?: RaftLiteHandle): void {
    this.runtime = runtime;
    this.internals = internals;
    this.raftLite = raftLite;
  }

  /** @internal Attaches the data plane (buildNode, in the modes that run one). */
  attachDataPlane(dataPlane: DataPlane): void {
    this.dataPlane = dataPlane;
    dataPlane.onChainFork((fork) => this.hub.emit({ kind: 'chain-fork', ...fork }));
    this.internals = {
      ...this.internals,
      registry: dataPlane.driver,
      chain: dataPlane.chainService,
      trees: dataPlane.treeService,
    };
  }

  private data(what: string): DataPlane {
    if (this.dataPlane !== undefined) return this.dataPlane;
    throw new ShoalError(
      'ERR_MODE_UNSUPPORTED',
      `node.${what} needs the data plane, which runs in modes swim and single (gossip membership, or this node alone); this node runs mode ${this.mode.kind}`,
    );
  }

  /**
   * The service registry (INTERFACE.md, "Data plane"): advertise, withdraw, list, resolve with
   * a preferred node, watch. Modes `swim` and `single`; elsewhere ERR_MODE_UNSUPPORTED.
   */
  get services(): NodeServices {
    return this.data('services').services;
  }

  /** The process table: advertise, withdraw, findByType, findByCapability, leastLoadedNode. */
  get processes(): NodeProcesses {
    return this.data('processes').processes;
  }

  /** Where keys land on the live members (ring, rendezvous, jump), and owner-change watches. */
  get placement(): NodePlacement {
    return this.data('placement').placement;
  }

  /**
   * This node's append-only chain of signed entries and its copies of every member's, replicated
   * by incremental pull; `compare` finds forks by common ancestor. Modes `swim` and `single`.
   */
  get chain(): NodeChain {
    return this.data('chain').chain;
  }

  /**
   * Shared trees: named key sets every member holds, last writer wins, replicated by Merkle
   * anti-entropy; `proof(key)` answers proofs a client checks against a root. Modes `swim` and
   * `single`.
   */
  get trees(): NodeTrees {
    return this.data('trees').trees;
  }

  /** @internal `raft` mode: the replicated store (mode-raft.ts). */
  attachKv(service: RaftKv, handle: RaftHandle): void {
    const timeoutMs = service.requestTimeoutMs;
    this.replicated = {
      service,
      kv: new NodeKv(service),
      raft: new NodeRaft(
        service,
        () => handle.status(),
        timeoutMs,
        () => this.io.clock.now(),
      ),
    };
  }

  private replicatedStore(what: string): { service: RaftKv; kv: NodeKv; raft: NodeRaft } {
    if (this.replicated === undefined)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `node.${what} is only available in mode raft (this node runs mode ${this.mode.kind})`,
      );
    return this.replicated;
  }

  /**
   * `raft` mode: the replicated key-value store (INTERFACE.md, "Replicated store"). Other modes
   * keep none: ERR_INVALID_ARGUMENT.
   */
  get kv(): NodeKv {
    return this.replicatedStore('kv').kv;
  }

  /** `raft` mode: Raft status, membership changes and leadership transfer. */
  get raft(): NodeRaft {
    return this.replicatedStore('raft').raft;
  }

  /** The KvService the HTTP API and the etcd endpoint sit on (kv-service.ts `kvServiceOf`); undefined outside raft mode. */
  get kvService(): KvService | undefined {
    return this.replicated?.service;
  }

  /**
   * @internal The client URLs other members and etcd clients should use for this member (its
   * HTTP API, its etcd gRPC endpoint); `raft` mode sends them to the others. No-op elsewhere.
   */
  advertiseClientUrls(urls: { http?: readonly string[]; grpc?: readonly string[] }): void {
    this.replicated?.service.peers.setUrls(urls);
  }

  /** @internal */
  publishLeader(leader: LeaderInfo | undefined, term: number): void {
    this.reported = leader === undefined ? undefined : { id: leader.id, term: leader.term };
    this.hub.emit({ kind: 'leader', leader: leader?.id, term });
  }

  /** @internal */
  publishMemberEvent(type: MemberEvent['type'], member: Member): void {
    this.hub.emit({ kind: 'member', type, member });
  }

  /** @internal */
  publishJoin(event: JoinEvent): void {
    this.hub.emit(event);
  }

  /** @internal */
  publishSecurity(notice: SecurityNotice): void {
    this.hub.emit({ kind: 'security', ...notice });
  }

  /** @internal */
  publishMember(event: MembershipEvent): void {
    if (event.type === 'epoch') return;
    this.hub.emit({ kind: 'member', type: event.type, member: toMember(event.member) });
  }

  /** @internal A protocol cannot go on: record why, tell listeners, and stop. */
  fail(error: ShoalError): void {
    if (this.closed) return;
    this.failure = error;
    this.hub.emit({ kind: 'error', error });
    void this.close();
  }

  /** The address peers reach this node at (`bind`, with the real port when 0 was asked). */
  get address(): string {
    return this.io.transport?.localAddress ?? this.options.bind;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The membership epoch: increases only when the live set changes. */
  get epoch(): number {
    return this.runtime?.epoch() ?? 1;
  }

  members(): Member[] {
    if (this.runtime !== undefined) return this.runtime.members();
    return [
      {
        id: this.id,
        name: this.name,
        address: this.address,
        state: this.closed ? 'left' : 'alive',
        incarnation: 1,
        labels: this.options.labels,
      },
    ];
  }

  /**
   * The current leader and its fencing term (only increases on this node). `single`: always
   * this node; `static`: lowest healthy NodeId; `swim`: sticky HRW claim; `raft-lite`: the
   * Raft term's leader. Undefined while there is none (no quorum, election running, closed).
   */
  leader(): LeaderInfo | undefined {
    if (this.closed) return undefined;
    if (this.runtime === undefined) return { id: this.id, term: 1 };
    // The last leader the mode published, never the core's state: a core changes its leader and
    // term before they are durable (the publication waits for the write), and a term answered
    // here and lost in a crash would go back after the restart (found by election-swim).
    return this.runtime.leader() === undefined ? undefined : this.reported;
  }

  /**
   * Whether this node has joined a cluster. `swim` mode started with seeds: not until another
   * member entered its view (until then it reports no leader), with the last join failure's
   * reason; every other node: joined.
   */
  joinStatus(): JoinStatus {
    return this.runtime?.joinStatus?.() ?? { joined: true };
  }

  on(type: 'member', listener: (event: MemberEvent) => void): this;
  on(type: 'leader', listener: (event: LeaderEvent) => void): this;
  on(type: 'error', listener: (event: ErrorEvent) => void): this;
  /** Every join attempt's outcome (swim): the first join, seed retries, `join()` requests. */
  on(type: 'join', listener: (event: JoinEvent) => void): this;
  on(type: 'security', listener: (event: SecurityEvent) => void): this;
  /** A fork of a member's chain found with a peer (data plane): reported, never merged. */
  on(type: 'chain-fork', listener: (event: ChainForkEvent) => void): this;
  on(type: NodeEvent['kind'], listener: (event: never) => void): this {
    this.hub.on(type, listener as (event: NodeEvent) => void);
    return this;
  }

  off(type: NodeEvent['kind'], listener: (event: never) => void): this {
    this.hub.off(type, listener as (event: NodeEvent) => void);
    return this;
  }

  /** The same events as `on`, as an async iterator; ends when `signal` aborts or the node closes. */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<NodeEvent> {
    return this.hub.iterate(options.signal);
  }

  /**
   * Joins the cluster through `addresses`, tried one after another; resolves to how many of
   * them answered. Names are resolved first: an address that is malformed or does not resolve is
   * ERR_INVALID_ARGUMENT naming it (`addresses[1]`). When none answered: ERR_JOIN_FAILED with
   * each address's reason. An abort of `signal` rejects with ERR_ABORTED at once; the attempt
   * itself still ends on its own (joinTimeoutMs per address).
   */
  async join(
    addresses: readonly string[],
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    const join = this.runtime?.join;
    if (join === undefined)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `join is not available in mode '${this.mode.kind}'`,
      );
    throwIfAborted(options.signal, 'join');
    // IP literals need no lookup: the join starts in this turn, as it always did.
    const parsed =
      literalAddresses(addresses) ??
      (await abortable(
        resolvePeerAddresses(
          addresses,
          familyOf(this.address),
          (index) => `addresses[${index}]`,
          'ERR_INVALID_ARGUMENT',
        ),
        options.signal,
        'join',
      ));
    const outcome = await abortable(join(parsed), options.signal, 'join');
    if (!outcome.ok)
      throw new ShoalError(
        'ERR_JOIN_FAILED',
        `join through ${addresses.join(', ')} failed (${outcome.reason}): ${outcome.detail}`,
      );
    return outcome.contacted;
  }

  /** Replaces this node's labels; others see an `updated` event. */
  setLabels(labels: Labels): void {
    const reserved = Object.keys(labels).find((k) => k.startsWith(RESERVED_LABEL_PREFIX));
    if (reserved !== undefined)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `label ${JSON.stringify(reserved)} refused: keys starting with "${RESERVED_LABEL_PREFIX}" are reserved for Shoal`,
      );
    const refusal = this.runtime?.setLabels?.(labels);
    if (refusal !== undefined)
      throw new ShoalError('ERR_INVALID_ARGUMENT', `labels refused: ${refusal}`);
  }

  /**
   * Graceful: others see this node as `left`, not `dead`. Then closes. An abort of `signal`
   * stops waiting for the `left` update to spread, closes at once and rejects with ERR_ABORTED.
   */
  async leave(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) return;
    throwIfAborted(options.signal, 'leave');
    try {
      await abortable(this.runtime?.leave() ?? Promise.resolve(), options.signal, 'leave');
    } finally {
      await this.close();
    }
  }

  /** Stops without leaving: others will detect this node as dead. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dataPlane?.halt();
    await this.runtime?.close();
    await this.io.transport?.close();
    this.hub.end();
  }

  /**
   * @internal The process died: every protocol stops at once, nothing more is written or sent,
   * and the transport is left as it is (the simulator's network already cut it). Idempotent.
   */
  halt(): void {
    if (this.closed) return;
    this.closed = true;
    this.dataPlane?.halt();
    this.runtime?.halt();
    this.hub.end();
  }

  /** Counters for metrics and tests: protocol counters, decode errors, transport stats. */
  stats(): {
    protocol: Record<string, number>;
    decodeErrors: Record<string, number>;
    drivers: Record<string, DriverStats>;
    transport: TransportStats | undefined;
    /** The data plane's counters, gauges and traffic, in the modes that run one. */
    dataPlane?: DataPlaneStats;
  } {
    const runtime = this.runtime?.stats() ?? { protocol: {}, decodeErrors: {}, drivers: {} };
    const data = this.dataPlane?.stats();
    const decodeErrors = { ...runtime.decodeErrors };
    for (const counts of [data?.decodeErrors, data?.chain.decodeErrors, data?.tree.decodeErrors])
      for (const [code, n] of Object.entries(counts ?? {}))
        decodeErrors[code] = (decodeErrors[code] ?? 0) + n;
    return {
      protocol: { epoch: this.epoch, ...runtime.protocol },
      decodeErrors,
      drivers: data === undefined ? runtime.drivers : { ...runtime.drivers, registry: data.driver },
      transport: this.io.transport?.stats(),
      ...(data === undefined ? {} : { dataPlane: data }),
    };
  }
}

let built = 0;

/** How many nodes `buildNode` has built in this process (tests prove every path goes through it). */
export function nodesBuilt(): number {
  return built;
}

/**
 * The one wiring (synchronous): builds the node of `options.mode` on `io`. Production reaches
 * it through `createNode`; the simulator calls it with its own clock, network and disk.
 */
export function buildNode(
  options: ResolvedNodeOptions,
  identity: NodeIdentity,
  io: NodeIo,
  internals: NodeInternals = {},
): ShoalNode {
  built++;
  const node = new ShoalNode(options, identity.nodeId, io);
  const ctx: WiringContext = {
    options,
    id: identity.nodeId,
    identity,
    io,
    internals,
    publishMember: (event) => node.publishMember(event),
    publishMemberEvent: (type, member) => node.publishMemberEvent(type, member),
    publishLeader: (leader, term) => node.publishLeader(leader, term),
    publishJoin: (event) => node.publishJoin(event),
    publishSecurity: (notice) => node.publishSecurity(notice),
    fail: (error) => node.fail(error),
  };
  const mode = options.mode;
  const withData = internals.dataPlane !== false;
  switch (mode.kind) {
    case 'single':
      if (withData) node.attachDataPlane(wireDataPlane(ctx, undefined, undefined));
      return node;
    case 'static': {
      const runtime = wireStatic(ctx, mode);
      node.attach(runtime, { static: runtime.driver });
      return node;
    }
    case 'raft-lite': {
      const runtime = wireRaftLite(ctx, mode);
      node.attach(runtime, { raftLite: runtime.driver }, runtime.handle);
      return node;
    }
    case 'raft': {
      const runtime = wireRaft(ctx, mode);
      node.attach(runtime, { raft: runtime.driver, raftHandle: runtime.handle });
      if (runtime.kv !== undefined) node.attachKv(runtime.kv, runtime.handle);
      return node;
    }
    case 'worker': {
      const runtime = wireWorker(ctx, mode);
      node.attach(runtime, {});
      node.worker = runtime.worker;
      return node;
    }
    case 'worker-server': {
      const runtime = wireWorkerServer(ctx, mode);
      node.attach(runtime, { raft: runtime.driver, raftHandle: runtime.handle });
      node.attachKv(runtime.userKv, runtime.handle);
      node.workers = runtime.workers;
      node.workersReady = runtime.ready;
      return node;
    }
    case 'swim': {
      if (!withData) {
        const runtime = wireSwim(ctx, mode);
        node.attach(runtime, { membership: runtime.membership, swimLeader: runtime.swimLeader });
        return node;
      }
      // One port for both: the data plane's messages (types 40-49) are split off (port-split.ts).
      const port = splitPort(io.transport as NonNullable<NodeIo['transport']>);
      // Member events reach the data plane once it exists (it starts from the whole table).
      const forward: { to?: DataPlane } = {};
      const runtime = wireSwim(
        {
          ...ctx,
          io: { ...io, transport: port.main },
          publishMember: (event) => {
            node.publishMember(event);
            if (event.type !== 'epoch') forward.to?.memberChanged(event.member.id);
          },
        },
        mode,
      );
      node.attach(runtime, { membership: runtime.membership, swimLeader: runtime.swimLeader });
      forward.to = wireDataPlane(
        ctx,
        port.side,
        membershipViewOf(() => runtime.membership.state.members),
        { ...port, packetBytesMax: runtime.membership.state.config.packetBytesMax },
      );
      node.attachDataPlane(forward.to);
      return node;
    }
  }
}

/**
 * Creates and starts a node. In `swim` mode it joins `mode.seeds` (and cached peers) in the
 * background. `io` replaces parts of the real I/O (tests: a clock, a transport); `internals`
 * holds test and benchmark knobs.
 */
export async function createNode(
  input: NodeOptions,
  io: Partial<NodeIo> = {},
  internals: NodeInternals = {},
): Promise<ShoalNode> {
  const checked = resolveNodeOptions(input);
  checkListenAddresses(checked);
  const options = await resolveModeAddresses(checked);
  const identity = await loadOrCreateIdentity(options.dataDir);
  if (io.storage === undefined) checkWritableDataDir(options.dataDir);
  const real = await productionIo(options, identity.nodeId, io, internals.transport);
  let node: ShoalNode;
  try {
    node = buildNode(options, identity, real, internals);
  } catch (err) {
    await real.transport?.close();
    throw err;
  }
  if (node.workersReady !== undefined)
    await node.workersReady.catch(async (err: unknown) => {
      await node.close();
      throw err;
    });
  return node;
}

/**
 * The mode's peer addresses with every name resolved to an address of the bind address's
 * family (addresses.ts); ERR_INVALID_CONFIG names the one that does not resolve.
 */
async function resolveModeAddresses(options: ResolvedNodeOptions): Promise<ResolvedNodeOptions> {
  const mode = options.mode;
  const family = familyOf(options.advertise ?? options.bind);
  if (mode.kind === 'raft') {
    const resolve = (list: readonly string[], field: string) =>
      resolvePeerAddresses(list, family, (index) => `invalid node option mode.${field}[${index}]`);
    const peers = await resolve(mode.peers, 'peers');
    const join = await resolve(mode.join, 'join');
    return { ...options, mode: { ...mode, peers, join } };
  }
  if (
    mode.kind !== 'swim' &&
    mode.kind !== 'static' &&
    mode.kind !== 'raft-lite' &&
    mode.kind !== 'worker-server'
  )
    return options;
  const list = mode.kind === 'swim' ? mode.seeds : mode.peers;
  const field = mode.kind === 'swim' ? 'seeds' : 'peers';
  const resolved = await resolvePeerAddresses(
    list,
    family,
    (index) => `invalid node option mode.${field}[${index}]`,
  );
  return { ...options, mode: { ...mode, [field]: resolved } } as ResolvedNodeOptions;
}

function abortedError(signal: AbortSignal, operation: string): ShoalError {
  return new ShoalError('ERR_ABORTED', `${operation} aborted`, { cause: signal.reason });
}

function throwIfAborted(signal: AbortSignal | undefined, operation: string): void {
  if (signal?.aborted === true) throw abortedError(signal, operation);
}

/** `work`, or a rejection with ERR_ABORTED as soon as `signal` aborts (the listener is removed either way). */
function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  operation: string,
): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(abortedError(signal, operation));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(signal, operation));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
