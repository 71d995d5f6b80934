/**
 * Writes of a `raft` member (docs/design/raft-kv.md, "How a request travels", "What a timeout
 * means"): every command is proposed with a client session (Raft thesis §6.3), sent to the
 * leader (proposed here when this member leads, forwarded otherwise), and its caller is
 * answered when the entry applies on THIS member, matched by the session in the entry. So the
 * caller reads its own write at once, wherever it wrote.
 *
 * A lost attempt (the leader changed, the forward was refused, the entry was overwritten) is
 * retried with the same session until the request's deadline, so a command applies at most once
 * however often it is sent. Sessions come from a pool of lanes: each lane is a session
 * (`<member>.<life>.<n>`, the life id random per process life: a new life never reuses an old
 * life's session) with one command outstanding at a time, as the thesis's sessions require; a
 * lane the store evicted (ERR_SESSION_EXPIRED on a command that cannot have applied) is replaced
 * by a new one and the command sent again.
 *
 * A write that comes while no leader is known (an election is running) waits for one up to
 * `leaderWaitMs` (the longest election timeout) and is sent as soon as one is known, as etcd holds
 * a proposal during an election; it fails ERR_NO_LEADER only if none came by then. Failing it at
 * once made etcd's clients, which treat UNAVAILABLE as a broken connection, close and re-dial
 * their channel in the middle of a failover: the first write after a new leader waited for the
 * re-dial, hundreds of ms on a loaded machine (docs/benchmarks.md, "Failover").
 *
 * Outcomes: the applied result; ERR_NO_LEADER when no leader was known and nothing was sent;
 * ERR_TIMEOUT when the deadline passed after something was sent (it may or may not have
 * applied); ERR_ABORTED when the caller's signal fired first (the same doubt); ERR_TOO_LARGE and
 * the store's own refusals as they are.
 */
import { ShoalError } from '../base/errors.js';
import { ms, type Clock, type TimerHandle } from '../base/time.js';
import { encodeCommand } from '../kv/codec.js';
import type { KvConfig } from '../kv/config.js';
import type { ApplyOutput, KvOp, Session } from '../kv/types.js';
import type { CancelSignal } from './kv-service.js';
import { sessionExpired, sessionKey } from './raft-kv-machine.js';
import type { RpcOutcome } from './raft-rpc.js';

/** How a proposal reaches the leader. */
export interface ProposalRoute {
  /** The current leader's identity (changes with the leader or its term), or undefined. */
  leaderKey(): string | undefined;
  /** One attempt: proposes `data` to the leader; resolves with that attempt's outcome. */
  send(data: Uint8Array, timeoutMs: number): Promise<RpcOutcome>;
}

export interface ProposalOptions {
  /** The caller's own session (retries of one logical command reuse it); a lane's otherwise. */
  session?: Session | undefined;
  signal?: CancelSignal | undefined;
  /** Overrides the default deadline, ms. */
  timeoutMs?: number | undefined;
}

interface Lane {
  readonly clientId: string;
  seq: number;
  busy: boolean;
}

interface Waiter {
  key: string;
  data: Uint8Array;
  readonly op: KvOp;
  lane: Lane | undefined;
  readonly resolve: (output: ApplyOutput) => void;
  readonly reject: (err: ShoalError) => void;
  readonly deadlineMs: number;
  retry: TimerHandle | undefined;
  /** Set while no leader was known at submit: ends the wait with ERR_NO_LEADER. */
  leaderWait: TimerHandle | undefined;
  attempts: number;
  lastLeader: string | undefined;
  /** A snapshot replaced the store: an attempt may have applied without this member seeing it. */
  ambiguous: boolean;
  done: boolean;
  /** The caller's signal and the listener on it, when it gave one. */
  readonly signal: CancelSignal | undefined;
  onAbort: (() => void) | undefined;
}

export interface ProposalCounters {
  submitted: number;
  attempts: number;
  retries: number;
  applied: number;
  timedOut: number;
  lanesReplaced: number;
}

export class Proposals {
  private readonly waiters = new Map<string, Waiter>();
  private readonly free: Lane[] = [];
  private lanes = 0;
  private closed = false;
  /**
   * ONE timer for every waiter's deadline, armed for the earliest (a timer and a closure per
   * write cost about a tenth of a leader's CPU under load): `sweep` expires what is due and
   * arms it again for the next. It stays armed when the last waiter finishes (at c = 1 that
   * was a setTimeout and a clearTimeout per write): a sweep that finds nothing due arms nothing.
   */
  private deadlineTimer: TimerHandle | undefined;
  private deadlineTimerAtMs = Infinity;
  readonly counters: ProposalCounters = {
    submitted: 0,
    attempts: 0,
    retries: 0,
    applied: 0,
    timedOut: 0,
    lanesReplaced: 0,
  };

