/**
 * A small replicated key-value store, run by the simulator, whose only job is to be the subject
 * of the checker's positive control (issue 13): "a read path that reads locally on the leader
 * without ReadIndex must be caught as non-linearizable under a partition".
 *
 * It is a compact Raft (Ongaro & Ousterhout 2014): terms and votes with the election restriction
 * (§5.4.1), AppendEntries with the log-matching check (§5.3), commit only of an entry of the
 * leader's term by a majority (§5.4.2), a no-op on election, volatile state (the scenario uses no
 * crash faults). Writes (put, CAS) go through the log and are answered when the proposing node
 * applies them. Reads take one of two paths:
 *
 * - `read-index` (Raft §6.4): the leader notes its commit index once an entry of its term is
 *   committed, confirms it still leads with a heartbeat round a majority acknowledges, and
 *   answers once it has applied up to that index;
 * - `local`: the leader answers from its own applied state at once. A leader cut off by a
 *   partition keeps believing it leads (no check-quorum), so its clients read values a new
 *   leader on the other side has already overwritten: not linearizable.
 *
 * One client per node talks to its own node in-process; a node that does not lead refuses
 * (`failed`: no effect), an answer that never comes is a timeout (`timedOut`: maybe applied).
 * The history is recorded on the simulator's one clock.
 */
import type { Address } from '../../../src/base/address.js';
import { ms } from '../../../src/base/time.js';
import type { Checker } from '../../../src/sim/checkers.js';
import type { KvInput } from '../../../src/sim/linearizability/kv-model.js';
import { HistoryRecorder } from '../../../src/sim/linearizability/recorder.js';
import { linearizabilityChecker } from '../../../src/sim/linearizability/sim-checker.js';
import { ReferenceStore } from './reference-store.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../../../src/sim/runner.js';

export type ReadPath = 'read-index' | 'local';

const HEARTBEAT_MS = 30;
const ELECTION_MIN_MS = 150;
const ELECTION_MAX_MS = 300;
const TICK_MS = 5;
/** A client with no call in flight issues one at a tick with this chance (1 in N). */
const CLIENT_CALL_CHANCE = 2;
const CLIENT_TIMEOUT_MS = 150;
const KEYS = ['x', 'y'];

interface Entry {
  readonly term: number;
  /** The recorder handle of the client call, -1 for a leader's no-op. */
  readonly handle: number;
  readonly input: KvInput | undefined;
}

type Message =
  | { t: 'vote'; term: number; lastIndex: number; lastTerm: number }
  | { t: 'vote-reply'; term: number; granted: boolean }
  | {
      t: 'append';
      term: number;
      prevIndex: number;
      prevTerm: number;
      entries: Entry[];
      commit: number;
      readSeq: number;
    }
  | { t: 'append-reply'; term: number; success: boolean; matchIndex: number; readSeq: number };

interface PendingRead {
  readonly handle: number;
  readonly key: string;
  readonly seq: number;
  readonly readIndex: number;
  readonly acks: Set<Address>;
}

class ToyNode {
  term = 0;
  votedFor: Address | undefined;
  role: 'follower' | 'candidate' | 'leader' = 'follower';
  readonly log: Entry[] = [{ term: 0, handle: -1, input: undefined }];
  commitIndex = 0;
  applied = 0;
  /** The state machine, applied in log order on every node. */
  readonly store = new ReferenceStore();
  electionAtMs = 0;
  nextHeartbeatMs = 0;
  readonly votes = new Set<Address>();
  readonly nextIndex = new Map<Address, number>();
  readonly matchIndex = new Map<Address, number>();
  readSeq = 0;
  readonly reads: PendingRead[] = [];
  /** The client call this node proposed and still owes an answer: handle -> its deadline. */
  readonly owed = new Map<number, number>();
  clientBusy = false;

  constructor(
    readonly sim: SimNode,
    readonly peers: readonly Address[],
  ) {}

  lastTerm(): number {
    return (this.log.at(-1) as Entry).term;
  }
}

