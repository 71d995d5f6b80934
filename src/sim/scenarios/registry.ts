/**
 * Scenarios `registry`, `registry-loss`, `registry-forgery` and their `-unsafe` variants (issue
 * 16): the `swim` scenario (every node built by buildNode in swim mode, the production wiring,
 * so each runs the data plane beside membership on its one port) with a workload: every
 * `WRITE_PERIOD_MS` on average a random up node advertises or withdraws a service or a process
 * through `node.services` / `node.processes`. Faults come from `--faults` (partitions, crashes,
 * pauses, loss, ...); crashed nodes restart with an empty registry (soft state).
 *
 * Checkers (registry-checkers.ts), on top of every swim checker, scanned every `SCAN_MS`:
 * `listed-only-live` and `departed-withdrawn` (the documented withdrawal delay), each finding
 * held over two scans (a clock stepped forward runs its overdue withdrawal right after the
 * step), and `rows-only-from-their-owner` against every version each node's own partition went
 * through.
 * Liveness adds: every node lists exactly what the nodes advertise now (convergence after the
 * heal; a withdrawal lost or a departed node's rows kept shows here).
 *
 * - `registry-loss`: 20% packet loss (streams reliable) in the safety phase: anti-entropy repairs
 *   what gossip loses. `registry-loss-no-antientropy-unsafe` turns push-pull off: it must fail.
 * - `registry-forgery`: an attacker (registry-attacker.ts) sends forged partitions and deltas of
 *   live nodes all through the safety phase; every forgery must be refused and counted.
 *   `registry-forgery-unsafe` runs it with signatures unchecked: the checker must fire.
 * - `registry-late-withdrawal-unsafe`: the nodes run a withdrawal delay of a day while the
 *   checker holds them to the documented one: it must fire.
 */
import type { NodeId } from '../../identity/node-id.js';
import { registryConfig, type RegistryConfig } from '../../crdt/registry/config.js';
import type { RegistryState } from '../../crdt/registry/types.js';
import { listProcesses, listServices } from '../../crdt/registry/queries.js';
import type { ShoalNode } from '../../node/node.js';
import type { NodeInternals } from '../../node/runtime.js';
import type { Rng } from '../../base/rng.js';
import type { Checker } from '../checkers.js';
import type { Scenario, SimNode, SimWorld } from '../runner.js';
import { RegistryAttacker, type RegistryTarget } from './registry-attacker.js';
import {
  convergedTo,
  heldPastWithdrawal,
  lasting,
  listedDeparted,
  OwnerVersions,
  type RegistryReplica,
} from './registry-checkers.js';
import { swimCheckers, type SwimView } from './swim-checkers.js';
import { SwimRun } from './swim.js';

/** Mean time between two writes of the workload, virtual ms. */
export const WRITE_PERIOD_MS = 40;
/** How often the registry checkers scan every replica, virtual ms. */
export const SCAN_MS = 25;
/** The view reaches the registry one clock turn after membership: a listing may lag by this. */
export const VIEW_SLACK_MS = 1;
/** Mean time between two forgeries, virtual ms. */
export const FORGERY_PERIOD_MS = 60;
/** Forgeries sent before the liveness phase requires a node to have counted one. */
export const FORGERIES_MIN = 3;

export interface RegistryOptions {
  /** Packet loss in the safety phase, ppm (streams stay reliable). */
  lossPpm?: number;
  /** Registry settings the nodes run (the `-unsafe` variants break one). */
  registry?: Partial<RegistryConfig>;
  /** Check partition signatures. @defaultValue true */
  verify?: boolean;
  attack?: boolean;
}

/** Each life's clock origin (local ms at boot), to read the node's own clock as its protocols do. */
const origins = new WeakMap<ShoalNode, number>();

class RegistryRun extends SwimRun {
  private writing = true;
  private readonly workload: Rng;
  private readonly truth = new OwnerVersions();
  /** The documented config the checkers hold every node to (SIM_MIN). */
  private readonly documented = registryConfig('simMin');
  private readonly attacker: RegistryAttacker | undefined;
  /** Refusals counted by lives that crashed (a restart starts from zero). */
  private pastRefusals = 0;
  private reported = false;

  override readonly checkers: readonly Checker<SwimView>[];

