/**
 * SimNetwork: the simulated network under `MemoryTransport` (implements `Fabric`). Every payload
 * is an event on the `SimClock`, delayed, lost, duplicated or reordered per path by one seeded
 * Rng stream, so a run is a function of the seed.
 *
 * Fault model (docs/design/simulator.md):
 * - Packets: per-path delay (latency + jitter + optional reorder hold-back), loss, duplication.
 * - Long delays: with `longDelayPpm`, a payload is held up to `longDelayMs` more (a packet stuck
 *   in a queue, a stream stalled on retransmits: the frames behind it wait too).
 * - Streams: ordered per (from, to) and never duplicated. A lost frame (`streamLossPpm`) breaks
 *   its connection: every frame of that connection still in flight is dropped with it, and the
 *   next frame opens a new connection, so a receiver never sees a hole inside one connection.
 *   A frame dropped for any reason is counted on its path, which is how a checker tells an
 *   allowed gap from a bug.
 * - Partitions (symmetric and one-way) are checked at send and again at delivery, so nothing
 *   already in flight crosses a partition created after it was sent.
 * - Pause: a paused node's timers are parked by the clock and payloads reaching it are QUEUED
 *   (its kernel buffers would still accept them) up to `pausedInboxMax`; past that they are
 *   dropped (`paused_overflow`). On resume the queue is delivered in arrival order.
 * - Crash: detaches the node, drops its queued payloads and its in-flight stream frames (both
 *   directions, checked by a per-node life epoch: connections die with the process) and kills
 *   its timers. Packets are not connections: a datagram already on the wire from a crashed node
 *   still arrives, and one sent to the old process reaches the restarted one if it is attached
 *   by then (stale messages across a restart). Restart = attach again. A stream frame that
 *   reaches no endpoint is refused back to its sender (a TCP RST: nothing listens on the port).
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';
import type { Rng } from '../base/rng.js';
import type { Channel, Fabric, RefusedHandler } from '../transport/types.js';
import type { SimClock } from './clock.js';
import { LINK_DEFAULTS, PPM, mergeLinkConfig, type LinkConfig } from './link-config.js';
import { shortName, type Trace } from './trace.js';

type Deliver = (from: Address, channel: Channel, data: Uint8Array) => void;

/** Told of every dropped payload; must not send or change the network. */
export type DropObserver = (
  from: Address,
  to: Address,
  channel: Channel,
  data: Uint8Array,
  reason: DropReason,
) => void;

/** Why a payload did not arrive. */
export type DropReason =
  | 'loss'
  | 'stream_loss'
  | 'partition'
  | 'paused_overflow'
  | 'crash'
  | 'unattached'
  | 'sender_unattached'
  | 'sender_paused'
  | 'oversized';

export interface NetworkStats {
  sent: Record<Channel, number>;
  delivered: Record<Channel, number>;
  duplicated: number;
  /** Payloads held back by a long delay. */
  longDelayed: number;
  dropped: Partial<Record<DropReason, number>>;
}

export interface SimNetworkOptions {
  clock: SimClock;
  /** The network's own stream (`rng.fork('network')`): delays and fault draws. */
  rng: Rng;
  trace?: Trace;
  link?: Partial<LinkConfig>;
  /** Payloads queued for a paused node before new ones are dropped. @defaultValue 1024 */
  pausedInboxMax?: number;
}

interface InFlight {
  readonly from: Address;
  readonly to: Address;
  readonly channel: Channel;
  readonly data: Uint8Array;
  readonly fromEpoch: number;
  readonly toEpoch: number;
  /** Streams: the connection of the path the frame was sent on. */
  readonly connection: number;
}

const pathKey = (from: Address, to: Address): string => `${from}>${to}`;

