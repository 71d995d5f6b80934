/**
 * Scenarios `election-swim*`: every node is built by `buildNode` in `swim` mode (sim-node.ts):
 * the membership core and the sticky-HRW leader core (src/election/swim) on the generic driver,
 * over MemoryTransport on the SimNetwork with its own skewed NodeClock, SimStorage and forked Rng. Nodes boot staggered with every
 * other node as a seed (the membership core retries seeds outside its view); a restart keeps the NodeId and the disk.
 *
 * Checkers after every event (election-checkers.ts): members whose live view (ids and claims)
 * is the same and holds a majority name one leader; with requireQuorum, a node no majority has
 * reached (both ways: SWIM needs acks) for longer than the crash-detection bound has no leader;
 * the fencing term never decreases on a node, restarts included. Liveness: after the heal,
 * one leader and one term known by every node.
 *
 * Variants (docs/design/election.md, "The three regressions"): `ap` (requireQuorum off: the
 * minority check does not apply); `epoch-disagreement` (story 1: boots spread over 2 s and
 * early crashes give every node a different membership epoch; they must still agree);
 * `lone-minority` (story 2: n1 cut off alone from t=3 s; `-unsafe` runs it without
 * requireQuorum and the minority checker must fire); `cold-start` (story 3: boot into a
 * minority | majority partition healed at t=4 s; `-unsafe`, minClusterSize 1 and no quorum,
 * must be caught electing in the minority).
 */
import type { FaultTargets } from '../faults.js';
import { parentDir } from '../../base/storage.js';
import type { Address } from '../../base/address.js';
import { swimLeaderConfig, type SwimLeaderConfig } from '../../election/swim/config.js';
import { parseClaim } from '../../election/swim/claim.js';
import { SWIM_LEADER_STORE } from '../../election/swim/protocol.js';
import type { MembershipConfig } from '../../membership/config.js';
import type { ShoalNode } from '../../node/node.js';
import type { NodeInternals } from '../../node/runtime.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import {
  describeNoAgreement,
  leadersOverlap,
  leaderTermMonotonic,
  noLeaderInMinority,
  sharedViewOneLeader,
  type ElectionNodeRecord,
  type ElectionView,
  currentLeader,
} from './election-checkers.js';
import { COLD_START_HEAL_AT_MS, minoritySide, STORY_PARTITION_AT_MS } from './election-static.js';
import { bootSimNode, simNodeId } from './sim-node.js';
import { crashDetectionBoundMs, isolationBoundMs } from './swim-bounds.js';
import { swimConfig, swimInternals } from './swim.js';

export type SwimElectionVariant =
  | 'default'
  | 'ap'
  | 'epoch-disagreement'
  | 'lone-minority'
  | 'lone-minority-unsafe'
  | 'cold-start'
  | 'cold-start-unsafe'
  | 'restart-minority'
  | 'restart-minority-unsafe';

/**
 * First boot, global ms: after the largest negative skew (500 ms) has passed, so no node's local
 * clock is still clamped at 0 (SimClock cannot map a 0 ms timer at local time 0 back to global time).
 */
const BOOT_AT_MS = 600;

/** The swim mode of a variant for a cluster of `n`: quorum and the cold-start floor at n, unless the variant is the bug. */
export function swimElectionMode(
  variant: SwimElectionVariant,
  n: number,
): { requireQuorum: boolean; minClusterSize: number } {
  // Bug 4's cluster: the least minClusterSize validation accepts, so the quorum rests on the
  // stable size the nodes persisted.
  if (variant.startsWith('restart-minority')) return { requireQuorum: true, minClusterSize: 2 };
  const unsafe = variant.endsWith('-unsafe') || variant === 'ap';
  return { requireQuorum: !unsafe, minClusterSize: variant.endsWith('-unsafe') ? 1 : n };
}

/** Latency a lease ping and its ack may spend on the simulated links (jitter and reorder included). */
const LEASE_LATENCY_SLACK_MS = 50;

/** When `restart-minority` crashes a minority, and how long it stays down (global ms). */
export const RESTART_MINORITY_AT_MS = 5_000;
const RESTART_MINORITY_DOWN_MS = 300;

class SwimElectionRun implements ScenarioRun<ElectionView> {
  readonly view: ElectionView;
  /** Crashes per node: a deferred boot is dropped when the node crashed again meanwhile. */
  private readonly crashes = new Map<Address, number>();
  readonly checkers;
  private readonly running = new Map<Address, ShoalNode>();
  private readonly membershipConfig: MembershipConfig;
  private readonly leaderConfig: SwimLeaderConfig;
  private readonly internals: NodeInternals;
  private readonly generations = new Map<Address, number>();
  /** The term of each node's last leader event. */
  private readonly reportedTerms = new Map<Address, number>();
  /** Nodes that have seen the whole cluster stable, in any life (restart-minority). */
  private readonly sawWhole = new Set<Address>();

