/**
 * The one driver (STYLE.md section 2): runs any protocol core (src/base/protocol.ts) over a
 * transport, a clock and storage. Production gives it NetTransport, SystemClock and FsStorage;
 * the simulator gives it MemoryTransport on the SimNetwork, a NodeClock and SimStorage. No
 * protocol has a driver of its own, so timer arming, durable writes, decode counting, tracing and
 * invariant checks are written once and behave the same for every protocol.
 *
 * - Time: one timer, for `nextDeadline(state)` after every step; it feeds a `tick`. A deadline that
 *   moved later keeps the timer armed for the earlier one (a follower's election deadline moves
 *   on every append: cancelling and setting a timer per message was a visible cost of its
 *   profile); when it fires before the deadline it is set again for the rest, with no input, so
 *   the core sees the same ticks as with a timer re-armed on every step.
 * - Network: payloads are decoded by the protocol's `Wire`; a refusal is counted by its
 *   ERR_DECODE_* code, traced, and may carry a reply or an input; nothing else reaches the core.
 * - Disk: a step's `persist` records are written with `Storage.writeDurable` (write, fsync,
 *   rename, fsync of the directory), or, for a protocol with a `LogStore` (Raft's WAL), appended
 *   as one batch per job with one sync, one job at a time, in order, off the event loop. Steps
 *   that arrive while a job is in flight merge into the one job waiting behind it: that is group
 *   commit (many proposals per fdatasync under load, one when idle, no timer). Its
 *   `afterPersist` effects wait until every write issued so far is durable; then the core gets a
 *   `persisted` input. A step with nothing to write whose `afterPersist` arrives while earlier
 *   writes are pending waits behind them, so persist-before-send holds across steps too. A write
 *   that fails stops the driver (fail-stop: what depends on it was never sent) and reports it.
 * - Inputs run to completion: an input that arrives while a step's effects are performed (a
 *   callback that calls back in) is queued and stepped right after, never nested.
 */
import type { Address } from '../base/address.js';
import { AssertionError } from '../base/assert.js';
import type { Channel } from '../base/channel.js';
import type { ShoalError } from '../base/errors.js';
import {
  isLogStore,
  type CoreInput,
  type DurableWrite,
  type Protocol,
  type ProtocolTypes,
  type Ready,
  type RecordLog,
  type SendEffect,
  type StepContext,
} from '../base/protocol.js';
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
import type { Clock, Millis, TimerHandle } from '../base/time.js';
import type { Delivery, Transport } from '../transport/types.js';

/**
 * Most effects waiting behind unfinished writes. A disk that stalls this long behind the
 * protocol drops the oldest waiting sends (counted, like packet loss); local outputs are kept.
 */
export const AFTER_PERSIST_EFFECTS_MAX = 10_000;
/** Most inputs queued while a step's effects run (re-entrant calls from callbacks). */
export const REENTRANT_INPUTS_MAX = 1_024;

/** The effects of a protocol that are not sends: the driver hands them to its owner. */
export type OutputOf<T extends ProtocolTypes> = Exclude<T['effect'], SendEffect<T['message']>>;

export interface DriverOptions<T extends ProtocolTypes> {
  protocol: Protocol<T>;
  config: T['config'];
  clock: Clock;
  storage: Storage;
  rng: Rng;
  /** Required when the protocol has a `wire`. */
  transport?: Transport;
  /** Every effect that is not a send, in order. */
  onOutput: (effect: OutputOf<T>, input: CoreInput<T>) => void;
  /** Each input, effect, write and dropped payload, as one line. */
  onTrace?: (line: string) => void;
  /** Check invariants and the transition rule after every step; a violation is an AssertionError. */
  checkInvariants?: boolean;
  /** A durable write failed: the driver has stopped. */
  onFatal?: (error: ShoalError) => void;
  /** What a log store's recovery did at boot (a torn tail dropped, ...), one line each, for the node's log. */
  onNotice?: (line: string) => void;
  /**
   * Called at each effect boundary: after a send left (`sent`) and after a write became durable,
   * before the effects that waited for it (`durable`). The simulator observes what left and
   * crashes nodes here (`stop()` from inside is safe: nothing after the boundary happens).
   */
  onBoundary?: (boundary: Boundary<T>) => void;
}

/** An effect boundary (see `DriverOptions.onBoundary`). */
export type Boundary<T extends ProtocolTypes> =
  | { kind: 'sent'; to: Address; message: T['message'] }
  | { kind: 'durable'; records: readonly T['record'][] };