export class SimNetwork implements Fabric {
  private readonly clock: SimClock;
  private readonly rng: Rng;
  private readonly trace: Trace | undefined;
  private readonly pausedInboxMax: number;
  private defaultLink: LinkConfig;
  private readonly links = new Map<string, LinkConfig>();
  private readonly endpoints = new Map<Address, Deliver>();
  private readonly refusedHandlers = new Map<Address, RefusedHandler>();
  private readonly epochs = new Map<Address, number>();
  private readonly blocked = new Set<string>();
  private readonly paused = new Map<Address, InFlight[]>();
  private readonly streamTailMs = new Map<string, number>();
  /** Per path: the current stream connection (bumped when a lost frame breaks one). */
  private readonly connections = new Map<string, number>();
  private readonly pathDrops = new Map<string, number>();
  private faultsActive = true;
  private dropObserver: DropObserver | undefined;
  private readonly counters: NetworkStats = {
    sent: { packet: 0, stream: 0 },
    delivered: { packet: 0, stream: 0 },
    duplicated: 0,
    longDelayed: 0,
    dropped: {},
  };

  constructor(options: SimNetworkOptions) {
    this.clock = options.clock;
    this.rng = options.rng;
    this.trace = options.trace;
    this.pausedInboxMax = options.pausedInboxMax ?? LIMITS.sendQueueDepthMax;
    this.defaultLink = mergeLinkConfig(LINK_DEFAULTS, options.link ?? {});
  }

  attach(address: Address, deliver: Deliver, refused?: RefusedHandler): void {
    if (this.endpoints.has(address))
      throw new ShoalError(
        'ERR_TRANSPORT_BIND',
        `simulated address ${address} is already attached`,
      );
    this.endpoints.set(address, deliver);
    if (refused !== undefined) this.refusedHandlers.set(address, refused);
  }

  detach(address: Address): void {
    this.endpoints.delete(address);
    this.refusedHandlers.delete(address);
  }

  isAttached(address: Address): boolean {
    return this.endpoints.has(address);
  }

  send(from: Address, to: Address, channel: Channel, data: Uint8Array): void {
    this.counters.sent[channel]++;
    const message: InFlight = {
      from,
      to,
      channel,
      data: data.slice(),
      fromEpoch: this.epochOf(from),
      toEpoch: this.epochOf(to),
      connection: this.connections.get(pathKey(from, to)) ?? 0,
    };
    this.trace?.add(`${shortName(from)} -> ${shortName(to)} ${channel} ${data.length}B`);
    const refused = this.refuseAtSend(message);
    if (refused !== undefined) return this.drop(message, refused);
    const link = this.linkOf(from, to);
    if (channel === 'stream') return this.sendFrame(message, link);
    if (this.faultsActive && this.rng.chance(link.lossPpm, PPM)) return this.drop(message, 'loss');
    this.schedule(message, this.clock.now() + this.packetDelayMs(link));
    if (this.faultsActive && this.rng.chance(link.duplicatePpm, PPM)) {
      this.counters.duplicated++;
      // Its own copy: a duplicate must not see what the receiver did to the first one.
      this.schedule(
        { ...message, data: data.slice() },
        this.clock.now() + this.packetDelayMs(link),
      );
    }
  }

  /** Replaces the default path config (fields not given keep their current value). */
  setDefaultLink(patch: Partial<LinkConfig>): void {
    this.defaultLink = mergeLinkConfig(this.defaultLink, patch);
  }

  /** Overrides the config of one direction of one path, over the current default. */
  setLink(from: Address, to: Address, patch: Partial<LinkConfig>): void {
    this.links.set(pathKey(from, to), mergeLinkConfig(this.linkOf(from, to), patch));
  }

  /** Turns loss, duplication and stream loss on or off everywhere (delays stay): the liveness phase turns them off. */
  setFaultsActive(active: boolean): void {
    this.faultsActive = active;
  }

  /** Blocks every path between the two groups, both ways (`label` names the shape in the trace). */
  partition(groupA: readonly Address[], groupB: readonly Address[], label?: string): void {
    this.partitionGroups([groupA, groupB], label);
  }

  /** Blocks every path between any two of the groups, both ways: several partitions at once. */
  partitionGroups(groups: readonly (readonly Address[])[], label?: string): void {
    for (let i = 0; i < groups.length; i++)
      for (let j = i + 1; j < groups.length; j++)
        for (const a of groups[i] as readonly Address[])
          for (const b of groups[j] as readonly Address[]) this.blockBoth(a, b);
    this.trace?.add(
      `fault partition${label === undefined ? '' : ` (${label})`} ${groups.map((g) => g.map(shortName).join(' ')).join(' | ')}`,
    );
  }

