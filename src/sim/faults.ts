/**
 * Fault mixes and the nemesis (Jepsen's name for the fault injector). A run enables a set of
 * fault kinds; probabilistic ones (loss, dup, reorder, delay) become link config, skew becomes
 * per-node clock error, disk becomes per-disk fault rates, and partition, pause, crash and
 * power are injected by the `Nemesis` on its own Rng stream at random virtual times during the
 * safety phase. `healAll` ends them for the liveness phase.
 *
 * - partition: two sides, one way, three sides at once, a bridge (two sides that both reach one
 *   node), a ring (each node reaches only its neighbours), and targeted cuts when the scenario
 *   names targets: isolate the current leader, cut off the node that voted last.
 * - pause and crash: at most a minority of nodes at once, so a majority stays up; one crash in
 *   three hits the leader when there is one.
 * - power: the whole cluster loses power at once (every disk loses what it never synced) and
 *   comes back over a few hundred ms.
 * - disk: durable writes fail (EIO that drops dirty pages, ENOSPC) or are slow; a node whose
 *   write fails halts, and the nemesis restarts it like a supervisor would.
 * - delay: a payload held back seconds (a stuck queue, a stalled connection).
 * - amnesia (by name only, not in `all`): a crashed node loses its data dir and comes back as a
 *   new identity with an empty disk, as a real node does (its key lives in the data dir); a
 *   minority of the nodes at most, over the whole run.
 * - skew: each node's clock is offset and drifts, and the nemesis steps one node's clock forward
 *   now and then (NodeClock.step: its due timers fire at once). Never backward: the production
 *   clock is monotonic and the cores read no wall time.
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { Rng } from '../base/rng.js';
import type { NodeClock, SimClock, SkewOptions } from './clock.js';
import type { LinkConfig } from './link-config.js';
import { NO_DISK_FAULTS, type DiskFaults } from './storage.js';
import type { SimNetwork } from './network.js';
import { shortName, type Trace } from './trace.js';

export const FAULT_KINDS = [
  'loss',
  'dup',
  'reorder',
  'partition',
  'pause',
  'crash',
  'skew',
  'delay',
  'disk',
  'power',
  'amnesia',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * What `all` means: every kind but `amnesia`, which gives a node a new identity and so runs
 * only where a scenario accepts one (ScenarioRun.forgetNode) and is asked for by name.
 */
export const ALL_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS.filter((k) => k !== 'amnesia');

/** Kinds besides `crash` that take nodes down: a power loss, a write failure that halts a node. */
export const NODE_DOWN_FAULTS: readonly FaultKind[] = ['power', 'disk'];

/** Parses `none`, `all` or a comma list of kinds; throws ERR_INVALID_ARGUMENT naming the bad kind. */
export function parseFaults(text: string): ReadonlySet<FaultKind> {
  const trimmed = text.trim();
  if (trimmed === 'none') return new Set();
  if (trimmed === 'all') return new Set(ALL_FAULT_KINDS);
  const out = new Set<FaultKind>();
  for (const part of trimmed.split(',')) {
    const kind = part.trim();
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `fault kind ${JSON.stringify(kind)} is not one of ${FAULT_KINDS.join(', ')} (or use none / all)`,
      );
    }
    out.add(kind as FaultKind);
  }
  return out;
}

/** The canonical text of a fault set (the order of FAULT_KINDS), for replay commands. */
export function formatFaults(faults: ReadonlySet<FaultKind>): string {
  if (faults.size === 0) return 'none';
  if (faults.size === ALL_FAULT_KINDS.length && ALL_FAULT_KINDS.every((k) => faults.has(k)))
    return 'all';
  return FAULT_KINDS.filter((k) => faults.has(k)).join(',');
}

