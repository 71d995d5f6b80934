/**
 * Scenario `election-raft-lite`: K nodes built by `buildNode` (sim-node.ts) in `raft-lite` mode
 * run the raft-lite core on the generic driver over MemoryTransport on the simulated network,
 * with their own skewed clocks and crash-model disks, under every fault.
 *
 * Safety, after every event (Raft §5.2 Election Safety): at most one leader per term, ever, across
 * crashes and restarts (the history of (term -> leader) is kept for the whole run), and every
 * node's term never decreases across a restart (the vote and term are fsynced before sending).
 * Liveness: after the heal, one leader, known with the same term by every node.
 *
 * `makeRaftLiteScenario(variant)` builds the named regression variants (docs/design/election.md):
 * `cold-start` boots each node knowing only itself and the next node of a ring, into a
 * minority | majority partition healed at t=4 s (failure story 3); join requests spread the
 * cluster (step.ts `onJoinRequest`), and no node elects before it knows all of it.
 */
import type { Address } from '../../base/address.js';
import type { State as RaftLiteState } from '../../election/raft-lite/types.js';
import type { NodeId } from '../../identity/node-id.js';
import type { ShoalNode } from '../../node/node.js';
import type { Checker } from '../checkers.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import { COLD_START_HEAL_AT_MS, minoritySide } from './election-static.js';
import { bootSimNode, simNodeId } from './sim-node.js';

export interface RaftLiteView {
  /** Each node's running life, or undefined while it is down. */
  readonly nodes: ReadonlyMap<Address, ShoalNode | undefined>;
  readonly ids: ReadonlyMap<Address, NodeId>;
}

/** The raft-lite state of a running node. */
function stateOf(node: ShoalNode | undefined): RaftLiteState | undefined {
  return node?.internals.raftLite?.state;
}

/**
 * `cold-start-unsafe` is the bug itself (minClusterSize 2 of 5): its checker must fire. `join`
 * (issue 11, bug 1): the first three nodes boot with each other's addresses and elect; the rest
 * boot later knowing only the third (`JOIN_SEED`), 10 ms apart, while that seed is cut off
 * from the first two for 1.5 s.
 */
export type RaftLiteVariant = 'default' | 'cold-start' | 'cold-start-unsafe' | 'join';

/** `join`: when the late nodes boot, and how long their seed is cut off from the first nodes. */
export const JOIN_AT_MS = 0;
export const JOIN_SPACING_MS = 10;
export const JOIN_SEED_CUT_MS = 1_500;
/** `join`: the first nodes, booted with each other's addresses; the seed is the last of them. */
const JOIN_FOUNDERS = 3;

/** Election Safety: one leader per term over the whole run. */
export function oneLeaderPerTerm(): Checker<RaftLiteView> {
  const leaderOfTerm = new Map<number, NodeId>();
  return {
    name: 'one-leader-per-term',
    check(view) {
      for (const node of view.nodes.values()) {
        const state = stateOf(node);
        if (state === undefined || state.role !== 'leader') continue;
        const known = leaderOfTerm.get(state.term);
        if (known === undefined) leaderOfTerm.set(state.term, state.selfId);
        else if (known !== state.selfId)
          return [`two leaders in term ${state.term}: ${known} and ${state.selfId}`];
      }
      return [];
    },
  };
}

/** Raft §5.1: a node's term never decreases, restarts included. */
function termMonotonic(): Checker<RaftLiteView> {
  const lastTerm = new Map<Address, number>();
  return {
    name: 'term-monotonic',
    check(view) {
      for (const [address, node] of view.nodes) {
        const state = stateOf(node);
        if (state === undefined) continue;
        const before = lastTerm.get(address) ?? 0;
        if (state.term < before)
          return [`${address}: term went back from ${before} to ${state.term}`];
        lastTerm.set(address, state.term);
      }
      return [];
    },
  };
}

class RaftLiteRun implements ScenarioRun<RaftLiteView> {
  readonly view: { nodes: Map<Address, ShoalNode | undefined>; ids: Map<Address, NodeId> };
  readonly checkers = [oneLeaderPerTerm(), termMonotonic()];
  private readonly minClusterSize: number;
  private readonly generations = new Map<Address, number>();

  constructor(
    private readonly world: SimWorld,
    private readonly variant: RaftLiteVariant,
  ) {
    // Cold start: minClusterSize is the whole cluster, so no node elects before it knows everyone
    // (a node knowing 3 of 5 would otherwise form its own "majority" of 2: failure story 3).
    this.minClusterSize =
      variant === 'cold-start'
        ? world.nodes.length
        : Math.min(variant === 'default' || variant === 'join' ? 3 : 2, world.nodes.length);
    this.view = {
      nodes: new Map(),
      ids: new Map(world.nodes.map((n) => [n.address, simNodeId(n)])),
    };
    if (variant === 'join') {
      this.setupJoin();
      return;
    }
    if (variant !== 'default') {
      // Boot into a minority | majority partition: each side's joins spread only within it.
      const { minority, majority } = minoritySide(world);
      world.network.partition(minority, majority);
      world.clock.at(COLD_START_HEAL_AT_MS, () => world.network.heal());
    }
    for (const node of world.nodes) this.boot(node);
  }