  /** A ring: each node reaches only its two neighbours in `order` (non-transitive reachability). */
  ring(order: readonly Address[]): void {
    const n = order.length;
    for (let i = 0; i < n; i++)
      for (let j = i + 2; j < n; j++) {
        if (i === 0 && j === n - 1) continue;
        this.blockBoth(order[i] as Address, order[j] as Address);
      }
    this.trace?.add(`fault partition (ring) ${order.map(shortName).join(' - ')}`);
  }

  private blockBoth(a: Address, b: Address): void {
    this.blocked.add(pathKey(a, b));
    this.blocked.add(pathKey(b, a));
  }

  /** Blocks `from` -> `to` only: `to` can still reach `from`. */
  partitionOneWay(from: Address, to: Address): void {
    this.blocked.add(pathKey(from, to));
    this.trace?.add(`fault partition-one-way ${shortName(from)} -> ${shortName(to)}`);
  }

  /** Removes every partition. */
  heal(): void {
    this.blocked.clear();
    this.trace?.add('fault heal');
  }

  isBlocked(from: Address, to: Address): boolean {
    return this.blocked.has(pathKey(from, to));
  }

  hasPartitions(): boolean {
    return this.blocked.size > 0;
  }

  pause(address: Address): void {
    if (this.paused.has(address)) return;
    this.paused.set(address, []);
    this.clock.pauseOwner(address);
    this.trace?.add(`fault pause ${shortName(address)}`);
  }

  /** Delivers the node's queued payloads in arrival order, then resumes its timers. */
  resume(address: Address): void {
    const inbox = this.paused.get(address);
    if (inbox === undefined) return;
    this.paused.delete(address);
    this.clock.resumeOwner(address);
    this.trace?.add(`fault resume ${shortName(address)} (${inbox.length} queued)`);
    // Delivered now, not scheduled: a frame already due later in the heap must not overtake
    // frames that reached the node's buffers before it (stream order across a pause).
    for (const message of inbox) this.arrive(message);
  }

  isPaused(address: Address): boolean {
    return this.paused.has(address);
  }

  /** Detaches the node, drops everything queued for and in flight to or from it, kills its timers. */
  crash(address: Address): void {
    this.epochs.set(address, this.epochOf(address) + 1);
    this.endpoints.delete(address);
    this.refusedHandlers.delete(address);
    this.clock.resumeOwner(address);
    this.clock.killOwner(address);
    this.trace?.add(`fault crash ${shortName(address)}`);
    const inbox = this.paused.get(address) ?? [];
    this.paused.delete(address);
    for (const message of inbox) this.drop(message, 'crash');
    // streamTailMs is kept: frames sent after a restart still arrive after the dead ones are
    // dropped, so a checker learns of every drop before it sees the gap.
  }

  /** Registers the one drop observer (scenarios use it to tell allowed gaps from lost frames). */
  observeDrops(observer: DropObserver | undefined): void {
    this.dropObserver = observer;
  }

  /** Payloads of `channel` dropped on from -> to so far, for any reason. */
  dropsOnPath(from: Address, to: Address, channel: Channel): number {
    return this.pathDrops.get(`${pathKey(from, to)}/${channel}`) ?? 0;
  }

  stats(): NetworkStats {
    return {
      sent: { ...this.counters.sent },
      delivered: { ...this.counters.delivered },
      duplicated: this.counters.duplicated,
      longDelayed: this.counters.longDelayed,
      dropped: { ...this.counters.dropped },
    };
  }

  private linkOf(from: Address, to: Address): LinkConfig {
    return this.links.get(pathKey(from, to)) ?? this.defaultLink;
  }

  private epochOf(address: Address): number {
    return this.epochs.get(address) ?? 0;
  }

  private refuseAtSend(message: InFlight): DropReason | undefined {
    const bytesMax = message.channel === 'packet' ? LIMITS.packetBytesMax : LIMITS.frameBytesMax;
    if (message.data.length > bytesMax) return 'oversized';
    if (!this.endpoints.has(message.from)) return 'sender_unattached';
    if (this.paused.has(message.from)) return 'sender_paused';
    if (this.isBlocked(message.from, message.to)) return 'partition';
    return undefined;
  }