/** Default link config for a fault mix: a LAN-like 1-3 ms path, plus the enabled faults. */
export function linkConfigFor(faults: ReadonlySet<FaultKind>): Partial<LinkConfig> {
  return {
    latencyMs: 1,
    jitterMs: faults.has('reorder') ? 8 : 0,
    reorderPpm: faults.has('reorder') ? 50_000 : 0,
    reorderDelayMs: 20,
    lossPpm: faults.has('loss') ? 20_000 : 0,
    streamLossPpm: faults.has('loss') ? 2_000 : 0,
    duplicatePpm: faults.has('dup') ? 20_000 : 0,
    longDelayPpm: faults.has('delay') ? 5_000 : 0,
    longDelayMs: 3_000,
  };
}

/** A disk's fault rates under the mix: with `disk`, 3 durable writes in 100 fail, 1 in 20 is slow (<= 300 ms). */
export function diskFaultsFor(faults: ReadonlySet<FaultKind>): DiskFaults {
  if (!faults.has('disk')) return { ...NO_DISK_FAULTS };
  return { eioPpm: 20_000, fullPpm: 10_000, slowPpm: 50_000, slowMs: 300 };
}

/** A node's clock error under the mix: up to ±500 ms offset and ±1000 ppm drift with `skew`. */
export function skewFor(faults: ReadonlySet<FaultKind>, rng: Rng): SkewOptions {
  if (!faults.has('skew')) return { skewMs: 0, driftPpm: 0 };
  return { skewMs: rng.range(-500, 500), driftPpm: rng.range(-1000, 1000) };
}

/** What the nemesis asks the runner to do to a node beyond the network (storage, scenario state). */
export interface NodeFaultHooks {
  /** Power loss of one node: its disk loses what it never synced, the scenario drops the node. */
  crash(address: Address): void;
  /** The node's process stopped by itself (a fatal error): the scenario drops it, the disk keeps its page cache. */
  halt(address: Address): void;
  restart(address: Address): void;
  /**
   * Amnesia, when the scenario accepts it: the node (already crashed) lost its data dir, so its
   * next boot is a new identity with an empty disk, as a real node whose key lives there.
   */
  forget?(address: Address): void;
  /**
   * Whether the protocol claims to survive `address` losing its data dir now (raft-lite: once
   * every member has pinned its identity). Amnesia outside that claim is not injected.
   */
  mayForget?(address: Address): boolean;
  /** Whom targeted faults aim at, when the scenario knows. */
  targets?(): FaultTargets;
}

/** What a scenario tells the nemesis to aim at. */
export interface FaultTargets {
  /** The node that leads now. */
  leader?: Address;
  /** The node that granted a vote last. */
  lastVoter?: Address;
}

export interface NemesisOptions {
  clock: SimClock;
  rng: Rng;
  network: SimNetwork;
  trace: Trace;
  faults: ReadonlySet<FaultKind>;
  nodes: readonly Address[];
  hooks: NodeFaultHooks;
  /** Each node's clock, for clock steps (`skew`). */
  nodeClocks?: ReadonlyMap<Address, NodeClock>;
  /** Virtual time between fault actions, uniform in [min, max]. */
  intervalMinMs?: number;
  intervalMaxMs?: number;
  /** How long a pause or a crash lasts, uniform in [min, max]. */
  outageMinMs?: number;
  outageMaxMs?: number;
}

type Action = 'partition' | 'pause' | 'crash' | 'power' | 'clock-step' | 'amnesia';

/** A clock step: one in two small (up to a heartbeat or two), the others up to a few timeouts. */
const CLOCK_STEP_SMALL_MS_MAX = 300;
const CLOCK_STEP_LARGE_MS_MAX = 3_000;

/** The cluster comes back from a power loss over this long, node by node. */
const POWER_RETURN_SPREAD_MS = 400;

/** Upper bound of a short outage: about the longest one-way delay of `linkConfigFor`. */
const SHORT_OUTAGE_MS_MAX = 30;

export class Nemesis {
  private readonly down = new Set<Address>();
  private stopped = false;
  private readonly actions: Action[];
  /** Most nodes paused or crashed at once: a minority. */
  private readonly faultyNodesMax: number;
  /** Nodes that lost their data dir at least once (amnesia). */
  private readonly forgotten = new Set<Address>();

