/**
 * SimClock: the simulator's one virtual clock and event loop (TigerBeetle's VOPR, FoundationDB's
 * simulation). Nothing real: time moves only when the next event runs, straight to its time.
 *
 * - Order: (timeMs, insertion seq), via `EventHeap`; same-time events run in schedule order.
 * - Owners: an event may belong to a node (`owner`). A paused owner's events are parked and run
 *   at the resume time, in their original order (a SIGSTOPped process fires its overdue timers
 *   when continued); a killed owner's events are dropped (a crashed process's timers die with it).
 * - Skew: `nodeClock(owner, { skewMs, driftPpm })` is a per-node view whose `now()` is offset and
 *   drifted from global time (still monotonic) and whose timers fire at the global time when
 *   the *local* deadline is reached.
 * - Bounds: every run loop takes a named `eventsMax`.
 */
import { assert, assertSafeInt } from '../base/assert.js';
import type { Clock, Millis, TimerHandle } from '../base/time.js';
import { EventHeap, type SimEvent } from './heap.js';

export interface RunBounds {
  /** Most events this call may run; the loop stops with `events_max` when reached. */
  eventsMax: number;
  /** Called after each event; returning true stops the loop with `hook`. */
  afterEvent?: () => boolean;
}

/** Why a run loop returned. */
export type RunStop = 'time' | 'idle' | 'events_max' | 'hook';

export interface RunOutcome {
  events: number;
  stop: RunStop;
}

/** Per-node clock error: a fixed offset plus a rate error in parts per million. */
export interface SkewOptions {
  skewMs: number;
  driftPpm: number;
}

/** Largest |driftPpm| a node clock accepts (10%): keeps local time safe-integer maths exact. */
export const DRIFT_PPM_MAX = 100_000;

/**
 * A scheduled event is its own TimerHandle: one object per event instead of an event, a handle
 * and a closure (the simulator schedules millions of them at 10,000 members).
 */
class ScheduledEvent implements SimEvent, TimerHandle {
  cancelled = false;
  parked = false;

  constructor(
    private readonly onCancel: (event: ScheduledEvent) => void,
    public timeMs: number,
    public seq: number,
    readonly callback: () => void,
    readonly owner: string | undefined,
    readonly ownerEpoch: number,
    readonly localTargetMs: number | undefined,
  ) {}

  cancel(): void {
    this.onCancel(this);
  }
}

/** Compaction threshold: rebuild the heap once this many cancelled events sit in it (and half of it). */
const CANCELLED_COMPACT_MIN = 1024;

export class SimClock implements Clock {
  private nowMs = 0;
  private seq = 0;
  private cancelledInHeap = 0;
  private readonly heap = new EventHeap();
  private readonly paused = new Set<string>();
  private readonly parked = new Map<string, SimEvent[]>();
  private readonly epochs = new Map<string, number>();
  private readonly cancelEvent = (event: ScheduledEvent): void => this.cancel(event);
  /** Events run since construction (parked, cancelled and killed events not counted). */
  eventsRun = 0;

  now(): Millis {
    return this.nowMs as Millis;
  }

  setTimer(delayMs: Millis, callback: () => void): TimerHandle {
    return this.at(this.nowMs + delayMs, callback);
  }

  /**
   * Schedules `callback` at global time `timeMs` (never earlier than now), owned by `owner`;
   * `localTargetMs` is the owner's local time it stands for (a node clock's timer).
   */
  at(timeMs: number, callback: () => void, owner?: string, localTargetMs?: number): TimerHandle {
    assertSafeInt(timeMs, 'SimClock.at timeMs');
    const event = new ScheduledEvent(
      this.cancelEvent,
      Math.max(timeMs, this.nowMs),
      this.seq++,
      callback,
      owner,
      owner === undefined ? 0 : this.epochOf(owner),
      localTargetMs,
    );
    this.heap.push(event);
    return event;
  }

  /**
   * Moves `owner`'s queued node-clock timers to `globalFor(localTargetMs)` (never before now):
   * its clock stepped, so its timers are due at other global times. Order among them is kept.
   */
  retimeOwner(owner: string, globalFor: (localMs: number) => number): void {
    this.heap.retime((event) => {
      if (event.owner !== owner || event.localTargetMs === undefined || this.isDead(event)) return;
      event.timeMs = Math.max(this.nowMs, globalFor(event.localTargetMs));
    });
  }

