/**
 * Scenarios `raft`, `raft-membership`, `raft-lease` and `raft-stale-reads-unsafe`: K nodes built
 * by `buildNode` (sim-node.ts) in `raft` mode run the Raft core on the generic driver over the
 * simulated network, with skewed clocks and crash-model disks holding the write-ahead log, each
 * with the checker state machine (raft-machine.ts), under every fault of the nemesis, plus
 * crashes right after a vote grant, any send, or a durable write (before what waited on it).
 *
 * Workload: a client proposes `client:seq` commands at random nodes (a refused or dropped one is
 * retried with the same seq: sessions apply it once) and asks for linearizable reads.
 * `raft-membership` also changes the configuration during the faults: adds spare nodes (as
 * learners or staged voters), promotes learners, removes members (the leader too) and transfers
 * leadership. `raft-lease` serves reads by lease (run it without clock steps: the lease assumes
 * clocks that never jump, docs/design/raft.md). `raft-churn` crashes the leader every few hundred
 * ms with one entry per append (thesis Fig. 3.8's ground). `raft-file` keeps the records in one file
 * rewritten whole instead of the WAL (the other `Store` the core runs on, under the same faults).
 * `raft-stale-reads-unsafe` serves reads locally and checks them as linearizable: the
 * reads-see-commits checker must fire.
 *
 * Safety after every event: raft-checkers.ts. Liveness after the heal: one leader whose
 * configuration is not joint, followed in its term by every member, with an entry of its term
 * committed, every member applied up to its commit index, and a command proposed after the heal
 * applied.
 */
import type { Address } from '../../base/address.js';
import type { ProtocolTypes } from '../../base/protocol.js';
import type { Rng } from '../../base/rng.js';
import type { NodeId } from '../../identity/node-id.js';
import type { ShoalNode } from '../../node/node.js';
import type { Boundary } from '../../node/runtime.js';
import type { RaftOutcome } from '../../raft/application.js';
import type { RaftProfile, RaftSettings } from '../../raft/config.js';
import { isJoint, memberAt, replicaAddresses } from '../../raft/configuration.js';
import type { RaftRecord } from '../../raft/log-types.js';
import type { RaftMessage } from '../../raft/messages.js';
import type { ConfigChange, RaftState } from '../../raft/types.js';
import type { FaultTargets } from '../faults.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import {
  commitDurable,
  electionSafety,
  leaderCompleteness,
  logMatching,
  oneVotePerTerm,
  raftStateOf,
  readsSeeCommits,
  ReadLog,
  RaftSentLog,
  stateMachineSafety,
  termNeverBelowSent,
  type RaftView,
} from './raft-checkers.js';
import { CheckerMachine, RaftObservations } from './raft-machine.js';
import { bootSimNode, simNodeId } from './sim-node.js';

export type RaftVariant =
  'default' | 'membership' | 'lease' | 'churn' | 'file' | 'stale-reads-unsafe';

/** The profile every simulated Raft node runs, and the WAL segment size (small: rotations happen). */
export const RAFT_SIM_PROFILE: RaftProfile = 'SIM_MIN';
export const RAFT_SIM_WAL_SEGMENT_BYTES = 16 * 1024;

/**
 * Probability that a node crashes at an effect boundary it just passed (with the crash fault):
 * after a send, after a durable write, after a vote grant. Raft sends and writes constantly, so
 * the first two are rare; a grant is the boundary that matters most for one-vote-per-term.
 */
const BOUNDARY_CRASH_SEND_PPM = 300;
const BOUNDARY_CRASH_DURABLE_PPM = 1_000;
const BOUNDARY_CRASH_GRANT_PPM = 30_000;
/** How long a node crashed at a boundary stays down, ms: short, so it restarts into the same term. */
const BOUNDARY_OUTAGE_MS_MAX = 40;
/** Time between two client requests, ms. */
const CLIENT_GAP_MS_MIN = 5;
const CLIENT_GAP_MS_MAX = 40;
/** Time between two membership actions (`raft-membership`), ms. */
const MEMBERSHIP_GAP_MS_MIN = 300;
const MEMBERSHIP_GAP_MS_MAX = 1_200;
/** How often a refused proposal is retried with the same seq. */
const RETRIES_MAX = 3;

/** Time between two leader crashes (`raft-churn`), ms, and how long a crashed leader stays down. */
const CHURN_GAP_MS_MIN = 80;
const CHURN_GAP_MS_MAX = 600;
const CHURN_OUTAGE_MS_MAX = 400;
/** `raft-churn`: a leader crashes right after an append it sent with this probability. */
const CHURN_APPEND_CRASH_PPM = 30_000;

