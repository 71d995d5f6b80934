/**
 * The simulator's event queue: a binary min-heap ordered by (timeMs, seq). `seq` is a global
 * insertion counter, so events due at the same virtual millisecond run in the order they were
 * scheduled: the tie-break that makes every run of one seed identical (a sorted array would give
 * the same order but costs O(n) per insert, too slow for 10,000 simulated members).
 *
 * Cancelled events stay in the heap and are skipped when popped (lazy deletion); `compact`
 * rebuilds the heap without them when they pile up.
 */

export interface SimEvent {
  /** Mutable only so that resuming a paused owner can re-queue the same event (its handle stays valid). */
  timeMs: number;
  seq: number;
  readonly callback: () => void;
  /** The node whose process runs this event (pause parks it, crash kills it); undefined: the harness. */
  readonly owner: string | undefined;
  /** The owner's life epoch when scheduled; a crash bumps the epoch, which kills older events. */
  readonly ownerEpoch: number;
  cancelled: boolean;
  /** True while parked outside the heap because its owner is paused. */
  parked: boolean;
  /** For a node clock's timer: the local time it waits for (a clock step re-times it). */
  readonly localTargetMs?: number | undefined;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}

export class EventHeap {
  private items: SimEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): SimEvent | undefined {
    return this.items[0];
  }

  push(event: SimEvent): void {
    const items = this.items;
    items.push(event);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as SimEvent;
      if (!before(event, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = event;
  }

  pop(): SimEvent | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    this.siftDown(0, last);
    return top;
  }

  /** Calls `visit` on every queued event (it may change `timeMs`), then restores the heap property in O(n). */
  retime(visit: (event: SimEvent) => void): void {
    for (const event of this.items) visit(event);
    this.compact(() => true);
  }

  /** Drops every event for which `keep` is false and restores the heap property in O(n). */
  compact(keep: (event: SimEvent) => boolean): void {
    this.items = this.items.filter(keep);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--)
      this.siftDown(i, this.items[i] as SimEvent);
  }

  private siftDown(start: number, event: SimEvent): void {
    const items = this.items;
    const n = items.length;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(items[right] as SimEvent, items[left] as SimEvent)) child = right;
      const c = items[child] as SimEvent;
      if (!before(c, event)) break;
      items[i] = c;
      i = child;
    }
    items[i] = event;
  }
}