  constructor(world: SimWorld, options: RegistryOptions) {
    const internals: NodeInternals = {
      registryProfile: 'simMin',
      ...(options.registry === undefined ? {} : { registry: options.registry }),
      ...(options.verify === false ? { unsafeSkipVerification: true } : {}),
    };
    super(world, {
      internals,
      ...(options.lossPpm === undefined ? {} : { lossPpm: options.lossPpm }),
    });
    if (options.lossPpm !== undefined)
      world.network.setDefaultLink({ lossPpm: options.lossPpm, streamLossPpm: 0 });
    this.workload = world.rng.fork('registry-workload');
    this.checkers = [
      ...swimCheckers(),
      this.throttled(
        'listed-only-live',
        lasting(() => listedDeparted(this.replicas(), VIEW_SLACK_MS)),
      ),
      this.throttled(
        'departed-withdrawn',
        lasting(() =>
          heldPastWithdrawal(this.replicas(), this.documented.withdrawDelayMs, VIEW_SLACK_MS),
        ),
      ),
      this.throttled(
        'rows-only-from-their-owner',
        () => this.truth.check(this.replicas()),
        () => this.recordOwnVersions(),
      ),
    ];
    this.attacker =
      options.attack === true
        ? new RegistryAttacker(world, {
            periodMs: FORGERY_PERIOD_MS,
            targets: () => this.targets(),
            active: () => this.writing,
          })
        : undefined;
    this.attacker?.start();
    this.scheduleWrite();
  }

  override crashNode(node: SimNode): void {
    const registry = this.nodes.get(node)?.internals.registry?.state;
    if (registry !== undefined) this.pastRefusals += refusals(registry);
    super.crashNode(node);
  }

  override startLiveness(): void {
    this.writing = false;
    super.startLiveness();
  }

  override livenessReached(): boolean {
    if (!super.livenessReached() || this.registryLiveness() !== undefined) return false;
    const state = this.replicas()[0]?.state;
    if (state !== undefined && !this.reported) {
      this.world.trace.add(
        `registry converged: ${listServices(state).length} services, ${listProcesses(state).length} processes listed on every node`,
      );
      let carried = 0;
      let alone = 0;
      let received = 0;
      for (const [, shoal] of this.up()) {
        const c = shoal.stats().dataPlane?.carrier;
        carried += c?.carried ?? 0;
        alone += c?.alone ?? 0;
        received += c?.received ?? 0;
      }
      this.world.trace.add(
        `registry carrier: ${carried} copies in membership packets, ${alone} alone, ${received} frames received (current lives)`,
      );
    }
    this.reported = true;
    return true;
  }

  override describeLivenessFailure(): string {
    return super.livenessReached()
      ? (this.registryLiveness() ?? 'reached')
      : super.describeLivenessFailure();
  }

  /** Membership's heal bound, then push-pull rounds and a withdrawal for the registry. */
  override livenessDeadlineMs(): number {
    const c = this.documented;
    return super.livenessDeadlineMs() + c.withdrawDelayMs + 20 * c.pushPullIntervalMs;
  }

  protected override observe(shoal: ShoalNode): void {
    const node = this.world.nodes.find((n) => n.name === shoal.name);
    if (node !== undefined) origins.set(shoal, node.clock.now());
  }

  /** Running nodes: not paused, and not stopped by a failed durable write (awaiting restart). */
  private up(): [SimNode, ShoalNode][] {
    return [...this.nodes].filter(
      ([node, shoal]) => !shoal.isClosed && !this.world.network.isPaused(node.address),
    );
  }

  /** Every running, unpaused node's registry, read with its own membership's word. */
  private replicas(): RegistryReplica[] {
    const out: RegistryReplica[] = [];
    for (const [node, shoal] of this.up()) {
      const state = shoal.internals.registry?.state;
      const members = shoal.internals.membership?.state.members;
      if (state === undefined || members === undefined) continue;
      const localNow = node.clock.now() - (origins.get(shoal) ?? 0);
      out.push({
        name: node.name,
        state,
        member: (id: NodeId) => {
          const m = members.get(id);
          return m === undefined
            ? undefined
            : { state: m.state, forMs: localNow - m.stateChangedAtMs };
        },
      });
    }
    return out;
  }

  private recordOwnVersions(): void {
    for (const shoal of this.nodes.values()) {
      const state = shoal.internals.registry?.state;
      const own = state?.partitions.get(state.selfId);
      if (own !== undefined) this.truth.record(own);
    }
  }

  /** A checker that scans at most every SCAN_MS of virtual time (a forged row lasts longer). */
  private throttled(name: string, check: () => string[], always?: () => void): Checker<SwimView> {
    let lastAtMs = Number.NEGATIVE_INFINITY;
    return {
      name,
      check: (view) => {
        always?.();
        if (view.now() - lastAtMs < SCAN_MS) return [];
        lastAtMs = view.now();
        return check();
      },
    };
  }

