/**
 * Fault mixes and the nemesis (Jepsen's name for the fault injector). A run enables a set of
 * fault kinds; probabilistic ones (loss, dup, reorder) become link config, skew becomes per-node
 * clock error, and partition, pause and crash are injected by the `Nemesis` on its own Rng
 * stream at random virtual times during the safety phase. `healAll` ends them for the liveness
 * phase. At most a minority of nodes is paused or crashed at once, so a majority stays up.
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { Rng } from '../base/rng.js';
import type { SimClock, SkewOptions } from './clock.js';
import type { LinkConfig } from './link-config.js';
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
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Parses `none`, `all` or a comma list of kinds; throws ERR_INVALID_ARGUMENT naming the bad kind. */
export function parseFaults(text: string): ReadonlySet<FaultKind> {
  const trimmed = text.trim();
  if (trimmed === 'none') return new Set();
  if (trimmed === 'all') return new Set(FAULT_KINDS);
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
  if (faults.size === FAULT_KINDS.length) return 'all';
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
  };
}

/** A node's clock error under the mix: up to ±500 ms offset and ±1000 ppm drift with `skew`. */
export function skewFor(faults: ReadonlySet<FaultKind>, rng: Rng): SkewOptions {
  if (!faults.has('skew')) return { skewMs: 0, driftPpm: 0 };
  return { skewMs: rng.range(-500, 500), driftPpm: rng.range(-1000, 1000) };
}

/** What the nemesis asks the runner to do to a node beyond the network (storage, scenario state). */
export interface NodeFaultHooks {
  crash(address: Address): void;
  restart(address: Address): void;
}

export interface NemesisOptions {
  clock: SimClock;
  rng: Rng;
  network: SimNetwork;
  trace: Trace;
  faults: ReadonlySet<FaultKind>;
  nodes: readonly Address[];
  hooks: NodeFaultHooks;
  /** Virtual time between fault actions, uniform in [min, max]. */
  intervalMinMs?: number;
  intervalMaxMs?: number;
  /** How long a pause or a crash lasts, uniform in [min, max]. */
  outageMinMs?: number;
  outageMaxMs?: number;
}

type Action = 'partition' | 'pause' | 'crash';

/** Upper bound of a short outage: about the longest one-way delay of `linkConfigFor`. */
const SHORT_OUTAGE_MS_MAX = 30;

export class Nemesis {
  private readonly down = new Set<Address>();
  private stopped = false;
  private readonly actions: Action[];
  /** Most nodes paused or crashed at once: a minority. */
  private readonly faultyNodesMax: number;

  constructor(private readonly options: NemesisOptions) {
    // A partition needs two sides; with one node only pauses and crashes make sense.
    this.actions = (['partition', 'pause', 'crash'] as const).filter(
      (a) => options.faults.has(a) && (a !== 'partition' || options.nodes.length >= 2),
    );
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

  private act(action: Action): void {
    if (action === 'partition') return this.partitionOrHeal();
    const candidates = this.options.nodes.filter(
      (a) => !this.down.has(a) && !this.options.network.isPaused(a),
    );
    if (
      this.options.nodes.length - candidates.length >= this.faultyNodesMax ||
      candidates.length === 0
    )
      return;
    const victim = this.options.rng.pick(candidates);
    if (action === 'pause') this.pauseFor(victim);
    else this.crashFor(victim);
  }

  private partitionOrHeal(): void {
    const { network, rng, nodes } = this.options;
    if (network.hasPartitions()) return network.heal();
    const order = rng.shuffle(nodes);
    if (rng.chance(1, 3)) return network.partitionOneWay(order[0] as Address, order[1] as Address);
    const cut = rng.range(1, order.length - 1);
    network.partition(order.slice(0, cut), order.slice(cut));
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

  private crashFor(victim: Address): void {
    const { network, clock, hooks } = this.options;
    this.down.add(victim);
    network.crash(victim);
    hooks.crash(victim);
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