  constructor(
    private readonly opts: {
      route: ProposalRoute;
      clock: Clock;
      config: KvConfig;
      /** Prefix of this member life's lane client ids. */
      clientIdPrefix: string;
      timeoutMs: number;
      /** How long a write that came with no leader known waits for one, ms. */
      leaderWaitMs: number;
      retryDelayMs: number;
      /** Most writes waiting on this member (further ones fail ERR_QUEUE_FULL). */
      pendingMax: number;
    },
  ) {}

  get pending(): number {
    return this.waiters.size;
  }

  /** Proposes `op`; resolves with its output once the entry applied on this member. */
  submit(op: KvOp, options: ProposalOptions = {}): Promise<ApplyOutput> {
    if (this.closed) throw new ShoalError('ERR_TRANSPORT_CLOSED', 'the node is closed');
    if (options.signal?.aborted === true) throw new ShoalError('ERR_ABORTED', `${op.kind} aborted`);
    if (this.waiters.size >= this.opts.pendingMax)
      throw new ShoalError(
        'ERR_QUEUE_FULL',
        `${this.waiters.size} writes are waiting on this member (pendingRequestsMax); retry later`,
      );
    const lane = options.session === undefined ? this.acquire() : undefined;
    let encoded: { key: string; data: Uint8Array };
    try {
      encoded = this.encode(op, options.session, lane);
    } catch (err) {
      if (lane !== undefined) this.release(lane);
      throw err;
    }
    this.counters.submitted++;
    const timeoutMs = options.timeoutMs ?? this.opts.timeoutMs;
    const signal = options.signal;
    return new Promise<ApplyOutput>((resolve, reject) => {
      const waiter: Waiter = {
        key: encoded.key,
        data: encoded.data,
        op,
        lane,
        resolve,
        reject,
        deadlineMs: this.opts.clock.now() + timeoutMs,
        retry: undefined,
        leaderWait:
          this.opts.route.leaderKey() === undefined && this.opts.leaderWaitMs < timeoutMs
            ? this.opts.clock.setTimer(ms(this.opts.leaderWaitMs), () => this.noLeader(waiter))
            : undefined,
        attempts: 0,
        lastLeader: undefined,
        ambiguous: false,
        done: false,
        signal,
        onAbort: undefined,
      };
      if (signal !== undefined) {
        waiter.onAbort = () =>
          this.fail(
            waiter,
            new ShoalError('ERR_ABORTED', `${op.kind} aborted; it may or may not have applied`),
          );
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.set(waiter.key, waiter);
      this.armDeadline(waiter.deadlineMs);
      this.attempt(waiter);
    });
  }

  /** Arms the deadline timer for `atMs` when that is earlier than the one it is armed for. */
  private armDeadline(atMs: number): void {
    if (atMs >= this.deadlineTimerAtMs) return;
    this.deadlineTimer?.cancel();
    this.deadlineTimerAtMs = atMs;
    const delayMs = Math.max(0, atMs - this.opts.clock.now());
    this.deadlineTimer = this.opts.clock.setTimer(ms(delayMs), () => this.sweep());
  }

  /** Expires every waiter whose deadline passed; arms the timer for the earliest of the rest. */
  private sweep(): void {
    this.deadlineTimer = undefined;
    this.deadlineTimerAtMs = Infinity;
    const now = this.opts.clock.now();
    let next = Infinity;
    for (const w of [...this.waiters.values()]) {
      if (w.deadlineMs <= now) this.expire(w);
      else if (!w.done) next = Math.min(next, w.deadlineMs);
    }
    if (next < Infinity) this.armDeadline(next);
  }

  private acquire(): Lane {
    const lane = this.free.pop();
    if (lane !== undefined) {
      lane.busy = true;
      return lane;
    }
    return { clientId: `${this.opts.clientIdPrefix}.${++this.lanes}`, seq: 0, busy: true };
  }

  /** The command with its session; a lane's seq moves only once the command is valid. */
  private encode(op: KvOp, session: Session | undefined, lane: Lane | undefined) {
    const chosen = session ?? { clientId: (lane as Lane).clientId, seq: (lane as Lane).seq + 1 };
    const data = encodeCommand({ session: chosen, op }, this.opts.config);
    if (!(data instanceof Uint8Array)) throw new ShoalError(data.code, data.message);
    if (lane !== undefined) lane.seq = chosen.seq;
    return { key: sessionKey(chosen), data };
  }

  private attempt(w: Waiter): void {
    if (w.done) return;
    w.retry?.cancel();
    w.retry = undefined;
    const leader = this.opts.route.leaderKey();
    if (leader === undefined) return this.later(w);
    if (w.attempts > 0) this.counters.retries++;
    w.attempts++;
    w.lastLeader = leader;
    this.counters.attempts++;
    const remainingMs = Math.max(1, w.deadlineMs - this.opts.clock.now());
    void this.opts.route.send(w.data, remainingMs).then((outcome) => this.onAttempt(w, outcome));
  }

  private onAttempt(w: Waiter, outcome: RpcOutcome): void {
    if (w.done || outcome.kind === 'ok') return; // ok: answered when it applies here
    if (outcome.kind === 'refused') {
      if (outcome.reason === 'too-large')
        return this.fail(w, new ShoalError('ERR_TOO_LARGE', outcome.message));
      return this.later(w);
    }
    if (outcome.code === 'ERR_QUEUE_FULL' || outcome.code === 'ERR_NOT_LEADER')
      return this.later(w);
    this.fail(w, new ShoalError(outcome.code, outcome.message));
  }

  /** Tries again after retryDelayMs, or sooner when the leader changes. */
  private later(w: Waiter): void {
    if (w.done || w.retry !== undefined) return;
    w.retry = this.opts.clock.setTimer(ms(this.opts.retryDelayMs), () => {
      w.retry = undefined;
      this.attempt(w);
    });
  }

  /** The leader changed: every waiting write whose last attempt went elsewhere is sent again. */
  onLeaderChange(): void {
    const leader = this.opts.route.leaderKey();
    if (leader === undefined) return;
    for (const w of [...this.waiters.values()]) if (w.lastLeader !== leader) this.attempt(w);
  }

  /**
   * The store was replaced by a leader's snapshot: a write may have applied in the entries it
   * covers. Each is sent again: its session answers with the recorded result if it did.
   */
  onRestored(): void {
    for (const w of [...this.waiters.values()]) {
      w.ambiguous = true;
      this.attempt(w);
    }
  }

  /** An applied command with a session: the waiting caller, if it is ours, gets its output. */
  onResult(key: string, output: ApplyOutput): void {
    const w = this.waiters.get(key);
    if (w === undefined) return;
    if (w.lane !== undefined && sessionExpired(output)) return this.replaceLane(w);
    this.finish(w);
    if (w.lane !== undefined) this.release(w.lane);
    this.counters.applied++;
    w.resolve(output);
  }

  /**
   * The lane's session was evicted before this command applied (it did not apply: a command
   * that applied would have answered first, unless a snapshot hid it). A new lane sends it again.
   */
  private replaceLane(w: Waiter): void {
    if (w.ambiguous)
      return this.fail(
        w,
        new ShoalError(
          'ERR_TIMEOUT',
          `${w.op.kind}: its session expired; it may or may not have applied`,
        ),
      );
    this.counters.lanesReplaced++;
    this.waiters.delete(w.key);
    w.lane = this.acquire();
    const encoded = this.encode(w.op, undefined, w.lane);
    w.key = encoded.key;
    w.data = encoded.data;
    this.waiters.set(w.key, w);
    this.attempt(w);
  }

  private expire(w: Waiter): void {
    if (w.done) return;
    this.counters.timedOut++;
    this.fail(
      w,
      w.attempts === 0
        ? new ShoalError(
            'ERR_NO_LEADER',
            `${w.op.kind}: no Raft leader was reachable; nothing was applied`,
          )
        : new ShoalError(
            'ERR_TIMEOUT',
            `${w.op.kind} did not complete in time; it may or may not have applied (retry with the same session to apply it at most once)`,
          ),
    );
  }

  /** No leader came within leaderWaitMs of a write that found none: nothing was sent. */
  private noLeader(w: Waiter): void {
    w.leaderWait = undefined;
    if (w.done || w.attempts > 0) return;
    this.counters.timedOut++;
    this.fail(
      w,
      new ShoalError(
        'ERR_NO_LEADER',
        `${w.op.kind}: no Raft leader is known (none came within ${this.opts.leaderWaitMs} ms); nothing was applied, retry later`,
      ),
    );
  }

  private fail(w: Waiter, err: ShoalError): void {
    if (w.done) return;
    this.finish(w);
    // The lane's next command takes the next seq: a late copy of this one is refused as stale.
    if (w.lane !== undefined) this.release(w.lane);
    w.reject(err);
  }

  private finish(w: Waiter): void {
    w.done = true;
    this.waiters.delete(w.key);
    w.retry?.cancel();
    w.leaderWait?.cancel();
    if (w.onAbort !== undefined) w.signal?.removeEventListener('abort', w.onAbort);
  }

  private release(lane: Lane): void {
    lane.busy = false;
    this.free.push(lane);
  }

  /** Fails every waiting write (the node stopped). */
  close(): void {
    this.closed = true;
    this.deadlineTimer?.cancel();
    this.deadlineTimer = undefined;
    this.deadlineTimerAtMs = Infinity;
    for (const w of [...this.waiters.values()])
      this.fail(
        w,
        new ShoalError(
          'ERR_TRANSPORT_CLOSED',
          `${w.op.kind}: the node closed; it may or may not have applied`,
        ),
      );
  }
}
