/**
 * A deterministic in-test Raft cluster over the real core (etcd-io/raft's rafttest
 * InteractionEnv, in spirit): nodes are cores stepped by hand, the network is a FIFO of
 * messages the test delivers (with partitions), each disk holds what the node's writes made
 * durable, and a tiny state machine (the list of applied commands) answers snapshots. It runs a
 * step the way the generic driver does: `effects` at once, `persist` queued as one write job,
 * `afterPersist` after that job and every earlier one, then a `persisted` input.
 *
 * Used by the interaction scripts (scripts.test.ts, testdata/*.txt) and the step tests.
 */
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { ms, type Millis } from '../../src/base/time.js';
import { logIndex, term, type LogIndex } from '../../src/base/units.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { raftConfig, type RaftSettings } from '../../src/raft/config.js';
import { describeEffect, describeMessage } from '../../src/raft/describe.js';
import { applyRecord, EMPTY_PERSISTED } from '../../src/raft/file-store.js';
import { checkInvariants, checkTransition } from '../../src/raft/invariants.js';
import type { Entry, RaftPersisted, RaftRecord } from '../../src/raft/log-types.js';
import { lastIndex } from '../../src/raft/log.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { RAFT_CORE } from '../../src/raft/protocol.js';
import { initRaft, nextDeadline, step } from '../../src/raft/step.js';
import type { RaftEffect, RaftInput, RaftState } from '../../src/raft/types.js';

export const nodeId = (n: number): NodeId => String(n).repeat(32) as NodeId;
export const nodeAddress = (n: number): Address => `10.0.0.${n}:7000` as Address;

/** Names ids and addresses n1, n2, ... in a trace line. */
export function readable(line: string): string {
  return line.replace(/10\.0\.0\.(\d+):7000/g, 'n$1').replace(/\b([1-9])\1{5}\b/g, 'n$1');
}

interface Held {
  hardState: RaftPersisted['hardState'];
  snapshot: RaftPersisted['snapshot'];
  entries: Entry[];
}

interface Job {
  records: RaftRecord[];
  after: RaftEffect[];
}

export interface HarnessNode {
  readonly n: number;
  readonly id: NodeId;
  readonly address: Address;
  state: RaftState | undefined;
  disk: Held;
  jobs: Job[];
  /** Commands applied by the state machine, in order (data as text). */
  applied: string[];
  appliedIndex: number;
  rng: Rng;
  lives: number;
}

interface InFlight {
  from: number;
  to: number;
  message: RaftMessage;
}

export class Cluster {
  readonly nodes = new Map<number, HarnessNode>();
  now = 1_000;
  readonly inFlight: InFlight[] = [];
  /** Directed cuts `from>to`. */
  readonly cuts = new Set<string>();
  lines: string[] = [];
  settings: RaftSettings;
  /** Inputs to step right after the current one (the state machine answering take-snapshot). */
  private readonly deferred: { n: number; input: RaftInput }[] = [];
  /** Whether the state machine answers take-snapshot by itself. */
  autoSnapshot = true;
  /** `advance` leaves heartbeats and their answers out of the trace (they still travel). */
  quietHeartbeats = false;

  constructor(settings: RaftSettings = {}) {
    this.settings = {
      heartbeatIntervalMs: 10,
      electionTimeoutMinMs: 100,
      electionTimeoutMaxMs: 200,
      ...settings,
    };
  }

  node(n: number): HarnessNode {
    const node = this.nodes.get(n);
    if (node === undefined) throw new Error(`no node ${n}`);
    return node;
  }

  state(n: number): RaftState {
    const s = this.node(n).state;
    if (s === undefined) throw new Error(`node ${n} is down`);
    return s;
  }

  /** Adds nodes with empty disks; `voters` are the bootstrap peers (all of them by default). */
  addNodes(count: number, voters?: readonly number[]): void {
    const first = this.nodes.size + 1;
    for (let n = first; n < first + count; n++) {
      this.nodes.set(n, {
        n,
        id: nodeId(n),
        address: nodeAddress(n),
        state: undefined,
        disk: { hardState: EMPTY_PERSISTED.hardState, snapshot: undefined, entries: [] },
        jobs: [],
        applied: [],
        appliedIndex: 0,
        rng: new Rng(n),
        lives: 0,
      });
    }
    const peers = (voters ?? [...this.nodes.keys()]).map(nodeAddress);
    for (let n = first; n < first + count; n++) this.boot(n, peers);
  }

  private peers: Address[] = [];