export interface ToyKvView {
  readonly recorder: HistoryRecorder;
}

class ToyKvRun implements ScenarioRun<ToyKvView> {
  readonly view: ToyKvView;
  readonly checkers: readonly Checker<ToyKvView>[];
  private readonly nodes = new Map<Address, ToyNode>();
  private livenessFromMs = Number.POSITIVE_INFINITY;
  private answeredAtHeal = 0;

  constructor(
    private readonly world: SimWorld,
    private readonly readPath: ReadPath,
  ) {
    const recorder = new HistoryRecorder(() => world.clock.now());
    this.view = { recorder };
    this.checkers = [linearizabilityChecker<ToyKvView>((view) => view.recorder)];
    const addresses = world.nodes.map((n) => n.address);
    for (const sim of world.nodes) {
      const node = new ToyNode(
        sim,
        addresses.filter((a) => a !== sim.address),
      );
      this.nodes.set(sim.address, node);
      node.electionAtMs = world.clock.now() + sim.rng.range(ELECTION_MIN_MS, ELECTION_MAX_MS);
      world.network.attach(sim.address, (from, _channel, data) =>
        this.receive(node, from, JSON.parse(new TextDecoder().decode(data)) as Message),
      );
      this.schedule(node);
    }
  }

  crashNode(): void {
    throw new Error('toy-kv keeps its state in memory: run it without crash faults');
  }

  restartNode(): void {
    throw new Error('toy-kv keeps its state in memory: run it without crash faults');
  }

  startLiveness(): void {
    this.livenessFromMs = this.world.clock.now();
    this.answeredAtHeal = this.view.recorder.answered();
  }

  livenessReached(): boolean {
    return this.view.recorder.answered() > this.answeredAtHeal + 10;
  }

  describeLivenessFailure(): string {
    return `fewer than 10 operations answered since the heal at ${this.livenessFromMs} ms`;
  }

  faultTargets(): { leader?: Address } {
    const leader = [...this.nodes.values()].find((n) => n.role === 'leader');
    return leader === undefined ? {} : { leader: leader.sim.address };
  }

  private now(): number {
    return this.world.clock.now();
  }

  private send(from: ToyNode, to: Address, message: Message): void {
    const bytes = new TextEncoder().encode(JSON.stringify(message));
    this.world.network.send(from.sim.address, to, 'packet', bytes);
  }

  private majority(): number {
    return Math.floor(this.nodes.size / 2) + 1;
  }

  private schedule(node: ToyNode): void {
    node.sim.clock.setTimer(ms(TICK_MS), () => {
      this.tick(node);
      this.schedule(node);
    });
  }

  private tick(node: ToyNode): void {
    const now = this.now();
    if (node.role === 'leader' && now >= node.nextHeartbeatMs) this.broadcastAppend(node);
    if (node.role !== 'leader' && now >= node.electionAtMs) this.startElection(node);
    for (const [handle, deadline] of node.owed)
      if (now >= deadline) {
        node.owed.delete(handle);
        this.view.recorder.timedOut(handle);
        node.clientBusy = false;
      }
    if (!node.clientBusy && node.sim.rng.chance(1, CLIENT_CALL_CHANCE)) this.clientCall(node);
  }

  private becomeFollower(node: ToyNode, term: number): void {
    if (term > node.term) {
      node.term = term;
      node.votedFor = undefined;
    }
    node.role = 'follower';
    // Reads waiting on a leadership it no longer has will never be answered: they time out.
    node.reads.length = 0;
  }

  private startElection(node: ToyNode): void {
    node.term++;
    node.role = 'candidate';
    node.votedFor = node.sim.address;
    node.votes.clear();
    node.votes.add(node.sim.address);
    node.electionAtMs = this.now() + node.sim.rng.range(ELECTION_MIN_MS, ELECTION_MAX_MS);
    for (const peer of node.peers)
      this.send(node, peer, {
        t: 'vote',
        term: node.term,
        lastIndex: node.log.length - 1,
        lastTerm: node.lastTerm(),
      });
  }

