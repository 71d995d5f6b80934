/**
 * Scenarios `swim` and `swim-loss10`: every simulated node is built by `buildNode` in `swim`
 * mode (sim-node.ts), so it runs the membership core on the generic driver over
 * `MemoryTransport` on the `SimNetwork`, with its own skewed `NodeClock`, `SimStorage` and
 * forked Rng: the production code path with the I/O swapped.
 *
 * - Boot: n1 starts alone, the others join through n1; a seed outside a node's live view is retried by
 *   the membership core's own `retrySeeds`, the same code production runs.
 * - Crash: the node halts, the network and the disk lose their part. Restart: a new node on
 *   the same NodeId and disk, starting above its persisted incarnation (SWIM §4.2: a restart
 *   must out-vote its earlier life), joining through every other node (the peer cache's role).
 * - `swim-loss10` raises packet and frame loss to 10% for the safety phase, on top of `--faults`.
 * - NodeIds are 32 hex characters drawn from the node's own Rng stream: no crypto needed.
 *
 * Every node's driver checks the membership invariants after every step; the checkers
 * (swim-checkers.ts) run after every event; liveness is one view: every node up and seeing
 * exactly every node alive (restarted ones above their old incarnation).
 */
import type { Address } from '../../base/address.js';
import {
  membershipConfig,
  type MembershipConfig,
  type ProfileName,
} from '../../membership/config.js';
import type { ShoalNode } from '../../node/node.js';
import type { NodeInternals } from '../../node/runtime.js';
import type { FaultKind } from '../faults.js';
import type { Checker } from '../checkers.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import { bootSimNode, simNodeId } from './sim-node.js';
import { healBoundMs } from './swim-bounds.js';
import {
  describeSplitView,
  swimCheckers,
  type MemberObservation,
  type SwimNodeRecord,
  type SwimView,
} from './swim-checkers.js';

/** What the swim scenarios change in a profile: member and queue limits that fit `nodes`. */
export function swimInternals(
  nodes: number,
  profile: ProfileName = 'SIM_MIN',
): Pick<NodeInternals, 'membershipProfile' | 'membership'> {
  const base = membershipConfig(profile);
  return {
    membershipProfile: profile,
    membership: {
      membersMax: Math.max(base.membersMax, nodes + 1),
      broadcastQueueMax: Math.max(base.broadcastQueueMax, 2 * nodes),
    },
  };
}

/** The membership config the swim scenarios' nodes run with (the wiring computes it from `swimInternals` the same way). */
export function swimConfig(nodes: number, profile: ProfileName = 'SIM_MIN'): MembershipConfig {
  const internals = swimInternals(nodes, profile);
  return membershipConfig(profile, internals.membership);
}

export interface SwimOptions {
  /** Packet and frame loss during the safety phase, ppm; undefined keeps the fault mix's. */
  lossPpm?: number;
  /** Timings profile. @defaultValue SIM_MIN */
  profile?: ProfileName;
  /**
   * Faults the scenario injects itself on top of `--faults` (swim-stale-view pauses and crashes
   * nodes on a schedule): the checkers judge the run as if the fault mix had them.
   */
  injects?: readonly FaultKind[];
  /** Knobs on top of the profile's (the forgery scenarios' `-unsafe` variant turns verification off). */
  internals?: NodeInternals;
}

export class SwimRun implements ScenarioRun<SwimView> {
  readonly view: SwimView;
  protected readonly records: SwimNodeRecord[] = [];
  private readonly events: MemberObservation[] = [];
  protected readonly nodes = new Map<SimNode, ShoalNode>();
  private readonly generations = new Map<SimNode, number>();
  private readonly internals: NodeInternals;

  constructor(
    protected readonly world: SimWorld,
    options: SwimOptions = {},
  ) {
    const profile = options.profile ?? 'SIM_MIN';
    this.internals = { ...swimInternals(world.nodes.length, profile), ...options.internals };
    const config = swimConfig(world.nodes.length, profile);
    for (const node of world.nodes) {
      this.records.push({
        name: node.name,
        address: node.address,
        id: simNodeId(node),
        up: false,
        startedAtMs: 0,
        crashedAtMs: undefined,
        incarnationBeforeCrash: undefined,
        state: undefined,
      });
    }
    this.view = {
      faults: new Set([...world.faults, ...(options.injects ?? [])]),
      config,
      nodes: this.records,
      byId: new Map(this.records.map((r) => [r.id, r])),
      events: this.events,
      now: () => world.clock.now(),
      isPaused: (address) => world.network.isPaused(address),
      healedAtMs: undefined,
      extraLoss: options.lossPpm !== undefined && options.lossPpm > 0,
    };
    if (options.lossPpm !== undefined)
      world.network.setDefaultLink({ lossPpm: options.lossPpm, streamLossPpm: options.lossPpm });
    const first = world.nodes[0];
    for (const node of world.nodes)
      this.boot(node, node === first || first === undefined ? [] : [first.address]);
  }

