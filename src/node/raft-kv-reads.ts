/**
 * Linearizable reads of a `raft` member (Raft thesis §6.4; docs/design/raft-kv.md, "Read
 * modes"): a caller waits until this member has applied a ReadIndex the leader confirmed after
 * the caller asked, then reads its own replica. Reads are batched as etcd's read loop batches
 * them: one ReadIndex is in flight at a time, and every read that arrives meanwhile waits for
 * the next one, which starts when the current one ends. So a read never rides on a ReadIndex
 * asked before it arrived (that could miss a write acknowledged in between), and a burst of
 * reads costs one heartbeat round. A ReadIndex does not start on the read that finds none in
 * flight but at the end of that event-loop turn (`setImmediate`), so every read that arrived in
 * the same turn (a socket read carries many HTTP/2 requests, each handled in the turn) rides on
 * the same round: started on the first, the round would carry one read and the turn's others
 * would wait a whole round more.
 *
 * A ReadIndex the core could not confirm (leadership moved, a forwarded read timed out) is
 * asked again until the caller's deadline (reads change nothing, so retrying is always safe);
 * ERR_NO_LEADER when no leader is known, ERR_TIMEOUT at the deadline.
 */
import { ShoalError } from '../base/errors.js';
import { ms, type Clock, type TimerHandle } from '../base/time.js';
import type { CancelSignal } from './kv-service.js';
import type { ReadOutcome } from './raft-core-requests.js';

interface ReadWaiter {
  readonly resolve: () => void;
  readonly reject: (err: ShoalError) => void;
  readonly timer: TimerHandle;
  readonly cleanup: () => void;
  done: boolean;
}

export interface ReadCounters {
  reads: number;
  readIndexes: number;
  retries: number;
  timedOut: number;
}

export class Reads {
  private current: ReadWaiter[] | undefined;
  private next: ReadWaiter[] = [];
  private retry: TimerHandle | undefined;
  /** A ReadIndex is to start at the end of this turn. */
  private startScheduled = false;
  private closed = false;
  readonly counters: ReadCounters = { reads: 0, readIndexes: 0, retries: 0, timedOut: 0 };

  constructor(
    private readonly opts: {
      clock: Clock;
      /** One ReadIndex of the core; the leader must be known for it to succeed. */
      readIndex: () => Promise<ReadOutcome>;
      hasLeader: () => boolean;
      timeoutMs: number;
      retryDelayMs: number;
      pendingMax: number;
    },
  ) {}

  /** Resolves once a linearizable read may be served from this member's replica. */
  wait(what: string, signal?: CancelSignal, timeoutMs = this.opts.timeoutMs): Promise<void> {
    if (this.closed) throw new ShoalError('ERR_TRANSPORT_CLOSED', 'the node is closed');
    if (signal?.aborted === true) throw new ShoalError('ERR_ABORTED', `${what} aborted`);
    if (!this.opts.hasLeader())
      throw new ShoalError('ERR_NO_LEADER', 'no Raft leader is known right now; retry later');
    const queued = this.next.length + (this.current?.length ?? 0);
    if (queued >= this.opts.pendingMax)
      throw new ShoalError(
        'ERR_QUEUE_FULL',
        `${queued} reads are waiting on this member; retry later`,
      );
    this.counters.reads++;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void =>
        this.end(waiter, new ShoalError('ERR_ABORTED', `${what} aborted`));
      const waiter: ReadWaiter = {
        resolve,
        reject,
        timer: this.opts.clock.setTimer(ms(timeoutMs), () => {
          this.counters.timedOut++;
          this.end(
            waiter,
            new ShoalError(
              'ERR_TIMEOUT',
              `${what}: no leader confirmed the read in ${timeoutMs} ms`,
            ),
          );
        }),
        cleanup: () => signal?.removeEventListener('abort', onAbort),
        done: false,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.next.push(waiter);
      if (this.current === undefined && this.retry === undefined && !this.startScheduled) {
        this.startScheduled = true;
        setImmediate(() => {
          this.startScheduled = false;
          if (this.current === undefined && this.retry === undefined) this.start();
        });
      }
    });
  }

  private end(w: ReadWaiter, err?: ShoalError): void {
    if (w.done) return;
    w.done = true;
    w.timer.cancel();
    w.cleanup();
    if (err === undefined) w.resolve();
    else w.reject(err);
  }

  private start(): void {
    const batch = this.next.filter((w) => !w.done);
    this.next = [];
    if (batch.length === 0 || this.closed) return;
    this.current = batch;
    this.counters.readIndexes++;
    void this.opts.readIndex().then((outcome) => this.onOutcome(batch, outcome));
  }

  private onOutcome(batch: ReadWaiter[], outcome: ReadOutcome): void {
    this.current = undefined;
    if (outcome.ok) for (const w of batch) this.end(w);
    else if (outcome.reason === 'queue-full')
      for (const w of batch)
        this.end(
          w,
          new ShoalError('ERR_QUEUE_FULL', 'the Raft core has too many reads waiting; retry later'),
        );
    else if (outcome.reason === 'unknown')
      for (const w of batch) this.end(w, new ShoalError('ERR_TRANSPORT_CLOSED', 'the node closed'));
    else {
      // Not confirmed (no leader, leadership moved, a forwarded read timed out): ask again.
      this.next = [...batch, ...this.next];
      this.counters.retries++;
      this.retry = this.opts.clock.setTimer(ms(this.opts.retryDelayMs), () => {
        this.retry = undefined;
        this.start();
      });
      return;
    }
    this.start();
  }

  /** A new leader is known: a read waiting to retry goes now. */
  onLeaderChange(): void {
    if (this.retry === undefined || !this.opts.hasLeader()) return;
    this.retry.cancel();
    this.retry = undefined;
    this.start();
  }

  close(): void {
    this.closed = true;
    this.retry?.cancel();
    for (const w of [...this.next, ...(this.current ?? [])])
      this.end(w, new ShoalError('ERR_TRANSPORT_CLOSED', 'the node closed'));
  }
}
