/**
 * Scenario `election-raft-lite`: K nodes run the real RaftLiteDriver over MemoryTransport on the
 * simulated network, with their own skewed clocks and crash-model disks, under every fault.
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
import { toHex } from '../../base/hex.js';
import { RAFT_LITE_DEFAULTS, type RaftLiteConfig } from '../../election/raft-lite/config.js';
import { RaftLiteDriver } from '../../election/raft-lite/driver.js';
import type { NodeId } from '../../identity/node-id.js';
import { MemoryTransport } from '../../transport/memory.js';
import type { Checker } from '../checkers.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import { COLD_START_HEAL_AT_MS, minoritySide } from './election-static.js';

export interface RaftLiteView {
  readonly nodes: ReadonlyMap<Address, RaftLiteDriver | undefined>;
  readonly ids: ReadonlyMap<Address, NodeId>;
}

/** `cold-start-unsafe` is the bug itself (minClusterSize 2 of 5): its checker must fire. */
export type RaftLiteVariant = 'default' | 'cold-start' | 'cold-start-unsafe';

function simNodeId(node: SimNode): NodeId {
  const rng = node.rng.fork('node-id');
  return toHex(Uint8Array.from({ length: 16 }, () => rng.int(256))) as NodeId;
}

/** Election Safety: one leader per term over the whole run. */
export function oneLeaderPerTerm(): Checker<RaftLiteView> {
  const leaderOfTerm = new Map<number, NodeId>();
  return {
    name: 'one-leader-per-term',
    check(view) {
      for (const driver of view.nodes.values()) {
        if (driver === undefined || driver.state.role !== 'leader') continue;
        const known = leaderOfTerm.get(driver.state.term);
        if (known === undefined) leaderOfTerm.set(driver.state.term, driver.state.selfId);
        else if (known !== driver.state.selfId) return [`two leaders in term ${driver.state.term}: ${known} and ${driver.state.selfId}`];
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
      for (const [address, driver] of view.nodes) {
        if (driver === undefined) continue;
        const before = lastTerm.get(address) ?? 0;
        if (driver.state.term < before) return [`${address}: term went back from ${before} to ${driver.state.term}`];
        lastTerm.set(address, driver.state.term);
      }
      return [];
    },
  };
}

class RaftLiteRun implements ScenarioRun<RaftLiteView> {
  readonly view: { nodes: Map<Address, RaftLiteDriver | undefined>; ids: Map<Address, NodeId> };
  readonly checkers = [oneLeaderPerTerm(), termMonotonic()];
  private readonly config: RaftLiteConfig;

  constructor(private readonly world: SimWorld, private readonly variant: RaftLiteVariant) {
    // Cold start: minClusterSize is the whole cluster, so no node elects before it knows everyone
    // (a node knowing 3 of 5 would otherwise form its own "majority" of 2: failure story 3).
    const minClusterSize = variant === 'cold-start' ? world.nodes.length : Math.min(variant === 'default' ? 3 : 2, world.nodes.length);
    this.config = { ...RAFT_LITE_DEFAULTS, minClusterSize };
    this.view = { nodes: new Map(), ids: new Map(world.nodes.map((n) => [n.address, simNodeId(n)])) };
    if (variant !== 'default') {
      // Boot into a minority | majority partition: each side's joins spread only within it.
      const { minority, majority } = minoritySide(world);
      world.network.partition(minority, majority);
      world.clock.at(COLD_START_HEAL_AT_MS, () => world.network.heal());
    }
    for (const node of world.nodes) this.boot(node);
  }

  /** Bootstrap peers: everyone, or (cold start) only self and the next node in the ring. */
  private peersOf(node: SimNode): Address[] {
    const all = this.world.nodes.map((n) => n.address);
    if (this.variant === 'default') return all;
    const i = all.indexOf(node.address);
    return [node.address, all[(i + 1) % all.length] as Address];
  }

  private boot(node: SimNode): void {
    const transport = new MemoryTransport(this.world.network, node.address);
    const driver = new RaftLiteDriver({
      config: this.config, selfId: this.view.ids.get(node.address) as NodeId, transport, clock: node.clock, rng: node.rng.fork(`boot/${this.world.clock.now()}`),
      storage: node.storage, clusterId: 'sim', peers: this.peersOf(node), onLeader: () => undefined,
      onTrace: (line) => this.world.trace.add(`${node.name} ${line}`),
    });
    // Cold start: the ring's joins spread the cluster through leader heartbeats and join requests.
    if (this.variant !== 'default') for (const peer of this.peersOf(node)) driver.join(peer);
    this.view.nodes.set(node.address, driver);
  }

  crashNode(node: SimNode): void {
    this.view.nodes.get(node.address)?.stop();
    this.view.nodes.set(node.address, undefined);
  }

  restartNode(node: SimNode): void {
    this.boot(node);
  }

  startLiveness(): void {}

  livenessReached(): boolean {
    const drivers = [...this.view.nodes.values()];
    if (drivers.some((d) => d === undefined)) return false;
    const leaders = drivers.filter((d) => d?.state.role === 'leader');
    if (leaders.length !== 1) return false;
    const leader = leaders[0] as RaftLiteDriver;
    return drivers.every((d) => d?.leader()?.id === leader.state.selfId && d.state.term === leader.state.term);
  }

  describeLivenessFailure(): string {
    return [...this.view.nodes.entries()].map(([a, d]) => `${a}: ${d === undefined ? 'down' : `${d.state.role} t${d.state.term} leader=${d.state.leader?.id.slice(0, 6) ?? '-'}`}`).join('; ');
  }
}

export function makeRaftLiteScenario(variant: RaftLiteVariant): Scenario<RaftLiteView> {
  return {
    name: variant === 'default' ? 'election-raft-lite' : `election-raft-lite-${variant}`,
    description: 'raft-lite leader election under every fault: one leader per term, a leader again after the heal',
    nodesMin: 1,
    setup: (world) => new RaftLiteRun(world, variant),
  };
}

export const electionRaftLite = makeRaftLiteScenario('default');
export const electionRaftLiteColdStart = makeRaftLiteScenario('cold-start');
export const electionRaftLiteColdStartUnsafe = makeRaftLiteScenario('cold-start-unsafe');