export function raftSimSettings(variant: RaftVariant): RaftSettings {
  if (variant === 'lease') return { readMode: 'lease' };
  // Churn: one entry per append, one append in flight, so a new leader's log reaches its
  // followers entry by entry and a crash often leaves an old term's entry on a bare majority
  // (thesis Fig. 3.8, the case §5.4.2 is for).
  if (variant === 'churn') return { appendEntriesMax: 1, maxInflightAppends: 1 };
  return {};
}

class RaftRun implements ScenarioRun<RaftView> {
  readonly view: {
    nodes: Map<Address, ShoalNode | undefined>;
    ids: Map<Address, NodeId>;
    observations: RaftObservations;
  };
  private readonly sent = new RaftSentLog();
  private readonly reads = new ReadLog();
  readonly checkers;
  private readonly rng: Rng;
  private readonly generations = new Map<Address, number>();
  private readonly boundaryDown = new Set<Address>();
  private healed = false;
  private lastVoter: Address | undefined;
  private nextRequestId = 1;
  private seq = 0;
  /** Proposals in flight: request id -> command and retries left. */
  private readonly proposals = new Map<number, { data: string; retries: number }>();
  /** Commands proposed after the heal (liveness waits for one to apply). */
  private readonly afterHeal: string[] = [];
  private readonly voters: Address[];

  constructor(
    private readonly world: SimWorld,
    private readonly variant: RaftVariant,
  ) {
    this.view = {
      nodes: new Map(),
      ids: new Map(world.nodes.map((n) => [n.address, simNodeId(n)])),
      observations: new RaftObservations(),
    };
    this.checkers = [
      electionSafety(),
      logMatching(),
      leaderCompleteness(),
      stateMachineSafety(),
      commitDurable(this.sent),
      oneVotePerTerm(this.sent),
      termNeverBelowSent(this.sent),
      readsSeeCommits(this.reads),
    ];
    this.rng = world.rng.fork('raft');
    const all = world.nodes.map((n) => n.address);
    this.voters = variant === 'membership' && all.length > 3 ? all.slice(0, 3) : all;
    for (const node of world.nodes) this.boot(node);
    this.scheduleClient();
    if (variant === 'membership') this.scheduleMembership();
    if (variant === 'churn') this.scheduleChurn();
  }

  /**
   * `raft-churn` (6.824's Figure 8 test, in spirit): the current leader crashes every few
   * hundred ms, at a random point of its replication, and comes back after up to 400 ms.
   */
  private scheduleChurn(): void {
    const { clock } = this.world;
    clock.at(clock.now() + this.rng.range(CHURN_GAP_MS_MIN, CHURN_GAP_MS_MAX), () => {
      if (this.healed) return;
      const leader = this.leaderState();
      const node = this.world.nodes.find((n) => n.address === leader?.address);
      if (node !== undefined && this.boundaryDown.size === 0) {
        this.world.trace.add(`fault churn: crash leader ${node.name}`);
        this.world.network.crash(node.address);
        node.storage.crash();
        this.crashNode(node);
        this.boundaryDown.add(node.address);
        clock.at(clock.now() + 1 + this.rng.int(CHURN_OUTAGE_MS_MAX), () => {
          if (!this.boundaryDown.delete(node.address)) return;
          this.world.trace.add(`fault restart ${node.name}`);
          this.boot(node);
        });
      }
      this.scheduleChurn();
    });
  }

  private boot(node: SimNode): void {
    const generation = (this.generations.get(node.address) ?? 0) + 1;
    this.generations.set(node.address, generation);
    const peers = this.voters.includes(node.address) ? this.voters : [];
    const shoal = bootSimNode(this.world, node, { kind: 'raft', peers }, generation, {
      onTrace: (_protocol, line) => this.world.trace.add(`${node.name} ${line}`),
      onBoundary: (_protocol, boundary) => this.onBoundary(node, boundary),
      raftApplication: () =>
        new CheckerMachine(node.address, this.view.observations, (outcome) =>
          this.onOutcome(node.address, outcome),
        ),
      raftProfile: RAFT_SIM_PROFILE,
      raftSettings: raftSimSettings(this.variant),
      raftWalSegmentBytes: RAFT_SIM_WAL_SEGMENT_BYTES,
      raftStore: this.variant === 'file' ? 'file' : 'wal',
    });
    this.view.nodes.set(node.address, shoal);
  }

  // ---- the client ----

  private runningNodes(): [Address, ShoalNode][] {
    return [...this.view.nodes].filter(
      (e): e is [Address, ShoalNode] => raftStateOf(e[1]) !== undefined,
    );
  }

  private scheduleClient(): void {
    const { clock } = this.world;
    clock.at(clock.now() + this.rng.range(CLIENT_GAP_MS_MIN, CLIENT_GAP_MS_MAX), () => {
      this.clientStep();
      this.scheduleClient();
    });
  }