  constructor(private readonly options: NemesisOptions) {
    // A partition needs two sides; with one node only pauses and crashes make sense.
    this.actions = (
      ['partition', 'pause', 'crash', 'power', 'clock-step', 'amnesia'] as const
    ).filter((a) => {
      if (a === 'clock-step') return options.faults.has('skew') && options.nodeClocks !== undefined;
      if (a === 'amnesia') return options.faults.has(a) && options.hooks.forget !== undefined;
      return options.faults.has(a) && (a !== 'partition' || options.nodes.length >= 2);
    });
    this.faultyNodesMax = Math.max(1, Math.floor((options.nodes.length - 1) / 2));
  }

  /** Schedules fault actions until `healAll` is called. */
  start(): void {
    if (this.actions.length === 0) return;
    this.scheduleNext();
  }

  /** Ends every fault: heals partitions, resumes paused nodes, restarts crashed ones, stops loss. */
  healAll(): void {
    this.stopped = true;
    const { network, nodes, hooks } = this.options;
    network.setFaultsActive(false);
    if (network.hasPartitions()) network.heal();
    for (const address of nodes) network.resume(address);
    for (const address of nodes) if (this.down.delete(address)) this.restart(address, hooks);
  }

  private scheduleNext(): void {
    const { clock, rng } = this.options;
    const delayMs = rng.range(
      this.options.intervalMinMs ?? 200,
      this.options.intervalMaxMs ?? 1_500,
    );
    clock.at(clock.now() + delayMs, () => {
      if (this.stopped) return;
      this.act(rng.pick(this.actions));
      this.scheduleNext();
    });
  }

  /**
   * The node's process stopped by itself (a failed durable write): it is down like a crashed
   * one, without the power loss, and a supervisor restarts it after an outage (at once, after a
   * few ms, once the faults are healed).
   */
  halted(address: Address): void {
    const { network, clock, hooks, trace } = this.options;
    trace.add(`fault halt ${shortName(address)}`);
    network.crash(address);
    hooks.halt(address);
    // A node a scenario's own script booted while the nemesis held it down: the nemesis'
    // pending restart brings it back.
    if (this.down.has(address)) return;
    this.down.add(address);
    const outageMs = this.stopped
      ? this.options.rng.range(1, SHORT_OUTAGE_MS_MAX)
      : this.outageMs();
    clock.at(clock.now() + outageMs, () => {
      if (this.down.delete(address)) this.restart(address, hooks);
    });
  }

  private act(action: Action): void {
    if (action === 'partition') return this.partitionOrHeal();
    if (action === 'power') return this.powerLoss();
    if (action === 'clock-step') return this.stepClock();
    const candidates = this.options.nodes.filter(
      (a) => !this.down.has(a) && !this.options.network.isPaused(a),
    );
    if (
      this.options.nodes.length - candidates.length >= this.faultyNodesMax ||
      candidates.length === 0
    )
      return;
    const { rng } = this.options;
    const leader = this.options.hooks.targets?.().leader;
    const aimed = action === 'crash' && leader !== undefined && candidates.includes(leader);
    const victim = aimed && rng.chance(1, 3) ? leader : rng.pick(candidates);
    if (action === 'pause') return this.pauseFor(victim);
    // A lost data dir is a member lost for good (its new identity is another node): over the
    // whole run only a minority may lose theirs, or the cluster's durable state is gone.
    const amnesia =
      action === 'amnesia' &&
      (this.forgotten.has(victim) || this.forgotten.size < this.faultyNodesMax) &&
      this.options.hooks.mayForget?.(victim) !== false;
    if (amnesia) this.forgotten.add(victim);
    this.crashFor(victim, amnesia);
  }

