/**
 * Scenarios `swim` and `swim-loss10`: every simulated node runs the real `MembershipDriver`
 * (src/membership/driver.ts) over `MemoryTransport` on the `SimNetwork`, with its own skewed
 * `NodeClock`, `SimStorage` and forked Rng: the production code path with the I/O swapped.
 *
 * - Boot: n1 starts alone, the others join through n1; a seed outside a node's live view is retried by
 *   the membership core's own `retrySeeds`, the same code production runs.
 * - Crash: the driver stops, the network and the disk lose their part. Restart: a new driver on
 *   the same NodeId and disk, starting above `readPersistedIncarnation` (SWIM §4.2: a restart
 *   must out-vote its earlier life), joining through every other node (the peer cache's role).
 * - `swim-loss10` raises packet and frame loss to 10% for the safety phase, on top of `--faults`.
 * - NodeIds are 32 hex characters drawn from the node's own Rng stream: no crypto needed.
 *
 * The checkers (swim-checkers.ts) run after every event; liveness is one view: every node up and
 * seeing exactly every node alive (restarted ones above their old incarnation).
 */
import type { Address } from '../../base/address.js';
import type { NodeId } from '../../identity/node-id.js';
import { membershipConfig, type MembershipConfig, type ProfileName } from '../../membership/config.js';
import { MembershipDriver, readPersistedIncarnation } from '../../membership/driver.js';
import { createState } from '../../membership/state.js';
import type { MembershipEvent } from '../../membership/types.js';
import { MemoryTransport } from '../../transport/memory.js';
import type { Rng } from '../../base/rng.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import { healBoundMs } from './swim-bounds.js';
import { describeSplitView, swimCheckers, type MemberObservation, type SwimNodeRecord, type SwimView } from './swim-checkers.js';

/** The cluster id every simulated member shares. */
export const SIM_CLUSTER_ID = 'sim';

/** 32 lowercase hex characters from `rng`: a deterministic stand-in for a key-derived NodeId. */
export function fakeNodeId(rng: Rng): NodeId {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += rng.next32().toString(16).padStart(8, '0');
  return hex as NodeId;
}

/** The config of the swim scenarios: a profile's timings, with member and queue limits that fit `nodes`. */
export function swimConfig(nodes: number, profile: ProfileName = 'SIM_MIN'): MembershipConfig {
  const base = membershipConfig(profile);
  return membershipConfig(profile, { membersMax: Math.max(base.membersMax, nodes + 1), broadcastQueueMax: Math.max(base.broadcastQueueMax, 2 * nodes) });
}

export interface SwimOptions {
  /** Packet and frame loss during the safety phase, ppm; undefined keeps the fault mix's. */
  lossPpm?: number;
  /** Timings profile. @defaultValue SIM_MIN */
  profile?: ProfileName;
}

export class SwimRun implements ScenarioRun<SwimView> {
  readonly view: SwimView;
  private readonly records: SwimNodeRecord[] = [];
  private readonly events: MemberObservation[] = [];
  private readonly drivers = new Map<SimNode, MembershipDriver>();
  private readonly generations = new Map<SimNode, number>();

  constructor(private readonly world: SimWorld, options: SwimOptions = {}) {
    const config = swimConfig(world.nodes.length, options.profile);
    for (const node of world.nodes) {
      this.records.push({ name: node.name, address: node.address, id: fakeNodeId(node.rng.fork('id')), up: false, startedAtMs: 0, crashedAtMs: undefined, incarnationBeforeCrash: undefined, state: undefined });
    }
    this.view = {
      faults: world.faults, config, nodes: this.records, byId: new Map(this.records.map((r) => [r.id, r])),
      events: this.events, stepped: new Set(), now: () => world.clock.now(), healedAtMs: undefined,
      extraLoss: options.lossPpm !== undefined && options.lossPpm > 0,
    };
    if (options.lossPpm !== undefined) world.network.setDefaultLink({ lossPpm: options.lossPpm, streamLossPpm: options.lossPpm });
    const first = world.nodes[0];
    for (const node of world.nodes) this.boot(node, node === first || first === undefined ? [] : [first.address]);
  }

  readonly checkers = swimCheckers();

  crashNode(node: SimNode): void {
    const record = this.recordOf(node);
    this.drivers.get(node)?.stop();
    this.drivers.delete(node);
    record.incarnationBeforeCrash = record.state?.members.get(record.id)?.incarnation;
    record.up = false;
    record.state = undefined;
    record.crashedAtMs = this.world.clock.now();
  }

  restartNode(node: SimNode): void {
    this.boot(node, this.world.nodes.filter((n) => n !== node).map((n) => n.address));
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

  private recordOf(node: SimNode): SwimNodeRecord {
    return this.records[this.world.nodes.indexOf(node)] as SwimNodeRecord;
  }

  private boot(node: SimNode, seeds: readonly Address[]): void {
    const record = this.recordOf(node);
    const generation = (this.generations.get(node) ?? 0) + 1;
    this.generations.set(node, generation);
    const state = createState(this.view.config, { id: record.id, name: node.name, address: node.address, labels: {} }, readPersistedIncarnation(node.storage), node.clock.now());
    const driver = new MembershipDriver({
      state, clock: node.clock, transport: new MemoryTransport(this.world.network, node.address),
      rng: node.rng.fork(`membership/${generation}`), storage: node.storage, clusterId: SIM_CLUSTER_ID,
      onEvent: (event) => this.observe(record, event),
      onTrace: () => this.view.stepped.add(record),
    });
    this.drivers.set(node, driver);
    Object.assign(record, { up: true, startedAtMs: this.world.clock.now(), state });
    void driver.start(seeds); // the core retries seeds outside its live view (retrySeeds)
  }

  private observe(record: SwimNodeRecord, event: MembershipEvent): void {
    if (event.type === 'epoch') return;
    const subject = this.view.byId.get(event.member.id)?.name ?? event.member.id.slice(0, 8);
    this.world.trace.add(`${record.name} sees ${subject} ${event.type}@${event.member.incarnation}`);
    this.events.push({ observer: record.name, subject: event.member.id, type: event.type, incarnation: event.member.incarnation });
  }
}

export const swim: Scenario<SwimView> = {
  name: 'swim',
  description: 'the real membership driver on every node; checks invariants, false suspicions and deaths, crash detection and heal bounds',
  nodesMin: 2,
  setup: (world) => new SwimRun(world),
};

/** 10% packet and stream loss on every path during the safety phase. */
export const SWIM_LOSS10_PPM = 100_000;

export const swimLoss10: Scenario<SwimView> = {
  name: 'swim-loss10',
  description: 'swim with 10% packet and frame loss on every path (plus --faults); no healthy member may be declared dead',
  nodesMin: 2,
  setup: (world) => new SwimRun(world, { lossPpm: SWIM_LOSS10_PPM, profile: 'LAN' }),
};