  private becomeLeader(node: ToyNode): void {
    node.role = 'leader';
    for (const peer of node.peers) {
      node.nextIndex.set(peer, node.log.length);
      node.matchIndex.set(peer, 0);
    }
    // Raft §8: a no-op of the new term, so the leader learns what is committed.
    node.log.push({ term: node.term, handle: -1, input: undefined });
    this.broadcastAppend(node);
  }

  private broadcastAppend(node: ToyNode): void {
    node.nextHeartbeatMs = this.now() + HEARTBEAT_MS;
    for (const peer of node.peers) {
      const next = node.nextIndex.get(peer) ?? node.log.length;
      this.send(node, peer, {
        t: 'append',
        term: node.term,
        prevIndex: next - 1,
        prevTerm: (node.log[next - 1] as Entry).term,
        entries: node.log.slice(next),
        commit: node.commitIndex,
        readSeq: node.readSeq,
      });
    }
  }

  private receive(node: ToyNode, from: Address, message: Message): void {
    if (message.term > node.term) this.becomeFollower(node, message.term);
    switch (message.t) {
      case 'vote': {
        const upToDate =
          message.lastTerm > node.lastTerm() ||
          (message.lastTerm === node.lastTerm() && message.lastIndex >= node.log.length - 1);
        const granted =
          message.term === node.term &&
          upToDate &&
          (node.votedFor === undefined || node.votedFor === from);
        if (granted) {
          node.votedFor = from;
          node.electionAtMs = this.now() + node.sim.rng.range(ELECTION_MIN_MS, ELECTION_MAX_MS);
        }
        this.send(node, from, { t: 'vote-reply', term: node.term, granted });
        return;
      }
      case 'vote-reply':
        if (node.role !== 'candidate' || message.term !== node.term || !message.granted) return;
        node.votes.add(from);
        if (node.votes.size >= this.majority()) this.becomeLeader(node);
        return;
      case 'append':
        return this.onAppend(node, from, message);
      case 'append-reply':
        return this.onAppendReply(node, from, message);
    }
  }

  private onAppend(node: ToyNode, from: Address, m: Extract<Message, { t: 'append' }>): void {
    if (m.term < node.term) {
      this.send(node, from, {
        t: 'append-reply',
        term: node.term,
        success: false,
        matchIndex: 0,
        readSeq: m.readSeq,
      });
      return;
    }
    if (node.role !== 'follower') this.becomeFollower(node, m.term);
    node.electionAtMs = this.now() + node.sim.rng.range(ELECTION_MIN_MS, ELECTION_MAX_MS);
    const prev = node.log[m.prevIndex];
    const success = prev !== undefined && prev.term === m.prevTerm;
    if (success) {
      // §5.3: drop a conflicting suffix, append what is new.
      m.entries.forEach((entry, i) => {
        const index = m.prevIndex + 1 + i;
        if (node.log[index] !== undefined && (node.log[index] as Entry).term !== entry.term)
          node.log.length = index;
        if (node.log[index] === undefined) node.log.push(entry);
      });
      const matchIndex = m.prevIndex + m.entries.length;
      if (m.commit > node.commitIndex) node.commitIndex = Math.min(m.commit, matchIndex);
      this.applyCommitted(node);
    }
    this.send(node, from, {
      t: 'append-reply',
      term: node.term,
      success,
      matchIndex: success ? m.prevIndex + m.entries.length : 0,
      readSeq: m.readSeq,
    });
  }

  private onAppendReply(
    node: ToyNode,
    from: Address,
    m: Extract<Message, { t: 'append-reply' }>,
  ): void {
    if (node.role !== 'leader' || m.term !== node.term) return;
    // A reply in our term acknowledges our leadership as of the read round it echoes.
    for (const read of node.reads) if (read.seq <= m.readSeq) read.acks.add(from);
    if (m.success) {
      node.matchIndex.set(from, Math.max(node.matchIndex.get(from) ?? 0, m.matchIndex));
      node.nextIndex.set(from, (node.matchIndex.get(from) as number) + 1);
      this.advanceCommit(node);
    } else node.nextIndex.set(from, Math.max(1, (node.nextIndex.get(from) ?? 1) - 1));
    this.serveReads(node);
  }