  private setupJoin(): void {
    const { world } = this;
    const founders = world.nodes.slice(0, JOIN_FOUNDERS);
    for (const node of founders) this.boot(node);
    const seed = founders[founders.length - 1] as SimNode;
    const others = founders.slice(0, -1).map((n) => n.address);
    world.clock.at(JOIN_AT_MS, () => {
      world.network.partition([seed.address], others);
      world.clock.at(JOIN_AT_MS + JOIN_SEED_CUT_MS, () => world.network.heal());
    });
    world.nodes.slice(JOIN_FOUNDERS).forEach((node, i) => {
      world.clock.at(JOIN_AT_MS + JOIN_SPACING_MS * i, () => this.boot(node));
    });
  }

  /**
   * Bootstrap peers: everyone; (cold start) only self and the next node in the ring; (join) the
   * founders for a founder, the seed alone for a late node.
   */
  private peersOf(node: SimNode): Address[] {
    const all = this.world.nodes.map((n) => n.address);
    if (this.variant === 'default') return all;
    if (this.variant === 'join') {
      const i = all.indexOf(node.address);
      return i < JOIN_FOUNDERS ? all.slice(0, JOIN_FOUNDERS) : [all[JOIN_FOUNDERS - 1] as Address];
    }
    const i = all.indexOf(node.address);
    return [node.address, all[(i + 1) % all.length] as Address];
  }

  private boot(node: SimNode): void {
    const generation = (this.generations.get(node.address) ?? 0) + 1;
    this.generations.set(node.address, generation);
    const mode = {
      kind: 'raft-lite' as const,
      peers: this.peersOf(node),
      minClusterSize: this.minClusterSize,
    };
    const shoal = bootSimNode(this.world, node, mode, generation, {
      onTrace: (_protocol, line) => this.world.trace.add(`${node.name} ${line}`),
    });
    // Cold start and late joiners: joins spread the cluster (leader heartbeats, join requests).
    if (this.variant !== 'default')
      for (const peer of this.peersOf(node)) shoal.raftLite?.join(peer);
    this.view.nodes.set(node.address, shoal);
  }

  crashNode(node: SimNode): void {
    if (!this.view.nodes.has(node.address)) return;
    this.view.nodes.get(node.address)?.halt();
    this.view.nodes.set(node.address, undefined);
  }

  restartNode(node: SimNode): void {
    if (!this.view.nodes.has(node.address)) return;
    this.boot(node);
  }

  startLiveness(): void {}

  livenessReached(): boolean {
    const nodes = [...this.view.nodes.values()];
    if (nodes.length < this.world.nodes.length || nodes.some((n) => n === undefined)) return false;
    const leaders = nodes.filter((n) => stateOf(n)?.role === 'leader');
    if (leaders.length !== 1) return false;
    const leader = stateOf(leaders[0]) as RaftLiteState;
    // Every node is in the leader's cluster: no joiner is stranded outside it (bug 2).
    if (leader.peers.size !== this.world.nodes.length) return false;
    return nodes.every(
      (n) => n?.leader()?.id === leader.selfId && stateOf(n)?.term === leader.term,
    );
  }

  describeLivenessFailure(): string {
    return [...this.view.nodes.entries()]
      .map(([a, n]) => {
        const s = stateOf(n);
        return `${a}: ${s === undefined ? 'down' : `${s.role} t${s.term} leader=${s.leader?.id.slice(0, 6) ?? '-'}`}`;
      })
      .join('; ');
  }
}

export function makeRaftLiteScenario(variant: RaftLiteVariant): Scenario<RaftLiteView> {
  return {
    name: variant === 'default' ? 'election-raft-lite' : `election-raft-lite-${variant}`,
    description:
      'raft-lite leader election under every fault: one leader per term, a leader again after the heal',
    nodesMin: variant === 'join' ? JOIN_FOUNDERS + 1 : 1,
    setup: (world) => new RaftLiteRun(world, variant),
  };
}

export const electionRaftLite = makeRaftLiteScenario('default');
export const electionRaftLiteColdStart = makeRaftLiteScenario('cold-start');
export const electionRaftLiteColdStartUnsafe = makeRaftLiteScenario('cold-start-unsafe');
export const electionRaftLiteJoin = makeRaftLiteScenario('join');
