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
import type { FaultTargets } from '../faults.js';
import type { Address } from '../../base/address.js';
import type { ProtocolTypes } from '../../base/protocol.js';
import type { Rng } from '../../base/rng.js';
import type { ElectionMessage } from '../../election/messages.js';
import type { State as RaftLiteState } from '../../election/raft-lite/types.js';
import type { Boundary } from '../../node/runtime.js';
import type { NodeId } from '../../identity/node-id.js';
import type { ShoalNode } from '../../node/node.js';
import type { Checker } from '../checkers.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import { majorityOf } from '../../election/quorum.js';
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

/**
 * What left each node, observed at the driver's `sent` boundary (the network's view, not the
 * core's): the highest term of any message, and the vote granted in each term.
 */
/** A sent message with its destination (a grant names its candidate by address). */
type SentMessage = ElectionMessage & { to?: Address };

export class SentLog {
  readonly termSent = new Map<Address, number>();
  /** By voter, then term: the candidate the vote went to (its address, and its NodeId when known). */
  readonly granted = new Map<Address, Map<number, { address: Address; id: NodeId | undefined }>>();
  /**
   * Who asked for votes, by `term@address`: a grant answers a request from that address in that
   * term. Two NodeIds there (an identity lost to amnesia, then its successor) leave it unknown.
   */
  private readonly requests = new Map<string, NodeId | null>();

  /** Amnesia: the address is a new node now; what its old identity sent was another node's. */
  forget(address: Address): void {
    this.termSent.delete(address);
    this.granted.delete(address);
  }

  record(address: Address, message: SentMessage): void {
    if (!('term' in message)) return;
    // A pre-vote names the term it proposes (or echoes it), not one the sender is in.
    if ('preVote' in message && message.preVote) return;
    if (message.term > (this.termSent.get(address) ?? 0)) this.termSent.set(address, message.term);
    if (message.type === 'vote-request') {
      const key = `${message.term}@${address}`;
      const known = this.requests.get(key);
      this.requests.set(key, known === undefined || known === message.from ? message.from : null);
      return;
    }
    if (message.type !== 'vote-response' || !message.granted || message.to === undefined) return;
    let votes = this.granted.get(address);
    if (votes === undefined) this.granted.set(address, (votes = new Map()));
    const id = this.requests.get(`${message.term}@${message.to}`) ?? undefined;
    votes.set(message.term, { address: message.to, id });
  }
}

/**
 * Raft §5.1 across restarts: a node's term is never below a term it already sent in a message
 * (a term only in memory may be lost by a crash; one that left must have been durable).
 */
function termNeverBelowSent(sent: SentLog): Checker<RaftLiteView> {
  return {
    name: 'term-monotonic',
    check(view) {
      for (const [address, node] of view.nodes) {
        const state = stateOf(node);
        const before = sent.termSent.get(address) ?? 0;
        if (state !== undefined && state.term < before)
          return [`${address}: term ${state.term} is below term ${before} it already sent`];
      }
      return [];
    },
  };
}

/**
 * One vote per term per node across restarts (Raft §5.2): once a grant for term T left a node,
 * while that node is in term T it remembers voting for that candidate.
 */
function oneVotePerTerm(sent: SentLog): Checker<RaftLiteView> {
  return {
    name: 'one-vote-per-term',
    check(view) {
      for (const [address, node] of view.nodes) {
        const state = stateOf(node);
        if (state === undefined) continue;
        const votes = sent.granted.get(address);
        const granted = votes?.get(state.term);
        if (granted === undefined) continue;
        const candidate = granted.id;
        if (candidate !== undefined && state.votedFor !== candidate)
          return [
            `${address} granted its term-${state.term} vote to ${candidate} but now holds votedFor ${String(state.votedFor)} in that term`,
          ];
      }
      return [];
    },
  };
}

/**
 * A leader won its term (Raft §5.2): the grants for that term that left its configuration's
 * members for its address, itself counted, are a majority of that configuration. Counted from
 * what was sent, so a grant lost on the way still counts: only too few votes cast fails.
 */
function leaderWonMajority(sent: SentLog): Checker<RaftLiteView> {
  const checked = new Set<string>();
  return {
    name: 'leader-won-a-majority',
    check(view) {
      for (const [address, node] of view.nodes) {
        const state = stateOf(node);
        if (state === undefined || state.role !== 'leader') continue;
        const key = `${address}@${state.term}`;
        if (checked.has(key)) continue;
        checked.add(key);
        const voters = [...state.peers].filter((peer) => {
          if (peer === address) return true;
          const grant = sent.granted.get(peer)?.get(state.term);
          // An unknown requester (two identities asked from that address) is given the benefit.
          return grant?.address === address && (grant.id ?? state.selfId) === state.selfId;
        });
        if (voters.length < majorityOf(state.peers.size))
          return [
            `${address} leads term ${state.term} with the votes of ${voters.join(' ')} only, ${voters.length} of a configuration of ${state.peers.size}`,
          ];
      }
      return [];
    },
  };
}