/** What the driver counts, for metrics and tests. */
export interface DriverCounters {
  steps: number;
  /** Durable writes finished: files replaced (a `Store`), or batches appended (a `LogStore`). */
  writes: number;
  /** Records made durable (with a `LogStore`, `persistedRecords / writes` is the group-commit factor). */
  persistedRecords: number;
  writeErrors: number;
  /** Sum and maximum of write latency (issue to durable), ms. */
  writeMsTotal: number;
  writeMsMax: number;
  /** Sends dropped because more than AFTER_PERSIST_EFFECTS_MAX effects waited on the disk. */
  sendsDroppedBehindDisk: number;
  /** Inputs that arrived during a step and were stepped after it. */
  inputsDeferred: number;
}

/** A driver's counters and its pending writes, for `node.stats()` and metrics; `log` holds a log store's own counters. */
export type DriverStats = DriverCounters & {
  writesPending: number;
  log?: Readonly<Record<string, number>>;
};

interface WriteJob<T extends ProtocolTypes> {
  records: T['record'][];
  writes: DurableWrite[];
  after: T['effect'][];
}

export class ProtocolDriver<T extends ProtocolTypes> {
  private current: T['state'];
  readonly decodeErrors: Record<string, number> = {};
  readonly counters: DriverCounters = {
    steps: 0,
    writes: 0,
    persistedRecords: 0,
    writeErrors: 0,
    writeMsTotal: 0,
    writeMsMax: 0,
    sendsDroppedBehindDisk: 0,
    inputsDeferred: 0,
  };
  private timer: TimerHandle | undefined;
  private timerAtMs: Millis | undefined;
  private stopped = false;
  private stepping = false;
  private readonly deferred: CoreInput<T>[] = [];
  /** Writes not yet durable: the head is being written, the rest wait (merged into one). */
  private readonly jobs: WriteJob<T>[] = [];
  private writing = false;
  private waitingEffects = 0;
  /** One context for every step (a step runs for every packet: no allocation per step). */
  private readonly stepContext: StepContext;
  /** The open log, when the protocol's store is a `LogStore`. */
  private readonly log: RecordLog<T['record']> | undefined;

  constructor(private readonly opts: DriverOptions<T>) {
    const { protocol, storage, clock, rng } = opts;
    this.stepContext = { rng };
    let persisted: T['persisted'] | undefined;
    const store = protocol.store;
    if (store !== undefined && isLogStore(store)) {
      const opened = store.open(storage);
      persisted = opened.persisted;
      this.log = opened.log;
      for (const note of opened.notes) {
        opts.onTrace?.(`recover ${note}`);
        opts.onNotice?.(note);
      }
    } else if (store !== undefined) persisted = store.load(storage);
    this.current = protocol.core.init(opts.config, persisted as T['persisted'], {
      now: clock.now(),
      rng,
    });
    const { wire } = protocol;
    if (wire === undefined) return;
    if (opts.transport === undefined)
      throw new AssertionError(`${protocol.core.name}: a protocol with a wire needs a transport`);
    opts.transport.onReceive((from, channel, data) => this.onPayload(from, channel, data));
    const refused = wire.refused;
    if (refused !== undefined) {
      opts.transport.onStreamRefused((to, refusal) => {
        const input = refused.call(wire, to, clock.now(), refusal !== undefined);
        if (input !== undefined) this.input(input);
      });
    }
  }