  constructor(
    private readonly world: SimWorld,
    private readonly variant: SwimElectionVariant,
  ) {
    const n = world.nodes.length;
    this.internals = swimInternals(n);
    this.membershipConfig = swimConfig(n);
    // The wiring derives the stabilization window the same way (election/swim/config.ts).
    this.leaderConfig = swimLeaderConfig(
      swimElectionMode(variant, n),
      this.membershipConfig.probeIntervalMs,
    );
    // A drift of ±1000 ppm over the bound, plus the re-evaluation turn: 5% covers both.
    const boundMs = Math.ceil(
      (crashDetectionBoundMs(this.membershipConfig, n) + this.leaderConfig.stabilizationMs) * 1.05,
    );
    // A leader cut off from its majority steps down once it holds enough peers suspect.
    const minorityBoundMs = Math.ceil(isolationBoundMs(this.membershipConfig, n) * 1.05);
    this.view = {
      nodes: world.nodes.map((node) => this.record(node)),
      network: world.network,
      now: () => world.clock.now(),
      minorityBoundMs,
      reach: 'both',
      boundFromResume: true,
    };
    // `ap` is AP by design: a minority side may lead; the others keep the quorum property even when their config is the bug.
    this.checkers =
      variant === 'ap'
        ? [sharedViewOneLeader(), leaderTermMonotonic()]
        : [
            sharedViewOneLeader(),
            noLeaderInMinority(),
            // Bug 5's lease: a claimant cut off from its majority lets go within the lease and
            // one lease round (drift and a few ms of latency on top).
            noLeaderInMinority({
              name: 'claimant-holds-a-lease',
              claimantsOnly: true,
              boundMs:
                Math.ceil((this.leaderConfig.leaseMs + this.leaderConfig.leaseIntervalMs) * 1.05) +
                LEASE_LATENCY_SLACK_MS,
            }),
            leaderTermMonotonic(),
            leadersOverlap(boundMs),
          ];
    this.arrange();
  }

  private record(node: SimNode): ElectionNodeRecord {
    const of = (): ShoalNode | undefined => this.running.get(node.address);
    const live = (): string[] => {
      const shoal = of();
      const state = shoal?.internals.membership?.state;
      if (state === undefined) return [];
      // The node's own claim as its leader core holds it: its label is published only once the
      // claimed term is durable, and the core already leads by it (withOwnClaim in swim/step.ts).
      const ownClaim = shoal?.internals.swimLeader?.state.claim;
      const out: string[] = [];
      for (const m of state.members.values())
        if (m.state === 'alive' || m.state === 'suspect')
          out.push(`${m.id}:${(m.id === state.selfId ? ownClaim : parseClaim(m.labels)) ?? '-'}`);
      return out.sort();
    };
    return {
      name: node.name,
      address: node.address,
      id: simNodeId(node),
      up: false,
      // The core's decision (what the view check judges); node.leader() lags it by the write.
      leader: () => of()?.internals.swimLeader?.state.leader,
      // What the node published (durable first), not its core's state, which runs ahead of the disk.
      term: () => this.reportedTerms.get(node.address) ?? 0,
      viewKey: () => live().join(','),
      viewSize: () => live().length,
      judged: () => {
        // restart-minority runs with minClusterSize 2, which guards a cold start only weakly
        // (documented): its promise is that a node which saw the whole cluster never leads a
        // minority again, restarts included. Remembered here across lives.
        if (!this.variant.startsWith('restart-minority')) return true;
        // Judged once the whole cluster's size is on its disk (a size the node held only in
        // memory, its write failed, is not a promise it can keep across a restart).
        const size = of()?.internals.swimLeader?.state.stableSize ?? 0;
        if (
          size >= this.world.nodes.length &&
          !this.sawWhole.has(node.address) &&
          SWIM_LEADER_STORE.load(node.storage).stableSize >= this.world.nodes.length
        )
          this.sawWhole.add(node.address);
        return this.sawWhole.has(node.address);
      },
    };
  }

