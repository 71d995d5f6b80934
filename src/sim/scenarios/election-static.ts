/**
 * Scenarios `election-static*`: every node is built by `buildNode` (sim-node.ts) in `static`
 * mode, so it runs the static core (src/election/static) on the generic driver over
 * MemoryTransport on the SimNetwork, with its own skewed NodeClock and crash-model SimStorage,
 * configured with the full peer list as production is.
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
import type { FaultTargets } from '../faults.js';
import { parentDir } from '../../base/storage.js';
import type { Address } from '../../base/address.js';
import { staticConfig, type StaticConfig } from '../../election/static/config.js';
import { STATIC_TERM_FILE } from '../../election/static/protocol.js';
import { healthyIds } from '../../election/static/step.js';
import type { ShoalNode } from '../../node/node.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import {
  describeNoAgreement,
  leaderTermMonotonic,
  noLeaderInMinority,
  sharedViewOneLeader,
  type ElectionNodeRecord,
  type ElectionView,
  currentLeader,
} from './election-checkers.js';
import { bootSimNode, simNodeId } from './sim-node.js';

export type StaticVariant =
  | 'default'
  | 'term-disagreement'
  | 'lone-minority'
  | 'lone-minority-unsafe'
  | 'cold-start'
  | 'cold-start-unsafe';

/** When the story variants cut the network, and when cold start heals it. */
export const STORY_PARTITION_AT_MS = 3_000;
export const COLD_START_HEAL_AT_MS = 4_000;

/**
 * The threshold with drift (±1000 ppm under `skew`), plus two heartbeat intervals: a peer stays
 * healthy `failureThresholdMs + heartbeatIntervalMs` after the heartbeat of ours it last echoed
 * (static/step.ts `healthWindowMs`), which left no later than the path was cut, and the node
 * re-evaluates at its next step.
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
  /** The term of each node's last leader event. */
  private readonly reportedTerms = new Map<Address, number>();
  readonly view: ElectionView;
  private readonly crashedBeforeBoot = new Set<Address>();
  readonly checkers = [sharedViewOneLeader(), noLeaderInMinority(), leaderTermMonotonic()];
  private readonly nodes = new Map<Address, ShoalNode>();
  private readonly generations = new Map<Address, number>();
  private readonly requireQuorum: boolean;

  constructor(
    private readonly world: SimWorld,
    private readonly variant: StaticVariant,
  ) {
    this.requireQuorum = !variant.endsWith('-unsafe');
    // The production defaults (election/static/config.ts), as the wiring resolves them.
    const config = staticConfig({ requireQuorum: this.requireQuorum }, world.nodes.length);
    const records = world.nodes.map((n) => this.record(n));
    this.view = {
      nodes: records,
      network: world.network,
      now: () => world.clock.now(),
      minorityBoundMs: minorityBoundMs(config),
      reach: 'inbound',
      boundFromResume: false,
    };
    this.arrange();
  }

  private record(node: SimNode): ElectionNodeRecord {
    const state = () => this.nodes.get(node.address)?.internals.static?.state;
    const healthy = (): string[] => {
      const s = state();
      return s === undefined ? [] : healthyIds(s);
    };
    return {
      name: node.name,
      address: node.address,
      id: simNodeId(node),
      up: false,
      // The core's decision (what the view check judges); node.leader() lags it by the write.
      leader: () => {
        const s = state();
        return s === undefined || s.leader === undefined
          ? undefined
          : { id: s.leader, term: s.term };
      },
      // What the node published (durable first), not its core's state.
      term: () => this.reportedTerms.get(node.address) ?? 0,
      viewKey: () => healthy().join(','),
      viewSize: () => healthy().length,
      judged: () => true,
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
      world.clock.at(STORY_PARTITION_AT_MS, () =>
        world.network.partition([first as Address], rest),
      );
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
    const generation = (this.generations.get(node.address) ?? 0) + 1;
    this.generations.set(node.address, generation);
    const mode = {
      kind: 'static' as const,
      peers: this.world.nodes.map((n) => n.address),
      requireQuorum: this.requireQuorum,
    };
    const shoal = bootSimNode(this.world, node, mode, generation);
    shoal.on('leader', (e) => {
      this.reportedTerms.set(node.address, e.term);
      this.world.trace.add(
        `${node.name} leader ${e.leader === undefined ? 'none' : shortId(e.leader)} t${e.term}`,
      );
    });
    this.nodes.set(node.address, shoal);
    record.up = true;
  }

  /** A node the nemesis crashed before its first boot is booted by the nemesis' restart instead. */
  private firstBoot(node: SimNode): void {
    if (!this.crashedBeforeBoot.has(node.address)) this.boot(node);
  }

  crashNode(node: SimNode): void {
    const record = this.view.nodes[this.world.nodes.indexOf(node)] as ElectionNodeRecord;
    if (!record.up) this.crashedBeforeBoot.add(node.address);
    this.nodes.get(node.address)?.halt();
    this.nodes.delete(node.address);
    record.up = false;
  }

  restartNode(node: SimNode): void {
    this.boot(node);
  }

  faultTargets(): FaultTargets {
    const leader = currentLeader(this.view);
    return leader === undefined ? {} : { leader };
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

/** A term left on disk by an earlier life, written as the static store writes it. */
function writeTerm(node: SimNode, term: number): void {
  node.storage.writeFile(STATIC_TERM_FILE, new TextEncoder().encode(String(term)));
  node.storage.fsync(STATIC_TERM_FILE);
  node.storage.fsyncDir(parentDir(STATIC_TERM_FILE));
}

export function makeStaticScenario(variant: StaticVariant): Scenario<ElectionView> {
  return {
    name: variant === 'default' ? 'election-static' : `election-static-${variant}`,
    description:
      'static leader election (real driver) under every fault: one leader per shared majority view, none in a minority, a leader again after the heal',
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