  /** The core's current state (cores mutate it in place: do not keep references across steps). */
  get state(): T['state'] {
    return this.current;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Durable writes issued and not yet finished. */
  get writesPending(): number {
    return this.jobs.length;
  }

  stats(): DriverStats {
    const stats: DriverStats = { ...this.counters, writesPending: this.jobs.length };
    if (this.log !== undefined) stats.log = this.log.counters();
    return stats;
  }

  /** Arms the timer for the core's first deadline (a core may need a tick before any input). */
  start(): void {
    this.arm();
  }

  /**
   * Steps the core with `input` and performs what it asks. Returns the step's immediate effects
   * (a local request reads its refusal there); empty when stopped or when the input had to wait
   * for a step in progress.
   */
  input(input: CoreInput<T>): readonly T['effect'][] {
    if (this.stopped) return [];
    if (this.stepping) {
      if (this.deferred.length >= REENTRANT_INPUTS_MAX)
        throw new AssertionError(
          `${this.opts.protocol.core.name}: more than ${REENTRANT_INPUTS_MAX} re-entrant inputs`,
        );
      this.counters.inputsDeferred++;
      this.deferred.push(input);
      return [];
    }
    this.stepping = true;
    let effects: readonly T['effect'][];
    try {
      effects = this.runStep(input);
      while (this.deferred.length > 0 && !this.stopped)
        this.runStep(this.deferred.shift() as CoreInput<T>);
    } finally {
      this.stepping = false;
    }
    this.arm();
    return effects;
  }

  /** Stops timers, input handling and the log store; does not close the transport (its owner does). Idempotent. */
  stop(): void {
    if (!this.stopped) this.log?.close();
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.jobs.length = 0;
    this.deferred.length = 0;
  }

  private runStep(input: CoreInput<T>): readonly T['effect'][] {
    const { core } = this.opts.protocol;
    const trace = this.opts.onTrace;
    trace?.(`in  ${core.describeInput(input)}`);
    const before = this.opts.checkInvariants === true ? core.snapshot(this.current) : undefined;
    const ready = core.step(this.current, input, this.stepContext);
    this.current = ready.state;
    this.counters.steps++;
    if (before !== undefined) this.check(before, input);
    for (const effect of ready.effects) this.perform(effect, input, 'out');
    this.enqueue(ready, input);
    return ready.effects;
  }

  private check(before: T['snapshot'], input: CoreInput<T>): void {
    const { core } = this.opts.protocol;
    const broken = [
      ...core.checkInvariants(this.current),
      ...core.checkTransition(before, this.current, input),
    ];
    if (broken.length > 0) throw new AssertionError(`${core.name} invariant: ${broken.join('; ')}`);
  }

  private perform(effect: T['effect'], input: CoreInput<T>, tag: string): void {
    if (this.stopped) return;
    this.opts.onTrace?.(`${tag} ${this.opts.protocol.core.describeEffect(effect)}`);
    if (effect.kind === 'send') return this.send(effect as SendEffect<T['message']>);
    this.opts.onOutput(effect as OutputOf<T>, input);
  }

  private send(effect: SendEffect<T['message']>): void {
    const { wire } = this.opts.protocol;
    const transport = this.opts.transport;
    if (wire === undefined || transport === undefined)
      throw new AssertionError(
        `${this.opts.protocol.core.name}: a send needs a wire and a transport`,
      );
    this.transmit(
      transport,
      effect.to,
      effect.channel,
      wire.encode(effect.message, effect.channel),
    );
    this.opts.onBoundary?.({ kind: 'sent', to: effect.to, message: effect.message });
  }

  private transmit(transport: Transport, to: Address, channel: Channel, data: Uint8Array): void {
    if (channel === 'packet') transport.sendPacket(to, data);
    else transport.sendFrame(to, data);
  }

  /** Decodes and steps one payload; what it made of it tells a stream transport whether the connection authenticated. */
  private onPayload(from: Address, channel: Channel, data: Uint8Array): Delivery {
    if (this.stopped) return 'refused';
    const wire = this.opts.protocol.wire;
    if (wire === undefined) return 'refused';
    const received = wire.decode(data, from, channel, this.opts.clock.now());
    if (received.ok) {
      this.input(received.input);
      return 'accepted';
    }
    this.decodeErrors[received.code] = (this.decodeErrors[received.code] ?? 0) + 1;
    this.opts.onTrace?.(`drop ${channel} from ${from}: ${received.code} ${received.detail}`);
    if (received.reply !== undefined && this.opts.transport !== undefined) {
      this.transmit(
        this.opts.transport,
        received.reply.to,
        received.reply.channel,
        received.reply.data,
      );
    }
    if (received.input !== undefined) this.input(received.input);
    return 'refused';
  }

  // ---- durable writes ----

  private enqueue(ready: Ready<T['state'], T['effect'], T['record']>, input: CoreInput<T>): void {
    const last = this.jobs[this.jobs.length - 1];
    if (ready.persist.length === 0) {
      // Nothing new to write: the effects wait behind the last pending write, or go now.
      if (last === undefined)
        for (const effect of ready.afterPersist) this.perform(effect, input, 'out');
      else this.merge(last, [], [], ready.afterPersist);
      return;
    }
    const store = this.opts.protocol.store;
    if (store === undefined)
      throw new AssertionError(`${this.opts.protocol.core.name}: a persist needs a store`);
    for (const record of ready.persist)
      this.opts.onTrace?.(`persist ${this.opts.protocol.core.describeRecord(record)}`);
    // A log store appends the job's records as one batch: there are no files to replace.
    const writes = isLogStore(store) ? [] : ready.persist.map((record) => store.write(record));
    // At most one job waits behind the one in flight: a later step merges into it.
    if (last !== undefined && this.jobs.length >= 2)
      this.merge(last, ready.persist, writes, ready.afterPersist);
    else {
      this.jobs.push({ records: [...ready.persist], writes, after: [...ready.afterPersist] });
      this.waitingEffects += ready.afterPersist.length;
      this.bound();
    }
    this.pump();
  }

  /** Adds a step to a pending job. A newer write of a path replaces the older ones not yet started. */
  private merge(
    job: WriteJob<T>,
    records: readonly T['record'][],
    writes: readonly DurableWrite[],
    after: readonly T['effect'][],
  ): void {
    job.records.push(...records);
    for (const write of writes) {
      // The newest write of a path replaces every older one of it, at the last one's place: a
      // store may write one path for each record of a step (a whole-file store), and an older
      // write left behind the newest would undo it (found by the Raft sweep's raft-file runs).
      const last = job.writes.findLastIndex((w) => w.path === write.path);
      if (last < 0) {
        job.writes.push(write);
        continue;
      }
      job.writes[last] = write;
      for (let i = last - 1; i >= 0; i--)
        if (job.writes[i]?.path === write.path) job.writes.splice(i, 1);
    }
    job.after.push(...after);
    this.waitingEffects += after.length;
    this.bound();
  }

  /** Keeps the waiting effects within AFTER_PERSIST_EFFECTS_MAX by dropping the oldest sends. */
  private bound(): void {
    for (const job of this.jobs) {
      if (this.waitingEffects <= AFTER_PERSIST_EFFECTS_MAX) return;
      const kept = job.after.filter((effect) => {
        if (this.waitingEffects <= AFTER_PERSIST_EFFECTS_MAX || effect.kind !== 'send') return true;
        this.waitingEffects--;
        this.counters.sendsDroppedBehindDisk++;
        return false;
      });
      job.after.splice(0, job.after.length, ...kept);
    }
  }

  private pump(): void {
    if (this.writing || this.stopped) return;
    const job = this.jobs[0];
    if (job === undefined) return;
    this.writing = true;
    const startedAtMs = this.opts.clock.now();
    const finished = (error: ShoalError | undefined): void => {
      this.writing = false;
      if (this.stopped) return;
      if (error !== undefined) return this.fail(error);
      const tookMs = this.opts.clock.now() - startedAtMs;
      this.counters.writes += this.log === undefined ? job.writes.length : 1;
      this.counters.persistedRecords += job.records.length;
      this.counters.writeMsTotal += tookMs;
      this.counters.writeMsMax = Math.max(this.counters.writeMsMax, tookMs);
      this.jobs.shift();
      this.waitingEffects -= job.after.length;
      this.complete(job);
      this.pump();
    };
    // A merged job's records are fixed once it starts: later steps queue a new job behind it.
    if (this.log === undefined) this.writeAll(job.writes, 0, finished);
    else this.log.append(job.records, finished);
  }

  private writeAll(
    writes: readonly DurableWrite[],
    index: number,
    done: (error: ShoalError | undefined) => void,
  ): void {
    const write = writes[index];
    if (write === undefined) return done(undefined);
    this.opts.storage.writeDurable(write.path, write.data, (error) => {
      if (error !== undefined) return done(error);
      this.writeAll(writes, index + 1, done);
    });
  }

  /** The job is durable: its waiting effects go out, then the core learns what is on disk. */
  private complete(job: WriteJob<T>): void {
    const now = this.opts.clock.now();
    const input: CoreInput<T> = { kind: 'persisted', now, records: job.records };
    this.opts.onBoundary?.({ kind: 'durable', records: job.records });
    if (this.stopped) return;
    this.stepping = true;
    try {
      for (const effect of job.after) this.perform(effect, input, 'out');
    } finally {
      this.stepping = false;
    }
    this.input(input);
  }

  private fail(error: ShoalError): void {
    this.counters.writeErrors++;
    this.opts.onTrace?.(`fatal ${error.code}: ${error.message}`);
    this.stop();
    this.opts.onFatal?.(error);
  }

  // ---- time ----

  /**
   * Keeps one timer, at or before the core's next deadline: a timer armed for an earlier time
   * stays (see `fire`); one armed for a later time is replaced.
   */
  private arm(): void {
    if (this.stopped) return;
    const deadline = this.opts.protocol.core.nextDeadline(this.current);
    if (deadline === undefined) return;
    if (this.timer !== undefined && this.timerAtMs !== undefined && this.timerAtMs <= deadline)
      return;
    this.timer?.cancel();
    this.setTimerAt(deadline);
  }

  private setTimerAt(atMs: Millis): void {
    this.timerAtMs = atMs;
    const delayMs = Math.max(0, atMs - this.opts.clock.now()) as Millis;
    this.timer = this.opts.clock.setTimer(delayMs, () => this.fire());
  }

  /** The timer fired: a tick when the core's deadline is due, else the timer again for it. */
  private fire(): void {
    this.timer = undefined;
    this.timerAtMs = undefined;
    if (this.stopped) return;
    const deadline = this.opts.protocol.core.nextDeadline(this.current);
    if (deadline === undefined) return;
    const now = this.opts.clock.now();
    if (now < deadline) return this.setTimerAt(deadline);
    this.input({ kind: 'tick', now });
  }
}