  readonly checkers: readonly Checker<SwimView>[] = swimCheckers();

  crashNode(node: SimNode): void {
    const record = this.recordOf(node);
    this.nodes.get(node)?.halt();
    this.nodes.delete(node);
    record.incarnationBeforeCrash = this.highestHeardIncarnation(record);
    record.up = false;
    record.state = undefined;
    record.crashedAtMs = this.world.clock.now();
  }

  restartNode(node: SimNode): void {
    this.boot(
      node,
      this.world.nodes.filter((n) => n !== node).map((n) => n.address),
    );
  }

  startLiveness(): void {
    this.view.healedAtMs = this.world.clock.now();
  }

  livenessReached(): boolean {
    return describeSplitView(this.view) === undefined;
  }

  describeLivenessFailure(): string {
    return describeSplitView(this.view) ?? 'one view reached';
  }

  /** The heal bound the one-view checker holds the protocol to (swim-bounds.ts). */
  livenessDeadlineMs(): number {
    return healBoundMs(this.view.config, this.records.length);
  }

  /**
   * The highest incarnation at which any other node has seen `record`'s node: what its next life
   * must out-vote (SWIM §4.2). Not its in-memory incarnation: a refutation still being persisted
   * when it crashed was never sent (sends wait for the write), so nobody has to be out-voted there.
   */
  private highestHeardIncarnation(record: SwimNodeRecord): number | undefined {
    let highest: number | undefined;
    for (const o of this.events)
      if (o.subject === record.id && o.observer !== record.name)
        highest = Math.max(highest ?? 0, o.incarnation);
    return highest;
  }

  /** A subclass's hook on every boot (before the scenario's own member listener). */
  protected observe(_shoal: ShoalNode, _record: SwimNodeRecord, _life: number): void {}

  protected recordOf(node: SimNode): SwimNodeRecord {
    return this.records[this.world.nodes.indexOf(node)] as SwimNodeRecord;
  }

  private boot(node: SimNode, seeds: readonly Address[]): void {
    const record = this.recordOf(node);
    const generation = (this.generations.get(node) ?? 0) + 1;
    this.generations.set(node, generation);
    // The core retries seeds outside its live view (retrySeeds).
    const shoal = bootSimNode(
      this.world,
      node,
      { kind: 'swim', seeds: [...seeds] },
      generation,
      this.internals,
    );
    this.observe(shoal, record, generation);
    shoal.on('member', (event) => {
      const subject = this.view.byId.get(event.member.id)?.name ?? event.member.id.slice(0, 8);
      this.world.trace.add(
        `${record.name} sees ${subject} ${event.type}@${event.member.incarnation}`,
      );
      this.events.push({
        observer: record.name,
        life: generation,
        atMs: this.world.clock.now(),
        subject: event.member.id,
        type: event.type,
        incarnation: event.member.incarnation,
      });
    });
    this.nodes.set(node, shoal);
    Object.assign(record, {
      up: true,
      startedAtMs: this.world.clock.now(),
      state: shoal.internals.membership?.state,
    });
  }
}

export const swim: Scenario<SwimView> = {
  name: 'swim',
  description:
    'every node built by buildNode in swim mode (the production wiring); checks invariants, false suspicions and deaths, crash detection and heal bounds',
  nodesMin: 2,
  setup: (world) => new SwimRun(world),
};

/** 10% packet and stream loss on every path during the safety phase. */
export const SWIM_LOSS10_PPM = 100_000;

export const swimLoss10: Scenario<SwimView> = {
  name: 'swim-loss10',
  description:
    'swim with 10% packet and frame loss on every path (plus --faults); no healthy member may be declared dead',
  nodesMin: 2,
  setup: (world) => new SwimRun(world, { lossPpm: SWIM_LOSS10_PPM, profile: 'LAN' }),
};

/** The LAN profile's timings (1 s probe interval, 500 ms probe timeout) on the simulated network. */
export const swimLan: Scenario<SwimView> = {
  name: 'swim-lan',
  description:
    'swim on the LAN profile timings (probe interval 1 s, timeout 500 ms): helpers must nack within the probe period',
  nodesMin: 3,
  setup: (world) => new SwimRun(world, { profile: 'LAN' }),
};
