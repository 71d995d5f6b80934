/**
 * The replicated store of the `worker-tier` scenarios: Raft as the worker tier sees it, a
 * linearizable log with one leader at a time, over the real key-value state machine (src/kv).
 * A leader needs to be up and to reach a majority of the servers; when it loses that, a new
 * one is chosen among the servers that have it, after an election delay, in a new term. A write
 * is proposed by a server, commits only if that server reaches the leader and the leader still
 * leads when it applies, and is answered after a delay (a lost answer is an unknown outcome, as
 * with a real node). Every server applies the log on its own clock with its own lag (followers
 * serve from their applied state); a paused server applies nothing until it resumes.
 *
 * The model is Raft's guarantees taken as given (the raft scenarios check those); what these
 * scenarios check is the worker tier on top of them.
 */
import type { Address } from '../../base/address.js';
import type { Rng } from '../../base/rng.js';
import { logIndex } from '../../base/units.js';
import { kvConfig } from '../../kv/config.js';
import { apply, createKvStore, type KvState } from '../../kv/store.js';
import type { KvEvent, KvOp, KvResult } from '../../kv/types.js';
import type { SimWorld } from '../runner.js';

/** How long an election takes once the leader is lost, ms. */
export const ELECTION_MS = 300;
/** How often the model checks that the leader still leads, ms. */
const LEADER_CHECK_MS = 50;

export interface CommittedRevision {
  readonly revision: number;
  readonly events: readonly KvEvent[];
}

export class SimStore {
  readonly state: KvState = createKvStore(kvConfig());
  /** Every revision that changed something, in order. */
  readonly log: CommittedRevision[] = [];
  leader: Address | undefined;
  term = 0;
  private index = 0;
  private lostAtMs: number | undefined;
  readonly up = new Set<Address>();
  private readonly listeners: ((leader: Address | undefined, term: number) => void)[] = [];
  private readonly appliers: ((entry: CommittedRevision) => void)[] = [];
  readonly counters = { writes: 0, refused: 0, elections: 0 };

  constructor(
    private readonly world: SimWorld,
    readonly servers: readonly Address[],
    private readonly rng: Rng,
  ) {
    const check = (): void => {
      this.checkLeader();
      world.clock.at(world.clock.now() + LEADER_CHECK_MS, check);
    };
    world.clock.at(0, check);
  }

  onLeader(listener: (leader: Address | undefined, term: number) => void): void {
    this.listeners.push(listener);
  }

  onCommit(applier: (entry: CommittedRevision) => void): void {
    this.appliers.push(applier);
  }

  /** True when `a` can exchange messages with `b` now (up, not paused, not cut). */
  reaches(a: Address, b: Address): boolean {
    const net = this.world.network;
    if (!this.up.has(a) || !this.up.has(b) || net.isPaused(a) || net.isPaused(b)) return false;
    return a === b || (!net.isBlocked(a, b) && !net.isBlocked(b, a));
  }

  private hasMajority(a: Address): boolean {
    const reached = this.servers.filter((s) => this.reaches(a, s)).length;
    return reached * 2 > this.servers.length;
  }

  private checkLeader(): void {
    const now = this.world.clock.now();
    if (this.leader !== undefined && this.hasMajority(this.leader)) return;
    if (this.leader !== undefined) {
      this.leader = undefined;
      this.lostAtMs = now;
      for (const l of this.listeners) l(undefined, this.term);
    }
    this.lostAtMs ??= now;
    if (now - this.lostAtMs < ELECTION_MS) return;
    const candidates = this.servers.filter((s) => this.hasMajority(s));
    if (candidates.length === 0) return;
    this.leader = candidates[this.rng.int(candidates.length)] as Address;
    this.term++;
    this.lostAtMs = undefined;
    this.counters.elections++;
    this.world.trace.add(`store leader ${this.leader} t${this.term}`);
    for (const l of this.listeners) l(this.leader, this.term);
  }

  /** Leadership moves to another server that has a majority (a transfer, or a leader that stepped down). */
  transfer(): void {
    const others = this.servers.filter((s) => s !== this.leader && this.hasMajority(s));
    if (this.leader === undefined || others.length === 0) return;
    this.leader = others[this.rng.int(others.length)] as Address;
    this.term++;
    this.counters.elections++;
    this.world.trace.add(`store leader transferred to ${this.leader} t${this.term}`);
    for (const l of this.listeners) l(this.leader, this.term);
  }

  /**
   * Proposes `op` from server `from`; `done` gets the result, or undefined when the write was
   * refused (no leader reachable) or its answer was lost (it may or may not have applied).
   */
  propose(from: Address, op: KvOp, done: (result: KvResult | undefined) => void): void {
    const clock = this.world.clock;
    const delay = (): number => 2 + this.rng.int(10);
    const leader = this.leader;
    if (leader === undefined || !this.reaches(from, leader)) {
      this.counters.refused++;
      clock.at(clock.now() + delay(), () => done(undefined));
      return;
    }
    const term = this.term;
    clock.at(clock.now() + delay(), () => {
      if (this.leader !== leader || this.term !== term || !this.hasMajority(leader))
        return done(undefined);
      const result = this.applyNow(op);
      clock.at(clock.now() + delay(), () => done(this.reaches(from, leader) ? result : undefined));
    });
  }

  /** Applies at once (setup, and commits above). */
  applyNow(op: KvOp): KvResult {
    const out = apply(this.state, { op }, logIndex(++this.index));
    this.counters.writes++;
    if (out.events.length > 0) {
      const entry = { revision: this.state.mvcc.revision, events: out.events };
      this.log.push(entry);
      for (const a of this.appliers) a(entry);
    }
    return out.result;
  }
}
