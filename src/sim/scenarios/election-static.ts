/**
 * Scenarios `election-static*`: every node runs the real StaticDriver (src/election/static)
 * over MemoryTransport on the SimNetwork, with its own skewed NodeClock and crash-model
 * SimStorage, configured with the full peer list as production is.
 *
 * Checkers after every event (election-checkers.ts): nodes that see the same healthy set holding
 * a majority name one leader; a node cut off from a majority for longer than
 * failureThresholdMs (plus drift and in-flight slack) has no leader; the fencing term never
 * decreases on a node, restarts included. Liveness: after the heal, one leader and one term
 * known by every node.
 *
 * Named variants (docs/design/election.md, "The three regressions"):
 * - `term-disagreement` (story 1): nodes boot with different persisted terms and must still
 *   agree on one leader and converge on one term;
 * - `lone-minority` (story 2): n1 is cut off alone from t=3 s; `-unsafe` runs it with
 *   requireQuorum off, and the minority checker must fire;
 * - `cold-start` (story 3): nodes boot, staggered, into a minority | majority partition healed
 *   at t=4 s; `-unsafe` (requireQuorum off) must be caught electing in the minority.
 */
import type { Address } from '../../base/address.js';
import { StaticDriver, STATIC_TERM_FILE } from '../../election/static/driver.js';
import type { StaticConfig } from '../../election/static/step.js';
import { compareNodeId } from '../../identity/node-id.js';
import { MemoryTransport } from '../../transport/memory.js';
import { shortName } from '../trace.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import { describeNoAgreement, leaderTermMonotonic, noLeaderInMinority, sharedViewOneLeader, type ElectionNodeRecord, type ElectionView } from './election-checkers.js';
import { fakeNodeId, SIM_CLUSTER_ID } from './swim.js';

export type StaticVariant = 'default' | 'term-disagreement' | 'lone-minority' | 'lone-minority-unsafe' | 'cold-start' | 'cold-start-unsafe';

/** Production defaults (options.ts): 1 s failure threshold, 200 ms heartbeats. */
export const STATIC_SIM_CONFIG: Readonly<StaticConfig> = { failureThresholdMs: 1_000, heartbeatIntervalMs: 200, requireQuorum: true };

/** When the story variants cut the network, and when cold start heals it. */
export const STORY_PARTITION_AT_MS = 3_000;
export const COLD_START_HEAL_AT_MS = 4_000;

/**
 * The threshold with drift (±1000 ppm under `skew`), plus two heartbeat intervals: a stall
 * shorter than `stallGapMs` (1.5 intervals) goes unnoticed and its queued heartbeats look fresh,
 * and a heartbeat may still be in flight (latency, reorder) when its path is cut.
 */
function minorityBoundMs(config: StaticConfig): number {
  return Math.ceil(config.failureThresholdMs * 1.002) + 2 * config.heartbeatIntervalMs;
}

/** The minority side of a story partition: floor((n - 1) / 2) nodes, at least one. */
export function minoritySide(world: SimWorld): { minority: Address[]; majority: Address[] } {
  const all = world.nodes.map((n) => n.address);
  const cut = Math.max(1, Math.floor((all.length - 1) / 2));
  return { minority: all.slice(0, cut), majority: all.slice(cut) };
}

class StaticRun implements ScenarioRun<ElectionView> {
  readonly view: ElectionView;
  private readonly crashedBeforeBoot = new Set<Address>();
  readonly checkers = [sharedViewOneLeader(), noLeaderInMinority(), leaderTermMonotonic()];
  private readonly drivers = new Map<Address, StaticDriver>();
  private readonly config: StaticConfig;

  constructor(private readonly world: SimWorld, private readonly variant: StaticVariant) {
    this.config = { ...STATIC_SIM_CONFIG, requireQuorum: !variant.endsWith('-unsafe') };
    const records = world.nodes.map((n) => this.record(n));
    this.view = { nodes: records, network: world.network, now: () => world.clock.now(), minorityBoundMs: minorityBoundMs(this.config), reach: 'inbound', boundFromResume: false };
    this.arrange();
  }