  private clientStep(): void {
    const nodes = this.runningNodes();
    if (nodes.length === 0) return;
    if (this.healed && this.afterHeal.some((c) => this.view.observations.commandsApplied.has(c)))
      return;
    const [address, node] = this.rng.pick(nodes);
    const requestId = this.nextRequestId++;
    if (!this.healed && this.rng.chance(1, 4)) {
      this.reads.asked(this.view, requestId, address);
      node.internals.raftHandle?.read(requestId, this.variant === 'stale-reads-unsafe');
      return;
    }
    const data = `c:${++this.seq}:${this.world.clock.now()}`;
    if (this.healed) this.afterHeal.push(`c:${this.seq}`);
    this.propose(node, requestId, data, RETRIES_MAX);
  }

  private propose(node: ShoalNode, requestId: number, data: string, retries: number): void {
    this.proposals.set(requestId, { data, retries });
    node.internals.raftHandle?.propose(new TextEncoder().encode(data), requestId);
  }

  private onOutcome(_address: Address, outcome: RaftOutcome): void {
    if (outcome.kind === 'read-ready') return this.reads.ready(outcome.requestId, outcome.index);
    if (outcome.kind === 'read-failed') return this.reads.failed(outcome.requestId);
    if (outcome.kind !== 'propose-result') return;
    const proposal = this.proposals.get(outcome.requestId);
    this.proposals.delete(outcome.requestId);
    const result = outcome.outcome;
    if (proposal === undefined || result.ok || proposal.retries === 0) return;
    // Thesis §6.3: a retry carries the same client and seq; the state machine applies it once.
    // A refusal that names the leader is forwarded there (as the node layer does).
    const hinted =
      result.leader === undefined ? undefined : this.view.nodes.get(result.leader.address);
    const retry = (): void => {
      const nodes = this.runningNodes();
      const target = raftStateOf(hinted) !== undefined ? hinted : undefined;
      const node = target ?? (nodes.length > 0 ? this.rng.pick(nodes)[1] : undefined);
      if (node !== undefined)
        this.propose(node, this.nextRequestId++, proposal.data, proposal.retries - 1);
    };
    const delayMs = hinted === undefined ? this.rng.range(5, 50) : 1;
    this.world.clock.at(this.world.clock.now() + delayMs, retry);
  }

  // ---- membership changes (raft-membership) ----

  private leaderState(): { address: Address; node: ShoalNode; state: RaftState } | undefined {
    let found: { address: Address; node: ShoalNode; state: RaftState } | undefined;
    for (const [address, node] of this.runningNodes()) {
      const state = raftStateOf(node) as RaftState;
      if (state.role === 'leader' && (found === undefined || state.term > found.state.term))
        found = { address, node, state };
    }
    return found;
  }

  private scheduleMembership(): void {
    const { clock } = this.world;
    clock.at(clock.now() + this.rng.range(MEMBERSHIP_GAP_MS_MIN, MEMBERSHIP_GAP_MS_MAX), () => {
      if (this.healed) return;
      this.membershipStep();
      this.scheduleMembership();
    });
  }

  private membershipStep(): void {
    const leader = this.leaderState();
    if (leader === undefined) return;
    const { config } = leader.state.membership;
    const members = replicaAddresses(config);
    const spares = this.world.nodes.map((n) => n.address).filter((a) => !members.includes(a));
    const idOf = (a: Address): NodeId => this.view.ids.get(a) as NodeId;
    const roll = this.rng.int(10);
    let change: ConfigChange | undefined;
    if (roll < 3 && spares.length > 0) {
      const address = this.rng.pick(spares);
      change = {
        op: 'add',
        address,
        as: this.rng.chance(1, 2) ? 'voter' : 'learner',
        ...(this.rng.chance(1, 2) ? { id: idOf(address) } : {}),
      };
    } else if (roll < 5) {
      const learners = config.members.filter((m) => m.role !== 'voter');
      if (learners.length > 0)
        change = { op: 'promote', id: idOf(this.rng.pick(learners).address) };
    } else if (roll < 8 && members.length > 1) {
      change = { op: 'remove', id: idOf(this.rng.pick(members)) };
    } else {
      const voters = config.members.filter(
        (m) => m.role === 'voter' && m.address !== leader.address,
      );
      if (voters.length > 0) {
        const to = this.rng.pick(voters).address;
        this.world.trace.add(`workload transfer leadership to ${to}`);
        return leader.node.internals.raftHandle?.transferLeadership(idOf(to));
      }
    }
    if (change === undefined) return;
    this.world.trace.add(
      `workload change-config ${change.op} ${'address' in change ? change.address : change.id}`,
    );
    leader.node.internals.raftHandle?.changeConfig(change, this.nextRequestId++);
  }