  private advanceCommit(node: ToyNode): void {
    for (let index = node.log.length - 1; index > node.commitIndex; index--) {
      // §5.4.2: only an entry of the current term is committed by counting replicas.
      if ((node.log[index] as Entry).term !== node.term) break;
      const replicas = 1 + [...node.matchIndex.values()].filter((m) => m >= index).length;
      if (replicas >= this.majority()) {
        node.commitIndex = index;
        break;
      }
    }
    this.applyCommitted(node);
  }

  private applyCommitted(node: ToyNode): void {
    while (node.applied < node.commitIndex) {
      node.applied++;
      const entry = node.log[node.applied] as Entry;
      if (entry.input === undefined) continue;
      const output = node.store.apply(entry.input);
      if (node.owed.delete(entry.handle)) {
        this.view.recorder.ok(entry.handle, output);
        node.clientBusy = false;
      }
    }
  }

  private committedInTerm(node: ToyNode): boolean {
    return (node.log[node.commitIndex] as Entry).term === node.term;
  }

  private serveReads(node: ToyNode): void {
    for (let i = 0; i < node.reads.length; i++) {
      const read = node.reads[i] as PendingRead;
      if (read.acks.size < this.majority() || node.applied < read.readIndex) continue;
      node.reads.splice(i--, 1);
      if (node.owed.delete(read.handle)) {
        this.view.recorder.ok(read.handle, node.store.read(read.key));
        node.clientBusy = false;
      }
    }
  }

  /** This node's client issues its next call to its own node. */
  private clientCall(node: ToyNode): void {
    const rng = node.sim.rng;
    const key = rng.pick(KEYS);
    const value = `v${rng.int(5)}`;
    const kind = rng.int(5);
    const input: KvInput =
      kind <= 2
        ? { kind: 'get', key }
        : kind === 3
          ? { kind: 'put', key, value }
          : { kind: 'cas', key, compare: { target: 'value', value: `v${rng.int(5)}` }, value };
    const clientId = this.world.nodes.indexOf(node.sim);
    const handle = this.view.recorder.invoke(clientId, input);
    if (node.role !== 'leader' || (input.kind === 'get' && !this.canRead(node))) {
      this.view.recorder.failed(handle); // refused before anything happened: no effect
      return;
    }
    node.clientBusy = true;
    node.owed.set(handle, this.now() + CLIENT_TIMEOUT_MS);
    if (input.kind === 'get') return this.read(node, handle, key);
    node.log.push({ term: node.term, handle, input });
    this.broadcastAppend(node);
  }

  private canRead(node: ToyNode): boolean {
    return this.readPath === 'local' || this.committedInTerm(node);
  }

  private read(node: ToyNode, handle: number, key: string): void {
    if (this.readPath === 'local') {
      // The bug under test: no proof that this node still leads.
      node.owed.delete(handle);
      this.view.recorder.ok(handle, node.store.read(key));
      node.clientBusy = false;
      return;
    }
    // Raft §6.4 ReadIndex: the commit index now, confirmed by a majority's heartbeat replies.
    node.readSeq++;
    node.reads.push({
      handle,
      key,
      seq: node.readSeq,
      readIndex: node.commitIndex,
      acks: new Set([node.sim.address]),
    });
    this.broadcastAppend(node);
  }
}

/** The toy store as a scenario; `onRun` receives the run, so a test can read its history. */
export function toyKvScenario(
  readPath: ReadPath,
  onRun?: (view: ToyKvView) => void,
): Scenario<ToyKvView> {
  return {
    name: readPath === 'local' ? 'toy-kv-local-read-unsafe' : 'toy-kv',
    description: `a compact Raft key-value store, reads by ${readPath}`,
    nodesMin: 3,
    setup(world) {
      const run = new ToyKvRun(world, readPath);
      onRun?.(run.view);
      return run;
    },
  };
}