/** Log Matching for the configuration: one member set per configuration id, cluster-wide. */
function oneConfigPerId(): Checker<RaftLiteView> {
  const members = new Map<string, string>();
  return {
    name: 'one-config-per-id',
    check(view) {
      for (const [address, node] of view.nodes) {
        const state = stateOf(node);
        if (state === undefined || state.configVersion === 0) continue;
        const id = `${state.configTerm}.${state.configVersion}`;
        const set = [...state.peers]
          .sort()
          .map((a) => `${a}${state.pins.has(a) ? `=${state.pins.get(a)?.slice(0, 6)}` : ''}`)
          .join(',');
        const known = members.get(id);
        if (known === undefined) members.set(id, set);
        else if (known !== set)
          return [`configuration ${id} is {${known}} elsewhere but {${set}} at ${address}`];
      }
      return [];
    },
  };
}

/** Probability that a node crashes at an effect boundary it just passed (with the crash fault). */
const BOUNDARY_CRASH_PPM = 20_000;
/** How long a node crashed at a boundary stays down, ms: short, so it restarts into the same term. */
const BOUNDARY_OUTAGE_MS_MAX = 40;

class RaftLiteRun implements ScenarioRun<RaftLiteView> {
  readonly view: { nodes: Map<Address, ShoalNode | undefined>; ids: Map<Address, NodeId> };
  private readonly sent = new SentLog();
  readonly checkers = [
    oneLeaderPerTerm(),
    termNeverBelowSent(this.sent),
    oneVotePerTerm(this.sent),
    leaderWonMajority(this.sent),
    oneConfigPerId(),
  ];
  /** Nodes this run crashed at an effect boundary and will restart itself. */
  private readonly boundaryDown = new Set<Address>();
  private readonly boundaryRng: Rng;
  private healed = false;
  /** The node whose vote grant went out last (a target for the nemesis). */
  private lastVoter: Address | undefined;
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
    this.boundaryRng = world.rng.fork('boundary-crash');
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
      onBoundary: (_protocol, boundary) => this.onBoundary(node, boundary),
    });
    // Cold start and late joiners: joins spread the cluster (leader heartbeats, join requests).
    if (this.variant !== 'default')
      for (const peer of this.peersOf(node)) shoal.raftLite?.join(peer);
    this.view.nodes.set(node.address, shoal);
  }

  /**
   * Crashes at effect boundaries (issue 11): right after a vote grant left, right after any
   * other send, or right after a write became durable and before what waited on it went out.
   * The node restarts a few ms later, into the same term, so a vote that was not durable shows.
   */
  private onBoundary(node: SimNode, boundary: Boundary<ProtocolTypes>): void {
    if (boundary.kind === 'sent') {
      const message = boundary.message as ElectionMessage;
      this.sent.record(node.address, { ...message, to: boundary.to } as SentMessage);
    }
    const grant =
      boundary.kind === 'sent' &&
      (boundary.message as ElectionMessage).type === 'vote-response' &&
      (boundary.message as Extract<ElectionMessage, { type: 'vote-response' }>).granted;
    if (grant) this.lastVoter = node.address;
    if (!this.world.faults.has('crash') || this.healed) return;
    if (this.boundaryDown.size > 0) return;
    const ppm = grant ? BOUNDARY_CRASH_PPM * 10 : BOUNDARY_CRASH_PPM;
    if (this.boundaryRng.int(1_000_000) >= ppm) return;
    const what =
      boundary.kind === 'durable' ? 'a durable write' : grant ? 'a vote grant' : 'a send';
    this.world.trace.add(`fault crash ${node.name} right after ${what}`);
    this.world.network.crash(node.address);
    node.storage.crash();
    this.crashNode(node);
    this.boundaryDown.add(node.address);
    const outageMs = 1 + this.boundaryRng.int(BOUNDARY_OUTAGE_MS_MAX);
    this.world.clock.at(this.world.clock.now() + outageMs, () => {
      if (!this.boundaryDown.delete(node.address)) return;
      this.world.trace.add(`fault restart ${node.name}`);
      this.boot(node);
    });
  }

  crashNode(node: SimNode): void {
    // The nemesis takes over a node this run crashed: it restarts it, not us.
    this.boundaryDown.delete(node.address);
    if (!this.view.nodes.has(node.address)) return;
    this.view.nodes.get(node.address)?.halt();
    this.view.nodes.set(node.address, undefined);
  }

  /**
   * raft-lite's claim under amnesia: a node that lost its data dir is refused at its address by
   * every member that pinned its identity. So only once every node is up and pins it (a member
   * that never heard the old identity cannot tell the new one from it).
   */
  mayForgetNode(node: SimNode): boolean {
    const id = this.view.ids.get(node.address);
    for (const shoal of this.view.nodes.values()) {
      const state = stateOf(shoal);
      if (state === undefined || state.pins.get(node.address) !== id) return false;
    }
    return true;
  }

  forgetNode(node: SimNode): void {
    this.view.ids.set(node.address, simNodeId(node));
    this.sent.forget(node.address);
  }

  restartNode(node: SimNode): void {
    if (!this.view.nodes.has(node.address)) return;
    this.boundaryDown.delete(node.address);
    this.boot(node);
  }

  faultTargets(): FaultTargets {
    let leader: { address: Address; term: number } | undefined;
    for (const [address, node] of this.view.nodes) {
      const state = stateOf(node);
      if (state?.role === 'leader' && (leader === undefined || state.term > leader.term))
        leader = { address, term: state.term };
    }
    return {
      ...(leader === undefined ? {} : { leader: leader.address }),
      ...(this.lastVoter === undefined ? {} : { lastVoter: this.lastVoter }),
    };
  }

  startLiveness(): void {
    this.healed = true;
  }

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