  private targets(): RegistryTarget[] {
    return this.up().flatMap(([node, shoal]) => {
      const state = shoal.internals.registry?.state;
      return state === undefined ? [] : [{ name: node.name, address: node.address, state }];
    });
  }

  private scheduleWrite(): void {
    const delayMs = 1 + this.workload.int(2 * WRITE_PERIOD_MS);
    this.world.clock.at(this.world.clock.now() + delayMs, () => {
      if (!this.writing) return;
      this.writeOnce();
      this.scheduleWrite();
    });
  }

  /** One write of the workload, through the public API of a random up node. */
  private writeOnce(): void {
    const up = this.up();
    if (up.length === 0) return;
    const [node, shoal] = this.workload.pick(up);
    const rng = this.workload;
    const name = `s${rng.int(4)}`;
    const pid = `p${rng.int(3)}`;
    const op = rng.int(4);
    this.world.trace.add(
      `${node.name} ${['advertises service', 'withdraws service', 'advertises process', 'withdraws process'][op]} ${op < 2 ? name : pid}`,
    );
    switch (op) {
      case 0:
        shoal.services.advertise({
          name,
          address: `${node.name}:${8000 + rng.int(100)}`,
          tags: rng.chance(1, 2) ? ['v2'] : [],
          weight: rng.int(4),
        });
        return;
      case 1:
        return shoal.services.withdraw(name);
      case 2:
        shoal.processes.advertise({
          pid,
          type: rng.pick(['worker', 'indexer']),
          capabilities: rng.chance(1, 2) ? ['gpu'] : [],
          load: rng.int(100) / 100,
        });
        return;
      default:
        return shoal.processes.withdraw(pid);
    }
  }

  /** Why the registry has not converged yet (undefined once it has), and forgeries uncounted. */
  private registryLiveness(): string | undefined {
    const replicas = this.replicas();
    const owners = replicas
      .map((r) => r.state.partitions.get(r.state.selfId))
      .filter((p) => p !== undefined);
    const unconverged = convergedTo(replicas, owners);
    if (unconverged !== undefined) return unconverged;
    const sent = this.attacker?.sentTotal() ?? 0;
    if (sent < FORGERIES_MIN) return undefined;
    const counted = this.pastRefusals + replicas.reduce((sum, r) => sum + refusals(r.state), 0);
    return counted > 0
      ? undefined
      : `the attacker sent ${sent} forgeries and no node counted one (signaturesInvalid, unverifiable)`;
  }
}

function refusals(state: RegistryState): number {
  return state.counters.signaturesInvalid + state.counters.unverifiable;
}

function scenario(name: string, description: string, options: RegistryOptions): Scenario<SwimView> {
  return { name, description, nodesMin: 3, setup: (world) => new RegistryRun(world, options) };
}

export const registry = scenario(
  'registry',
  'the data plane on every swim node (buildNode) under --faults with a write workload: nothing listed of a departed node, withdrawn within the delay, rows only from their owner, converged after the heal',
  {},
);

/** 20% packet loss on every path during the safety phase (streams reliable). */
export const REGISTRY_LOSS_PPM = 200_000;

export const registryLoss = scenario(
  'registry-loss',
  'registry with 20% packet loss: anti-entropy repairs what gossip loses, every replica converges',
  { lossPpm: REGISTRY_LOSS_PPM },
);

export const registryLossNoAntiEntropyUnsafe = scenario(
  'registry-loss-no-antientropy-unsafe',
  'registry-loss with push-pull off: deltas lost for good must keep replicas apart (the convergence checker must fire)',
  { lossPpm: REGISTRY_LOSS_PPM, registry: { pushPullIntervalMs: 0 } },
);

export const registryForgery = scenario(
  'registry-forgery',
  'registry with an attacker forging partitions and deltas of live nodes: every forgery refused and counted',
  { attack: true },
);

export const registryForgeryUnsafe = scenario(
  'registry-forgery-unsafe',
  'registry-forgery with signatures unchecked: the rows-only-from-their-owner checker must fire',
  { attack: true, verify: false },
);

export const registryLateWithdrawalUnsafe = scenario(
  'registry-late-withdrawal-unsafe',
  'registry whose nodes wait a day to withdraw a dead node: the departed-withdrawn checker (documented delay) must fire',
  { registry: { withdrawDelayMs: 86_400_000 } },
);

export const registryPiggyback = scenario(
  'registry-piggyback',
  "registry with gossipCarrier 'piggyback': deltas ride in membership's packets (data-plane-carrier.ts), the rest alone; same checkers",
  { registry: { gossipCarrier: 'piggyback' } },
);
