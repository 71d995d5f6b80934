/**
 * A FIFO with a fixed capacity that drops its OLDEST entry when full (TigerBeetle: a named limit
 * on every queue). Used for per-peer stream send queues: when a peer is slow or unreachable the
 * newest messages (the freshest membership state) are the ones worth keeping.
 */
import { assertSafeInt } from '../base/assert.js';

export class DropOldestQueue<T> {
  /** Ring buffer storage; `head` is the oldest entry, `size` entries follow it. */
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    assertSafeInt(capacity, 'DropOldestQueue capacity', 1);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Appends `item`; returns the entry evicted to make room, if the queue was full. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.size === this.capacity) evicted = this.shift();
    this.items[(this.head + this.size) % this.capacity] = item;
    this.size++;
    return evicted;
  }

  /** The oldest entry without removing it. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }

  /** Removes every entry; returns how many there were. */
  clear(): number {
    const count = this.size;
    while (this.size > 0) this.shift();
    return count;
  }
}
