/**
 * `createNode()` (INTERFACE.md, "Library"): resolves options, loads the persisted identity,
 * binds the transport and wires the mode's protocol drivers to it. The `ShoalNode` it returns
 * is the public handle: members, leader, events, join, leave, close.
 *
 * Lifecycle: created → running → (leaving) → closed. `leave()` and `close()` are idempotent;
 * after either, the node's sockets and timers are released and nothing keeps the process alive.
 */
import { parseAddress, type Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { Rng } from '../base/rng.js';
import { SystemClock } from '../base/system-clock.js';
import type { Clock, Millis } from '../base/time.js';
import type { Labels } from '../codec/messages.js';
import { loadOrCreateIdentity } from '../identity/identity.js';
import type { NodeId } from '../identity/node-id.js';
import { membershipConfig, type MembershipConfig, type ProfileName } from '../membership/config.js';
import { MembershipDriver, readPersistedIncarnation, type JoinOutcome } from '../membership/driver.js';
import { createState } from '../membership/state.js';
import type { MemberView, MembershipEvent } from '../membership/types.js';
import { EncryptedTransport } from '../transport/encrypted.js';
import { Keyring } from '../transport/keyring.js';
import { NetTransport } from '../transport/net.js';
import type { Transport } from '../transport/types.js';
import { EventHub, type LeaderEvent, type MemberEvent, type NodeEvent } from './events.js';
import { FsStorage } from './fs-storage.js';
import { startLoopDelayMonitor } from './loop-delay.js';
import { resolveNodeOptions, type ClusterMode, type NodeOptions, type ResolvedNodeOptions } from './options.js';
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

function toMember(view: MemberView): Member {
  return { id: view.id, name: view.name, address: view.address, state: view.state, incarnation: view.incarnation, labels: view.labels };
}

const PROFILE_NAMES: Record<ResolvedNodeOptions['profile'], ProfileName> = { lan: 'LAN', wan: 'WAN', local: 'LOCAL' };

export class ShoalNode {
  readonly id: NodeId;
  readonly name: string;
  readonly mode: ClusterMode;
  private readonly hub = new EventHub();
  private closed = false;
  private stopLoopMonitor: (() => void) | undefined;

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
    if (this.membership === undefined) {
      return [{ id: this.id, name: this.name, address: this.address, state: this.closed ? 'left' : 'alive', incarnation: 1, labels: this.options.labels }];
    }
    return this.membership.members().map(toMember);
  }

  /** The current leader and its fencing term. `single`: always this node. */
  leader(): LeaderInfo | undefined {
    if (this.mode.kind === 'single') return this.closed ? undefined : { id: this.id, term: 1 };
    return undefined;
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

  /** Joins the cluster through `addresses`; resolves to how many answered. */
  async join(addresses: readonly string[]): Promise<number> {
    const parsed = addresses.map((a) => parseAddress(a));
    if (this.membership === undefined) throw new ShoalError('ERR_INVALID_ARGUMENT', `join is not available in mode '${this.mode.kind}'`);
    const outcome = await this.membership.join(parsed);
    if (!outcome.ok) throw new ShoalError('ERR_JOIN_FAILED', `join through ${addresses.join(', ')} failed (${outcome.reason}): ${outcome.detail}`);
    return outcome.contacted;
  }

  /** Replaces this node's labels; others see an `updated` event. */
  setLabels(labels: Labels): void {
    const refusal = this.membership?.updateLabels(labels);
    if (refusal !== undefined) throw new ShoalError('ERR_INVALID_ARGUMENT', `labels refused: ${refusal}`);
  }

  /** Graceful: others see this node as `left`, not `dead`. Then closes. */
  async leave(): Promise<void> {
    if (this.closed) return;
    await this.membership?.leave();
    await this.close();
  }

  /** Stops without leaving: others will detect this node as dead. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopLoopMonitor?.();
    this.membership?.stop();
    await this.transport?.close();
    this.hub.end();
  }

  /** @internal Wires membership events into the public event stream. */
  attach(stopLoopMonitor: (() => void) | undefined): void {
    this.stopLoopMonitor = stopLoopMonitor;
  }

  /** @internal */
  publish(event: MembershipEvent): void {
    if (event.type === 'epoch') return;
    this.hub.emit({ kind: 'member', type: event.type, member: toMember(event.member) });
  }

  /** Counters for metrics and tests: protocol counters, decode errors, transport stats. */
  stats(): { protocol: Record<string, number>; decodeErrors: Record<string, number>; transport: ReturnType<Transport['stats']> | undefined } {
    return {
      protocol: { ...(this.membership?.state.counters ?? {}), awareness: this.membership?.state.awareness ?? 0, epoch: this.epoch },
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
  const base = membershipConfig(PROFILE_NAMES[options.profile], deps.membership);
  const config = { ...base, packetEnvelopeBytes: base.packetEnvelopeBytes + (transport.packetOverheadBytes ?? 0) };
  const self = { id: identity.nodeId, name: options.name, address: transport.localAddress, labels: options.labels };
  const state = createState(config, self, readPersistedIncarnation(storage), clock.now());
  const peerCache = new PeerCache(storage, transport.localAddress);
  let node: ShoalNode | undefined;
  const driver = new MembershipDriver({
    state, clock, transport, storage, clusterId: options.clusterId,
    rng: new Rng(seedFrom(identity.nodeId, clock.now())),
    onEvent: (event) => {
      if (event.type === 'epoch') peerCache.save(driver.members());
      node?.publish(event);
    },
  });
  node = new ShoalNode(options, identity.nodeId, transport, driver);
  node.attach(startLoopDelayMonitor((delayMs) => driver.reportLoopDelay(delayMs)));
  const seeds = [...new Set([...options.mode.seeds.map((s) => parseAddress(s)), ...peerCache.load()])];
  keepJoining(driver, seeds, clock, () => node.isClosed);
  return node;
}

/** Rejoin backoff while alone: from `JOIN_RETRY_MIN_MS`, doubling up to `JOIN_RETRY_MAX_MS`. */
export const JOIN_RETRY_MIN_MS = 1000;
export const JOIN_RETRY_MAX_MS = 30_000;

/**
 * Starts the protocol and, while this node still knows no other live member, retries the seeds
 * with capped exponential backoff: nodes of a cluster started together need not start in order.
 */
function keepJoining(driver: MembershipDriver, seeds: readonly Address[], clock: Clock, closed: () => boolean): void {
  let delayMs = JOIN_RETRY_MIN_MS;
  const retry = (outcome: JoinOutcome): void => {
    if (outcome.ok || closed() || seeds.length === 0 || driver.state.liveCount > 1) return;
    clock.setTimer(delayMs as Millis, () => {
      if (closed() || driver.state.liveCount > 1 || driver.state.phase !== 'running') return;
      void driver.join(seeds).then(retry);
    });
    delayMs = Math.min(delayMs * 2, JOIN_RETRY_MAX_MS);
  };
  void driver.start(seeds).then(retry);
}

/** A per-process seed: the NodeId's first 48 bits mixed with the start time, so restarts differ. */
function seedFrom(id: NodeId, now: Millis): number {
  return (Number.parseInt(id.slice(0, 12), 16) + now) % Number.MAX_SAFE_INTEGER;
}
