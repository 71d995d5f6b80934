/**
 * The leader side of leases on a `raft` member (docs/design/kv.md, "Leases"; docs/design/
 * raft-kv.md, "Leases and clocks"): the pure lessor (src/kv/lessor.ts) runs while this member
 * leads, on this member's monotonic clock. It is promoted when this member becomes leader
 * (every lease gets its full TTL plus an election timeout from then, so a keep-alive lost with
 * the old leader never expires a lease) and demoted when it stops leading. Expired leases are
 * revoked by proposing a revoke through Raft (expiry is decided once, by the leader, and
 * replicated); checkpoints of long leases go through the log too.
 *
 * One timer, armed at the lessor's next deadline. Keep-alives reach it here: on the leader
 * directly, from followers through the node channel (raft-rpc.ts).
 */
import type { Clock, Millis, TimerHandle } from '../base/time.js';
import { ms } from '../base/time.js';
import type { LessorConfig } from '../kv/config.js';
import {
  createLessor,
  demote,
  dueWork,
  keepAlive,
  nextDeadline,
  onLeaseChanges,
  promote,
  remainingMs,
  type KeepAliveOutcome,
  type LeaseRecord,
  type LessorState,
} from '../kv/lessor.js';
import type { KvOp, LeaseChange, LeaseId } from '../kv/types.js';

export interface LessorCounters {
  promotions: number;
  revokesProposed: number;
  checkpointsProposed: number;
  keepAlives: number;
}

export class LeaderLessor {
  private readonly lessor: LessorState;
  private timer: TimerHandle | undefined;
  private timerAtMs = Infinity;
  readonly counters: LessorCounters = {
    promotions: 0,
    revokesProposed: 0,
    checkpointsProposed: 0,
    keepAlives: 0,
  };

  constructor(
    config: LessorConfig,
    private readonly opts: {
      clock: Clock;
      /** Proposes a lessor command (fire and forget: a revoke that does not apply is proposed again). */
      propose: (op: KvOp) => void;
    },
  ) {
    this.lessor = createLessor(config);
  }

  get primary(): boolean {
    return this.lessor.primary;
  }

  private now(): Millis {
    return this.opts.clock.now();
  }

  /** This member became leader: track every lease of the replica from now. */
  promote(leases: Iterable<LeaseRecord>, extendMs: number): void {
    this.counters.promotions++;
    promote(this.lessor, leases, this.now(), extendMs);
    this.arm();
  }

  demote(): void {
    demote(this.lessor);
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAtMs = Infinity;
  }

  /** The replica applied grants, revokes or checkpoints. */
  onLeaseChanges(changes: readonly LeaseChange[]): void {
    if (!this.lessor.primary) return;
    onLeaseChanges(this.lessor, changes, this.now());
    this.arm();
  }

  keepAlive(id: LeaseId): KeepAliveOutcome {
    this.counters.keepAlives++;
    const outcome = keepAlive(this.lessor, id, this.now());
    this.arm();
    return outcome;
  }

  remainingMs(id: LeaseId): number | undefined {
    return remainingMs(this.lessor, id, this.now());
  }

  private arm(): void {
    const at = nextDeadline(this.lessor);
    if (at === undefined || at >= this.timerAtMs) return;
    this.timer?.cancel();
    this.timerAtMs = at;
    this.timer = this.opts.clock.setTimer(ms(Math.max(0, at - this.now())), () => this.tick());
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAtMs = Infinity;
    const work = dueWork(this.lessor, this.now());
    for (const id of work.revoke) {
      this.counters.revokesProposed++;
      this.opts.propose({ kind: 'lease-revoke', id });
    }
    if (work.checkpoints.length > 0) {
      this.counters.checkpointsProposed++;
      this.opts.propose({ kind: 'lease-checkpoint', checkpoints: work.checkpoints });
    }
    this.arm();
  }

  close(): void {
    this.demote();
  }
}