  private record(node: SimNode): ElectionNodeRecord {
    const driver = (): StaticDriver | undefined => this.drivers.get(node.address);
    return {
      name: node.name, address: node.address, id: fakeNodeId(node.rng.fork('id')), up: false,
      leader: () => driver()?.leader(),
      term: () => driver()?.state.term ?? 0,
      viewKey: () => healthyIds(driver()).join(','),
      viewSize: () => healthyIds(driver()).length,
    };
  }

  /** The variant's story: boot times, persisted terms, partitions. */
  private arrange(): void {
    const { world, variant } = this;
    if (variant === 'term-disagreement') {
      world.nodes.forEach((node, i) => writeTerm(node, 10 * (world.nodes.length - i)));
    }
    if (variant.startsWith('lone-minority')) {
      const [first, ...rest] = world.nodes.map((n) => n.address);
      world.clock.at(STORY_PARTITION_AT_MS, () => world.network.partition([first as Address], rest));
    }
    if (variant.startsWith('cold-start')) {
      const { minority, majority } = minoritySide(world);
      world.network.partition(minority, majority);
      world.clock.at(COLD_START_HEAL_AT_MS, () => world.network.heal());
      world.nodes.forEach((node, i) => world.clock.at(i * 137, () => this.firstBoot(node)));
      return;
    }
    for (const node of world.nodes) this.boot(node);
  }

  private boot(node: SimNode): void {
    const record = this.view.nodes[this.world.nodes.indexOf(node)] as ElectionNodeRecord;
    const driver = new StaticDriver({
      config: this.config, selfId: record.id, transport: new MemoryTransport(this.world.network, node.address),
      clock: node.clock, storage: node.storage, clusterId: SIM_CLUSTER_ID, peers: this.world.nodes.map((n) => n.address),
      onLeader: (leader, term) => this.world.trace.add(`${node.name} leader ${leader === undefined ? 'none' : shortId(leader.id)} t${term}`),
      onMember: (type, address) => this.world.trace.add(`${node.name} sees ${shortName(address)} ${type}`),
    });
    this.drivers.set(node.address, driver);
    record.up = true;
  }

  /** A node the nemesis crashed before its first boot is booted by the nemesis' restart instead. */
  private firstBoot(node: SimNode): void {
    if (!this.crashedBeforeBoot.has(node.address)) this.boot(node);
  }

  crashNode(node: SimNode): void {
    const record = this.view.nodes[this.world.nodes.indexOf(node)] as ElectionNodeRecord;
    if (!record.up) this.crashedBeforeBoot.add(node.address);
    this.drivers.get(node.address)?.stop();
    this.drivers.delete(node.address);
    record.up = false;
  }

  restartNode(node: SimNode): void {
    this.boot(node);
  }

  startLiveness(): void {}

  livenessReached(): boolean {
    return describeNoAgreement(this.view) === undefined;
  }

  describeLivenessFailure(): string {
    return describeNoAgreement(this.view) ?? 'agreed';
  }
}

const shortId = (id: string): string => id.slice(0, 6);

/** Self and every healthy peer, sorted: the input of static's lowest-id rule. */
function healthyIds(driver: StaticDriver | undefined): string[] {
  if (driver === undefined) return [];
  const ids = [driver.state.selfId, ...[...driver.state.heard.values()].filter((r) => r.healthy).map((r) => r.id)];
  return ids.sort(compareNodeId);
}

/** A term left on disk by an earlier life, written as the driver writes it. */
function writeTerm(node: SimNode, term: number): void {
  node.storage.writeFile(STATIC_TERM_FILE, new TextEncoder().encode(String(term)));
  node.storage.fsync(STATIC_TERM_FILE);
}

export function makeStaticScenario(variant: StaticVariant): Scenario<ElectionView> {
  return {
    name: variant === 'default' ? 'election-static' : `election-static-${variant}`,
    description: 'static leader election (real driver) under every fault: one leader per shared majority view, none in a minority, a leader again after the heal',
    nodesMin: 3,
    setup: (world) => new StaticRun(world, variant),
  };
}

export const electionStatic = makeStaticScenario('default');
export const electionStaticTermDisagreement = makeStaticScenario('term-disagreement');
export const electionStaticLoneMinority = makeStaticScenario('lone-minority');
export const electionStaticLoneMinorityUnsafe = makeStaticScenario('lone-minority-unsafe');
export const electionStaticColdStart = makeStaticScenario('cold-start');
export const electionStaticColdStartUnsafe = makeStaticScenario('cold-start-unsafe');