  private stepClock(): void {
    const { rng, trace, nodeClocks, nodes } = this.options;
    const victim = rng.pick(nodes);
    const clock = nodeClocks?.get(victim);
    if (clock === undefined) return;
    const byMs = rng.range(1, rng.chance(1, 2) ? CLOCK_STEP_SMALL_MS_MAX : CLOCK_STEP_LARGE_MS_MAX);
    trace.add(`fault clock-step ${shortName(victim)} +${byMs}ms`);
    clock.step(byMs);
  }

  private partitionOrHeal(): void {
    const { network, rng, nodes } = this.options;
    if (network.hasPartitions()) return network.heal();
    const order = rng.shuffle(nodes);
    const targets = this.options.hooks.targets?.() ?? {};
    const target = rng.pick([targets.leader, targets.lastVoter]);
    const shape = rng.int(6);
    if (shape === 0 && target !== undefined && nodes.includes(target)) {
      const rest = nodes.filter((a) => a !== target);
      return network.partition(
        [target],
        rest,
        target === targets.leader ? 'isolate leader' : 'cut last voter',
      );
    }
    if (shape === 1) return network.partitionOneWay(order[0] as Address, order[1] as Address);
    if (shape === 2 && order.length >= 3) {
      const a = rng.range(1, order.length - 2);
      const b = rng.range(a + 1, order.length - 1);
      return network.partitionGroups(
        [order.slice(0, a), order.slice(a, b), order.slice(b)],
        'three sides',
      );
    }
    if (shape === 3 && order.length >= 3) {
      // A bridge: order[0] reaches both sides, which cannot reach each other.
      const cut = rng.range(2, order.length - 1);
      return network.partition(
        order.slice(1, cut),
        order.slice(cut),
        `bridge ${shortName(order[0] as Address)}`,
      );
    }
    if (shape === 4 && order.length >= 4) return network.ring(order);
    const cut = rng.range(1, order.length - 1);
    network.partition(order.slice(0, cut), order.slice(cut));
  }

  /** Every node loses power at once; they come back one by one. */
  private powerLoss(): void {
    const { network, clock, hooks, rng, nodes, trace } = this.options;
    // A rare event: one chance in four when drawn, never while a node is already down.
    if (!rng.chance(1, 4) || this.down.size > 0) return;
    trace.add('fault power loss (whole cluster)');
    for (const address of nodes) {
      network.resume(address);
      this.down.add(address);
      network.crash(address);
      hooks.crash(address);
    }
    const backAtMs = clock.now() + this.outageMs();
    for (const address of nodes) {
      clock.at(backAtMs + rng.int(POWER_RETURN_SPREAD_MS), () => {
        if (this.stopped || !this.down.delete(address)) return;
        this.restart(address, hooks);
      });
    }
  }

  /** One outage in four is short (1..30 ms): a fast restart while its old payloads are still in flight. */
  private outageMs(): number {
    const { rng } = this.options;
    if (rng.chance(1, 4)) return rng.range(1, SHORT_OUTAGE_MS_MAX);
    return rng.range(this.options.outageMinMs ?? 100, this.options.outageMaxMs ?? 3_000);
  }

  private pauseFor(victim: Address): void {
    const { network, clock } = this.options;
    network.pause(victim);
    clock.at(clock.now() + this.outageMs(), () => {
      if (!this.stopped) network.resume(victim);
    });
  }

  private crashFor(victim: Address, amnesia = false): void {
    const { network, clock, hooks, trace } = this.options;
    this.down.add(victim);
    network.crash(victim);
    hooks.crash(victim);
    if (amnesia) {
      trace.add(`fault amnesia ${shortName(victim)} (data dir lost: a new identity)`);
      hooks.forget?.(victim);
    }
    clock.at(clock.now() + this.outageMs(), () => {
      if (this.stopped || !this.down.delete(victim)) return;
      this.restart(victim, hooks);
    });
  }

  private restart(address: Address, hooks: NodeFaultHooks): void {
    this.options.trace.add(`fault restart ${shortName(address)}`);
    hooks.restart(address);
  }
}