  /** Events waiting in the queue (cancelled ones not yet compacted included) plus parked ones. */
  pendingEvents(): number {
    let parked = 0;
    for (const list of this.parked.values()) parked += list.filter((e) => !e.cancelled).length;
    return this.heap.size - this.cancelledInHeap + parked;
  }

  /** The time of the next live event, or undefined when idle. */
  nextEventMs(): number | undefined {
    this.dropDeadHead();
    return this.heap.peek()?.timeMs;
  }

  /** Runs the next live event (parking events of paused owners on the way). False when idle. */
  step(): boolean {
    for (;;) {
      this.dropDeadHead();
      const event = this.heap.pop();
      if (event === undefined) return false;
      this.nowMs = event.timeMs;
      if (event.owner !== undefined && this.paused.has(event.owner)) {
        event.parked = true;
        this.parkedOf(event.owner).push(event);
        continue;
      }
      event.cancelled = true; // it has run: a later cancel() is a no-op
      this.eventsRun++;
      event.callback();
      return true;
    }
  }

  /** Runs every event due at or before `timeMs`, then advances now to `timeMs`. */
  runUntil(timeMs: number, bounds: RunBounds): RunOutcome {
    assertSafeInt(timeMs, 'SimClock.runUntil timeMs', this.nowMs);
    let events = 0;
    for (;;) {
      const next = this.nextEventMs();
      if (next === undefined || next > timeMs) break;
      if (events >= bounds.eventsMax) return { events, stop: 'events_max' };
      if (this.step()) events++;
      if (bounds.afterEvent?.() === true) return { events, stop: 'hook' };
    }
    this.nowMs = timeMs;
    return { events, stop: 'time' };
  }

  /** Runs events until none is left (parked ones stay parked). */
  runUntilIdle(bounds: RunBounds): RunOutcome {
    let events = 0;
    for (;;) {
      if (this.nextEventMs() === undefined) return { events, stop: 'idle' };
      if (events >= bounds.eventsMax) return { events, stop: 'events_max' };
      if (this.step()) events++;
      if (bounds.afterEvent?.() === true) return { events, stop: 'hook' };
    }
  }

  /** From now on, `owner`'s events are parked instead of run. */
  pauseOwner(owner: string): void {
    this.paused.add(owner);
  }

  /** Re-queues `owner`'s parked events at the current time, in their original order. */
  resumeOwner(owner: string): void {
    if (!this.paused.delete(owner)) return;
    const list = this.parked.get(owner) ?? [];
    this.parked.delete(owner);
    for (const event of list) {
      if (event.cancelled) continue;
      // The same object goes back, so a handle cancelled later still cancels it.
      event.parked = false;
      event.timeMs = this.nowMs;
      event.seq = this.seq++;
      this.heap.push(event);
    }
  }

  isPaused(owner: string): boolean {
    return this.paused.has(owner);
  }

  /** Kills every pending and parked event of `owner` (a crash); it stays paused if it was. */
  killOwner(owner: string): void {
    this.epochs.set(owner, this.epochOf(owner) + 1);
    this.parked.delete(owner);
  }

  /** A per-node clock view whose timers belong to `owner`. */
  nodeClock(owner: string, skew: SkewOptions = { skewMs: 0, driftPpm: 0 }): NodeClock {
    return new NodeClock(this, owner, skew);
  }

  private epochOf(owner: string): number {
    return this.epochs.get(owner) ?? 0;
  }

  private parkedOf(owner: string): SimEvent[] {
    let list = this.parked.get(owner);
    if (list === undefined) {
      list = [];
      this.parked.set(owner, list);
    }
    return list;
  }

  private isDead(event: SimEvent): boolean {
    return (
      event.cancelled ||
      (event.owner !== undefined && event.ownerEpoch !== this.epochOf(event.owner))
    );
  }

  private dropDeadHead(): void {
    for (
      let head = this.heap.peek();
      head !== undefined && this.isDead(head);
      head = this.heap.peek()
    ) {
      this.heap.pop();
      if (head.cancelled) this.cancelledInHeap--;
      head.cancelled = true; // out of the heap: a later cancel() is a no-op
    }
  }