  boot(n: number, peers: readonly Address[] = this.peers): void {
    this.peers = [...peers];
    const node = this.node(n);
    node.lives++;
    node.jobs = [];
    node.applied = [];
    node.appliedIndex = 0;
    const persisted: RaftPersisted = {
      hardState: node.disk.hardState,
      snapshot: node.disk.snapshot,
      entries: [...node.disk.entries],
    };
    node.state = initRaft(
      {
        config: raftConfig(this.settings, 'SIM_MIN'),
        selfId: node.id,
        selfAddress: node.address,
        peers,
      },
      persisted,
      ms(this.now),
      node.rng.fork(`life/${node.lives}`),
    );
  }

  crash(n: number): void {
    const node = this.node(n);
    node.state = undefined;
    node.jobs = [];
    for (let i = this.inFlight.length - 1; i >= 0; i--)
      if (this.inFlight[i]?.to === n || this.inFlight[i]?.from === n) this.inFlight.splice(i, 1);
    this.lines.push(`n${n} crashed`);
  }

  restart(n: number): void {
    this.boot(n);
    this.lines.push(
      `n${n} restarted at term ${this.state(n).term}, last index ${lastIndex(this.state(n).log)}`,
    );
    this.input(n, { kind: 'tick', now: ms(this.now) });
  }

  /** Replaces node n's disk with a log of the given terms (for the figures' starting points). */
  setLog(n: number, terms: readonly number[], currentTerm: number): void {
    const node = this.node(n);
    node.disk = {
      hardState: { term: term(currentTerm), vote: undefined, commit: logIndex(0) },
      snapshot: undefined,
      entries: terms.map((t, i) => ({
        index: logIndex(i + 1),
        term: term(t),
        kind: 'normal',
        data: new TextEncoder().encode(`e${i + 1}`),
      })),
    };
  }

  // ---- stepping, the way the driver does ----

  input(n: number, input: RaftInput): void {
    this.runStep(n, input);
    while (this.deferred.length > 0) {
      const next = this.deferred.shift();
      if (next !== undefined) this.runStep(next.n, next.input);
    }
  }

  private runStep(n: number, input: RaftInput): void {
    const node = this.node(n);
    const state = node.state;
    if (state === undefined) return;
    const before = RAFT_CORE.snapshot(state);
    const ready = step(state, input, { rng: node.rng });
    const broken = [...checkInvariants(state), ...checkTransition(before, state, input)];
    if (broken.length > 0) throw new Error(`n${n} invariant: ${broken.join('; ')}`);
    for (const effect of ready.effects) this.perform(node, effect);
    if (ready.persist.length > 0)
      node.jobs.push({ records: ready.persist, after: ready.afterPersist });
    else if (node.jobs.length > 0)
      node.jobs[node.jobs.length - 1]?.after.push(...ready.afterPersist);
    else for (const effect of ready.afterPersist) this.perform(node, effect);
  }

  private perform(node: HarnessNode, effect: RaftEffect): void {
    if (node.state === undefined) return;
    if (effect.kind === 'send') {
      const to = Number(/10\.0\.0\.(\d+):/.exec(effect.to)?.[1]);
      this.inFlight.push({ from: node.n, to, message: effect.message });
      return;
    }
    this.output(node, effect);
  }

  private output(node: HarnessNode, effect: RaftEffect): void {
    const show = (): void =>
      void this.lines.push(readable(`  n${node.n}: ${describeEffect(effect)}`));
    switch (effect.kind) {
      case 'apply':
        for (const entry of effect.entries) {
          if (entry.index !== node.appliedIndex + 1)
            throw new Error(`n${node.n} applied ${entry.index} after ${node.appliedIndex}`);
          node.appliedIndex = entry.index;
          if (entry.kind === 'normal') node.applied.push(new TextDecoder().decode(entry.data));
        }
        return show();
      case 'restore-snapshot':
        node.applied = JSON.parse(new TextDecoder().decode(effect.data)) as string[];
        node.appliedIndex = effect.meta.index;
        return show();
      case 'take-snapshot':
        show();
        if (this.autoSnapshot)
          this.deferred.push({
            n: node.n,
            input: {
              kind: 'snapshot-taken',
              now: ms(this.now),
              index: effect.index,
              data: new TextEncoder().encode(JSON.stringify(node.applied)),
            },
          });
        return;
      default:
        return show();
    }
  }

  /** Completes node n's oldest write: durable on its disk, waiting effects out, then `persisted`. */
  persistOne(n: number): boolean {
    const node = this.node(n);
    const job = node.jobs.shift();
    if (job === undefined || node.state === undefined) return false;
    for (const record of job.records) applyRecord(node.disk, record);
    for (const effect of job.after) this.perform(node, effect);
    this.input(n, { kind: 'persisted', now: ms(this.now), records: job.records });
    return true;
  }

