/**
 * Records what clients saw, for the checker: each call with its time, then its answer, or
 * nothing when it timed out. Used by simulator scenarios (virtual time) and by bench clients of
 * real processes (performance.now() in one process: one clock for every client, as the checker
 * requires).
 *
 * What the caller must tell apart: `ok` (the answer arrived), `timedOut` (no answer: the
 * operation may have taken effect, now or later, so it stays open), and `failed` (a refusal that
 * guarantees no effect, such as "not leader" before anything was proposed: the operation is
 * dropped). When unsure, `timedOut` is always safe; `failed` on an operation that did take effect
 * makes a correct system look wrong.
 */
import { assert } from '../../base/assert.js';
import { HISTORY_OPERATIONS_MAX, type KvHistory } from './history-file.js';
import type { KvInput, KvOutput } from './kv-model.js';
import type { Operation } from './model.js';

type Slot = { op: Operation<KvInput, KvOutput>; state: 'open' | 'done' | 'failed' };

export class HistoryRecorder {
  private readonly slots: Slot[] = [];
  /** Calls not recorded because the history was full (HISTORY_OPERATIONS_MAX). */
  dropped = 0;

  constructor(
    private readonly nowMs: () => number,
    private readonly operationsMax = HISTORY_OPERATIONS_MAX,
  ) {}

  /** Records a call; returns its handle, or -1 when the history is full (the call is counted in `dropped`). */
  invoke(clientId: number, input: KvInput): number {
    if (this.slots.length >= this.operationsMax) {
      this.dropped++;
      return -1;
    }
    this.slots.push({ op: { clientId, input, callMs: this.nowMs() }, state: 'open' });
    return this.slots.length - 1;
  }

  /** The answer arrived. */
  ok(handle: number, output: KvOutput): void {
    const slot = this.open(handle);
    if (slot === undefined) return;
    slot.op = { ...slot.op, returnMs: this.nowMs(), output };
    slot.state = 'done';
  }

  /** No answer, and the operation may have taken effect: it stays open for ever. */
  timedOut(handle: number): void {
    const slot = this.open(handle);
    if (slot !== undefined) slot.state = 'done';
  }

  /** Refused with a guarantee of no effect: left out of the history. */
  failed(handle: number): void {
    const slot = this.open(handle);
    if (slot !== undefined) slot.state = 'failed';
  }

  private open(handle: number): Slot | undefined {
    if (handle === -1) return undefined;
    const slot = this.slots[handle];
    assert(slot !== undefined, `recorder: unknown handle ${handle}`);
    assert(slot.state === 'open', `recorder: operation ${handle} was already completed`);
    return slot;
  }

  /** Answered operations, and open ones (which count as timed out). */
  operations(): Operation<KvInput, KvOutput>[] {
    return this.slots.filter((s) => s.state !== 'failed').map((s) => s.op);
  }

  /** Operations answered so far. */
  answered(): number {
    return this.slots.reduce((n, s) => n + (s.op.returnMs === undefined ? 0 : 1), 0);
  }

  toHistory(source: string): KvHistory {
    return { model: 'kv', source, operations: this.operations() };
  }
}