  private arrange(): void {
    const { world, variant } = this;
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
    }
    if (variant.startsWith('restart-minority')) {
      // Issue 11 bug 4: a minority restarts into a partition after the cluster was seen whole.
      // The -unsafe variant loses the persisted stable size in the crash (its data dir keeps
      // only the term), which is what the nodes had before the fix.
      const { minority, majority } = minoritySide(world);
      world.clock.at(RESTART_MINORITY_AT_MS, () => {
        world.network.partition(minority, majority);
        for (const node of world.nodes.filter((n) => minority.includes(n.address))) {
          world.network.crash(node.address);
          node.storage.crash();
          this.crashNode(node);
          if (variant.endsWith('-unsafe')) forgetStableSize(node);
          world.clock.at(RESTART_MINORITY_AT_MS + RESTART_MINORITY_DOWN_MS, () =>
            this.restartNode(node),
          );
        }
      });
    }
    const spreadMs = variant === 'epoch-disagreement' ? 400 : 137;
    world.nodes.forEach((node, i) =>
      world.clock.at(BOOT_AT_MS + i * spreadMs, () => this.firstBoot(node)),
    );
    if (variant === 'epoch-disagreement') {
      // Early crash-restarts of every second node: more epoch changes seen by some than others.
      world.nodes.forEach((node, i) => {
        if (i % 2 === 0) return;
        // Only a node that is up: the nemesis may hold it crashed already (and restarts it).
        let crashed = false;
        world.clock.at(BOOT_AT_MS + i * spreadMs + 600, () => {
          if (!this.running.has(node.address)) return;
          crashed = true;
          world.network.crash(node.address);
          node.storage.crash();
          this.crashNode(node);
        });
        world.clock.at(BOOT_AT_MS + i * spreadMs + 900, () => {
          if (crashed && !this.running.has(node.address)) this.restartNode(node);
        });
      });
    }
  }

  private boot(node: SimNode): void {
    const record = this.view.nodes[this.world.nodes.indexOf(node)] as ElectionNodeRecord;
    const generation = (this.generations.get(node.address) ?? 0) + 1;
    this.generations.set(node.address, generation);
    const seeds = this.world.nodes.filter((n) => n !== node).map((n) => n.address);
    const mode = {
      kind: 'swim' as const,
      seeds,
      ...swimElectionMode(this.variant, this.world.nodes.length),
    };
    const shoal = bootSimNode(this.world, node, mode, generation, this.internals);
    shoal.on('leader', (e) => {
      this.reportedTerms.set(node.address, e.term);
      this.world.trace.add(
        `${node.name} leader ${e.leader === undefined ? 'none' : e.leader.slice(0, 6)} t${e.term}`,
      );
    });
    this.running.set(node.address, shoal);
    record.up = true;
  }

  /** A node the nemesis crashed before its first boot is booted by the nemesis' restart instead. */
  private firstBoot(node: SimNode): void {
    if (!this.crashes.has(node.address)) this.boot(node);
  }

  crashNode(node: SimNode): void {
    const record = this.view.nodes[this.world.nodes.indexOf(node)] as ElectionNodeRecord;
    this.crashes.set(node.address, (this.crashes.get(node.address) ?? 0) + 1);
    this.running.get(node.address)?.halt();
    this.running.delete(node.address);
    record.up = false;
  }

  /** A restart before BOOT_AT_MS waits for it, unless the node crashes again meanwhile. */
  restartNode(node: SimNode): void {
    // The epoch-disagreement script may have restarted a node the nemesis also crashed.
    if (this.running.has(node.address)) return;
    const now = this.world.clock.now();
    if (now >= BOOT_AT_MS) return this.boot(node);
    const lives = this.crashes.get(node.address);
    this.world.clock.at(BOOT_AT_MS, () => {
      if (this.crashes.get(node.address) === lives) this.boot(node);
    });
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

/** Rewrites a node's leader record with the stable size of a fresh node (the bug-4 amnesia). */
function forgetStableSize(node: SimNode): void {
  const record = SWIM_LEADER_STORE.load(node.storage);
  const write = SWIM_LEADER_STORE.write({ term: record.term, stableSize: 1 });
  node.storage.writeFile(write.path, write.data);
  node.storage.fsync(write.path);
  node.storage.fsyncDir(parentDir(write.path));
}

export function makeSwimElectionScenario(variant: SwimElectionVariant): Scenario<ElectionView> {
  return {
    name: variant === 'default' ? 'election-swim' : `election-swim-${variant}`,
    description:
      'swim sticky-HRW leader election (real membership and leader drivers) under every fault: one leader per shared view, none in a minority (requireQuorum), a leader again after the heal',
    nodesMin: 3,
    setup: (world) => new SwimElectionRun(world, variant),
  };
}

export const electionSwim = makeSwimElectionScenario('default');
export const electionSwimAp = makeSwimElectionScenario('ap');
export const electionSwimEpochDisagreement = makeSwimElectionScenario('epoch-disagreement');
export const electionSwimLoneMinority = makeSwimElectionScenario('lone-minority');
export const electionSwimLoneMinorityUnsafe = makeSwimElectionScenario('lone-minority-unsafe');
export const electionSwimColdStart = makeSwimElectionScenario('cold-start');
export const electionSwimColdStartUnsafe = makeSwimElectionScenario('cold-start-unsafe');
export const electionSwimRestartMinority = makeSwimElectionScenario('restart-minority');
export const electionSwimRestartMinorityUnsafe =
  makeSwimElectionScenario('restart-minority-unsafe');