  private cancel(event: SimEvent): void {
    if (event.cancelled) return;
    event.cancelled = true;
    if (event.parked) return; // not in the heap: resume skips it
    this.cancelledInHeap++;
    if (
      this.cancelledInHeap >= CANCELLED_COMPACT_MIN &&
      this.cancelledInHeap * 2 >= this.heap.size
    ) {
      this.heap.compact((e) => !e.cancelled);
      this.cancelledInHeap = 0;
    }
  }
}

/** Most fix-up steps when inverting the local-time function (float rounding is off by at most a few ms). */
const INVERT_STEPS_MAX = 64;

/** A node's view of virtual time: offset by `skewMs`, running `driftPpm` fast (or slow). */
export class NodeClock implements Clock {
  private steppedMs = 0;

  constructor(
    private readonly sim: SimClock,
    readonly owner: string,
    private readonly skew: SkewOptions,
  ) {
    assertSafeInt(Math.abs(skew.skewMs), 'NodeClock |skewMs|');
    assertSafeInt(Math.abs(skew.driftPpm), 'NodeClock |driftPpm|', 0, DRIFT_PPM_MAX);
  }

  now(): Millis {
    return this.localAt(this.sim.now()) as Millis;
  }

  /**
   * Local time at global time `globalMs`: floor(g * (1 + drift)) + skew + the steps so far,
   * clamped at 0; nondecreasing in g.
   */
  localAt(globalMs: number): number {
    return Math.max(
      0,
      globalMs +
        Math.floor((globalMs * this.skew.driftPpm) / 1_000_000) +
        this.skew.skewMs +
        this.steppedMs,
    );
  }

  /**
   * The clock one process life reads: this node clock from a new origin, so it starts near 0
   * at boot as `performance.now()` does (SystemClock). A restarted process never sees its
   * previous life's times, and a peer must not assume they continue.
   */
  life(): Clock {
    const originMs = this.now() as number;
    return {
      now: () => ((this.now() as number) - originMs) as Millis,
      setTimer: (delayMs, callback) => this.setTimer(delayMs, callback),
    };
  }

  /** Fires when this node's local clock reaches now() + delayMs. */
  setTimer(delayMs: Millis, callback: () => void): TimerHandle {
    const targetLocalMs = this.localAt(this.sim.now()) + delayMs;
    return this.sim.at(this.globalFor(targetLocalMs), callback, this.owner, targetLocalMs);
  }

  /**
   * The clock steps forward by `byMs` at once (a VM resumed after a host pause, a suspend the
   * monotonic clock saw): every timer whose local deadline it passes fires now, the others
   * come sooner. Never backward: production reads a monotonic clock (SystemClock), which
   * cannot step back, and no core reads wall time.
   */
  step(byMs: number): void {
    assertSafeInt(byMs, 'NodeClock.step byMs', 0);
    this.steppedMs += byMs;
    this.sim.retimeOwner(this.owner, (localMs) => this.globalFor(localMs));
  }

  /** The earliest global time, not before now, at which local time reaches `localMs`. */
  private globalFor(localMs: number): number {
    const nowMs = this.sim.now() as number;
    // Already reached (a 0 ms timer, or a local clock still clamped at 0 by a negative skew):
    // fire now. Inverting through the clamped flat region would walk back over it step by step.
    if (this.localAt(nowMs) >= localMs) return nowMs;
    const estimate = Math.ceil(
      (localMs - this.skew.skewMs - this.steppedMs) / (1 + this.skew.driftPpm / 1_000_000),
    );
    let g = Math.max(nowMs, estimate);
    let steps = 0;
    while (this.localAt(g) < localMs) {
      g++;
      assert(
        ++steps <= INVERT_STEPS_MAX,
        `NodeClock(${this.owner}): cannot reach local time ${localMs}`,
      );
    }
    while (g > nowMs && this.localAt(g - 1) >= localMs) {
      g--;
      assert(
        ++steps <= INVERT_STEPS_MAX,
        `NodeClock(${this.owner}): cannot invert local time ${localMs}`,
      );
    }
    return g;
  }
}