  private packetDelayMs(link: LinkConfig): number {
    const jitterMs = link.jitterMs > 0 ? this.rng.int(link.jitterMs + 1) : 0;
    const holdMs =
      this.faultsActive && this.rng.chance(link.reorderPpm, PPM) ? link.reorderDelayMs : 0;
    return link.latencyMs + jitterMs + holdMs + this.longDelayMs(link);
  }

  /** A seconds-long hold-up with probability longDelayPpm (0 when faults are off). */
  private longDelayMs(link: LinkConfig): number {
    if (!this.faultsActive || link.longDelayPpm === 0) return 0;
    if (!this.rng.chance(link.longDelayPpm, PPM)) return 0;
    this.counters.longDelayed++;
    return this.rng.int(link.longDelayMs + 1);
  }

  /** Streams: never before the previous frame of the pair (the heap's seq keeps equal times in order). */
  private sendFrame(message: InFlight, link: LinkConfig): void {
    const key = pathKey(message.from, message.to);
    if (this.faultsActive && this.rng.chance(link.streamLossPpm, PPM)) {
      // The connection breaks: what is still in flight on it dies too; the next frame reconnects.
      this.connections.set(key, message.connection + 1);
      return this.drop(message, 'stream_loss');
    }
    const jitterMs = link.jitterMs > 0 ? this.rng.int(link.jitterMs + 1) : 0;
    const atMs = Math.max(
      this.clock.now() + link.latencyMs + jitterMs + this.longDelayMs(link),
      this.streamTailMs.get(key) ?? 0,
    );
    this.streamTailMs.set(key, atMs);
    this.schedule(message, atMs);
  }

  private schedule(message: InFlight, atMs: number): void {
    this.clock.at(atMs, () => this.arrive(message));
  }

  private arrive(message: InFlight): void {
    const { from, to, channel, data } = message;
    if (
      channel === 'stream' &&
      (message.fromEpoch !== this.epochOf(from) || message.toEpoch !== this.epochOf(to))
    )
      return this.drop(message, 'crash');
    if (
      channel === 'stream' &&
      message.connection !== (this.connections.get(pathKey(from, to)) ?? 0)
    )
      return this.drop(message, 'stream_loss');
    if (this.isBlocked(from, to)) return this.drop(message, 'partition');
    const inbox = this.paused.get(to);
    if (inbox !== undefined) {
      if (inbox.length >= this.pausedInboxMax) return this.drop(message, 'paused_overflow');
      inbox.push(message);
      this.trace?.add(
        `${shortName(to)} <~ ${shortName(from)} ${channel} ${data.length}B queued (paused)`,
      );
      return;
    }
    const deliver = this.endpoints.get(to);
    if (deliver === undefined) {
      this.drop(message, 'unattached');
      if (channel === 'stream') this.refuse(message);
      return;
    }
    this.counters.delivered[channel]++;
    this.trace?.add(`${shortName(to)} <- ${shortName(from)} ${channel} ${data.length}B`);
    // Every InFlight is delivered at most once and owns its bytes (copied at send, a duplicate
    // gets its own copy), so the receiver may take them without another copy.
    deliver(from, channel, data);
  }

  /**
   * A stream frame found nothing listening: like a TCP RST, the sender learns it one path
   * latency later (no jitter draw, so runs without crashes keep their random streams), unless
   * it crashed meanwhile or the way back is cut.
   */
  private refuse(message: InFlight): void {
    const { from, to, fromEpoch } = message;
    const atMs = this.clock.now() + this.linkOf(to, from).latencyMs;
    this.clock.at(atMs, () => {
      if (fromEpoch !== this.epochOf(from) || this.isBlocked(to, from)) return;
      this.trace?.add(`${shortName(from)} <- ${shortName(to)} stream refused`);
      this.refusedHandlers.get(from)?.(to);
    });
  }

  private drop(message: InFlight, reason: DropReason): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    const key = `${pathKey(message.from, message.to)}/${message.channel}`;
    this.pathDrops.set(key, (this.pathDrops.get(key) ?? 0) + 1);
    this.trace?.add(
      `${shortName(message.to)} x- ${shortName(message.from)} ${message.channel} ${message.data.length}B ${reason}`,
    );
    this.dropObserver?.(message.from, message.to, message.channel, message.data, reason);
  }
}