  // ---- faults ----

  private onBoundary(node: SimNode, boundary: Boundary<ProtocolTypes>): void {
    let grant = false;
    if (boundary.kind === 'sent') {
      const message = boundary.message as RaftMessage;
      this.sent.sent(node.address, boundary.to, message);
      grant = message.type === 'raft-vote-response' && message.granted && !message.preVote;
      if (grant) this.lastVoter = node.address;
    } else this.sent.durable(node.address, boundary.records as RaftRecord[]);
    const churn = this.variant === 'churn';
    if ((!churn && !this.world.faults.has('crash')) || this.healed || this.boundaryDown.size > 0)
      return;
    const append =
      boundary.kind === 'sent' && (boundary.message as RaftMessage).type === 'raft-append';
    const ppm =
      churn && append
        ? CHURN_APPEND_CRASH_PPM
        : grant
          ? BOUNDARY_CRASH_GRANT_PPM
          : boundary.kind === 'durable'
            ? BOUNDARY_CRASH_DURABLE_PPM
            : BOUNDARY_CRASH_SEND_PPM;
    if (this.rng.int(1_000_000) >= ppm) return;
    const what =
      boundary.kind === 'durable' ? 'a durable write' : grant ? 'a vote grant' : 'a send';
    this.world.trace.add(`fault crash ${node.name} right after ${what}`);
    this.world.network.crash(node.address);
    node.storage.crash();
    this.crashNode(node);
    this.boundaryDown.add(node.address);
    this.world.clock.at(this.world.clock.now() + 1 + this.rng.int(BOUNDARY_OUTAGE_MS_MAX), () => {
      if (!this.boundaryDown.delete(node.address)) return;
      this.world.trace.add(`fault restart ${node.name}`);
      this.boot(node);
    });
  }

  crashNode(node: SimNode): void {
    this.boundaryDown.delete(node.address);
    if (!this.view.nodes.has(node.address)) return;
    this.view.nodes.get(node.address)?.halt();
    this.view.nodes.set(node.address, undefined);
  }

  restartNode(node: SimNode): void {
    if (!this.view.nodes.has(node.address)) return;
    this.boundaryDown.delete(node.address);
    this.boot(node);
  }

  faultTargets(): FaultTargets {
    const leader = this.leaderState();
    return {
      ...(leader === undefined ? {} : { leader: leader.address }),
      ...(this.lastVoter === undefined ? {} : { lastVoter: this.lastVoter }),
    };
  }

  startLiveness(): void {
    this.healed = true;
  }

  livenessReached(): boolean {
    if ([...this.view.nodes.values()].some((n) => raftStateOf(n) === undefined)) return false;
    const leader = this.leaderState();
    if (leader === undefined || leader.state.leaderState?.committedInTerm !== true) return false;
    const { config } = leader.state.membership;
    if (isJoint(config)) return false;
    for (const address of replicaAddresses(config)) {
      const state = raftStateOf(this.view.nodes.get(address));
      if (state?.leader?.id !== leader.state.selfId || state.term !== leader.state.term)
        return false;
      if (state.appliedIndex < leader.state.commitIndex) return false;
    }
    return this.afterHeal.some((c) => this.view.observations.commandsApplied.has(c));
  }

  describeLivenessFailure(): string {
    const lines = [...this.view.nodes].map(([address, node]) => {
      const s = raftStateOf(node);
      if (s === undefined) return `${address}: down`;
      const member = memberAt(s.membership.config, address)?.role ?? 'none';
      return `${address}: ${s.role} t${s.term} leader=${s.leader?.id.slice(0, 6) ?? '-'} commit=${s.commitIndex} applied=${s.appliedIndex} ${member}`;
    });
    return `${lines.join('; ')}; post-heal commands ${this.afterHeal.length}, applied ${this.afterHeal.filter((c) => this.view.observations.commandsApplied.has(c)).length}; reads served ${this.reads.served}`;
  }
}

export function makeRaftScenario(variant: RaftVariant): Scenario<RaftView> {
  return {
    name: variant === 'default' ? 'raft' : `raft-${variant}`,
    description:
      'Raft with a replicated checker state machine under every fault: election safety, log matching, leader completeness, state machine safety, durable votes and commits, fresh reads; a leader and progress after the heal',
    nodesMin: 1,
    setup: (world) => new RaftRun(world, variant),
  };
}

export const raftScenario = makeRaftScenario('default');
export const raftMembership = makeRaftScenario('membership');
export const raftLease = makeRaftScenario('lease');
export const raftChurn = makeRaftScenario('churn');
export const raftFile = makeRaftScenario('file');
export const raftStaleReadsUnsafe = makeRaftScenario('stale-reads-unsafe');