  persistAll(n: number): void {
    while (this.persistOne(n));
  }

  private blocked(from: number, to: number): boolean {
    return this.cuts.has(`${from}>${to}`);
  }

  /** Delivers every message in flight now (not those they cause); returns how many moved. */
  deliverAll(only?: ReadonlySet<number>): number {
    const batch = this.inFlight.splice(0, this.inFlight.length);
    let moved = 0;
    for (const m of batch) {
      if (only !== undefined && !only.has(m.to)) {
        this.inFlight.push(m);
        continue;
      }
      moved++;
      const target = this.nodes.get(m.to);
      if (this.blocked(m.from, m.to) || target?.state === undefined) {
        if (!(this.quietHeartbeats && /^raft-heartbeat/.test(m.message.type)))
          this.lines.push(readable(`n${m.from} -> n${m.to} dropped ${describeMessage(m.message)}`));
        continue;
      }
      const quiet = this.quietHeartbeats && /^raft-heartbeat/.test(m.message.type);
      if (!quiet) this.lines.push(readable(`n${m.from} -> n${m.to} ${describeMessage(m.message)}`));
      this.input(m.to, {
        kind: 'receive',
        now: ms(this.now),
        from: nodeAddress(m.from),
        message: m.message,
      });
    }
    return moved;
  }

  /** Writes and messages until nothing moves (bounded). */
  stabilize(only?: ReadonlySet<number>): void {
    for (let round = 0; round < 1_000; round++) {
      let moved = 0;
      for (const n of this.nodes.keys()) {
        if (only !== undefined && !only.has(n)) continue;
        while (this.persistOne(n)) moved++;
      }
      moved += this.deliverAll(only);
      if (moved === 0) return;
    }
    throw new Error('stabilize did not settle in 1000 rounds');
  }

  /** Ticks node n at its own next deadline (an election timeout, a heartbeat), moving time there. */
  tickDeadline(n: number): void {
    const deadline = nextDeadline(this.state(n));
    this.now = Math.max(this.now, deadline);
    this.input(n, { kind: 'tick', now: ms(this.now) });
  }

  /**
   * Advances time by `deltaMs`, ticking every node at each deadline on the way, with writes and
   * messages settling after each tick (a fast network and disk; bounded).
   */
  advance(deltaMs: number): void {
    const end = this.now + deltaMs;
    this.quietHeartbeats = true;
    try {
      this.advanceTo(end);
    } finally {
      this.quietHeartbeats = false;
    }
  }

  private advanceTo(end: number): void {
    for (let i = 0; i < 100_000; i++) {
      let next: { n: number; at: number } | undefined;
      for (const [n, node] of this.nodes) {
        if (node.state === undefined) continue;
        const at = nextDeadline(node.state);
        if (at <= end && (next === undefined || at < next.at)) next = { n, at };
      }
      if (next === undefined) break;
      this.now = Math.max(this.now, next.at);
      this.input(next.n, { kind: 'tick', now: ms(this.now) });
      this.stabilize();
    }
    this.now = end;
  }

  partition(groups: readonly (readonly number[])[]): void {
    for (const a of groups)
      for (const b of groups)
        if (a !== b) for (const x of a) for (const y of b) this.cuts.add(`${x}>${y}`);
  }

  heal(): void {
    this.cuts.clear();
  }

  // ---- views ----

  status(): string[] {
    return [...this.nodes.values()].map((node) => {
      const s = node.state;
      if (s === undefined) return `n${node.n}: down`;
      const leader = s.leader === undefined ? '-' : readable(s.leader.id.slice(0, 6));
      return `n${node.n}: ${s.role} term=${s.term} leader=${leader} commit=${s.commitIndex} applied=${s.appliedIndex} last=${lastIndex(s.log)}`;
    });
  }

  logOf(n: number): string {
    const s = this.state(n);
    const terms = s.log.entries.map(
      (e) => `${e.term}${e.kind === 'config' ? 'c' : e.kind === 'noop' ? '-' : ''}`,
    );
    const base =
      s.log.snapshotIndex > 0 ? `snapshot ${s.log.snapshotIndex}@${s.log.snapshotTerm} ` : '';
    return `n${n}: ${base}[${terms.join(' ')}]`;
  }

  take(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }

  propose(n: number, text: string, requestId?: number): void {
    this.input(n, {
      kind: 'propose',
      now: ms(this.now),
      data: new TextEncoder().encode(text),
      ...(requestId === undefined ? {} : { requestId }),
    });
  }

  appliedIndexOf(n: number): LogIndex {
    return this.state(n).appliedIndex;
  }

  millis(): Millis {
    return ms(this.now);
  }
}
